"""Dagster resources of the Binance archive source: the archive to download from
(``HEDGEGRID_BINANCE_URL``) and its listing to compare against (``HEDGEGRID_BINANCE_LISTING_URL``).

Both URLs may carry credentials (``http://user:password@mirror/``): ``default_archive_resources`` configures them
as ``EnvVar``s, so the UI and the run storage show the variables' names.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from hedgegrid_data import settings
from hedgegrid_data.sources.binance_archive.download import BinanceArchive
from hedgegrid_data.sources.binance_archive.listing import ArchiveListing, PublicationProbe
from hedgegrid_data.sources.http import RetryPolicy


class BinanceArchiveResource(ConfigurableResource):
    """Binance archive base: an http(s) URL or a local mirror directory (``HEDGEGRID_BINANCE_URL``)."""

    base_url: str = settings.DEFAULT_BINANCE_URL
    download_attempts: int = 5

    def open(self, raw_root: Path) -> BinanceArchive:
        return BinanceArchive(self.base_url, raw_root, retry=RetryPolicy(attempts=self.download_attempts))

    def probe(self) -> PublicationProbe:
        return PublicationProbe(self.base_url)


class BinanceListingResource(ConfigurableResource):
    """The archive's S3 ListObjects endpoint, or a local mirror directory in the archive's key layout."""

    listing_url: str = settings.DEFAULT_BINANCE_LISTING_URL

    def open(self) -> ArchiveListing:
        return ArchiveListing(self.listing_url)


def default_archive_resources() -> dict[str, ConfigurableResource]:
    """The archive and its listing as configured by the environment (see ``settings.binance_listing_url``)."""
    base = settings.resource_env("HEDGEGRID_BINANCE_URL", settings.DEFAULT_BINANCE_URL)
    listing_default = base if settings.is_local_base(settings.binance_url()) else settings.DEFAULT_BINANCE_LISTING_URL
    return {"binance_archive": BinanceArchiveResource(base_url=base),
            "binance_listing": BinanceListingResource(
                listing_url=settings.resource_env("HEDGEGRID_BINANCE_LISTING_URL", listing_default))}
