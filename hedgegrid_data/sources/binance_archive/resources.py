"""Resources the automation adds: the archive listing to compare against (``HEDGEGRID_BINANCE_LISTING_URL``)."""

from __future__ import annotations

from dagster import ConfigurableResource

from hedgegrid_data.automation import config
from hedgegrid_data.sources.binance_archive.listing import ArchiveListing


class BinanceListingResource(ConfigurableResource):
    """The archive's S3 ListObjects endpoint, or a local mirror directory in the archive's key layout."""

    listing_url: str = config.DEFAULT_LISTING_URL

    def open(self) -> ArchiveListing:
        return ArchiveListing(self.listing_url)


def default_listing_resource() -> BinanceListingResource:
    return BinanceListingResource(listing_url=config.listing_url())
