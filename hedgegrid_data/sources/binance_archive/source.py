"""The Binance archive as a feed's ``Source``: how its files are fetched and verified, whether a day is
published yet (its ``.CHECKSUM`` answers), and whether a fetched file was re-published (the listing's size,
ETag or Last-Modified differ from the provenance kept beside the file)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgegrid_data.feeds.feed import CheckSpec, Feed, Republication
from hedgegrid_data.sources.binance_archive.download import VerifiedFile
from hedgegrid_data.sources.binance_archive.layout import SOURCE, ArchiveFile, folder_of
from hedgegrid_data.sources.binance_archive.listing import (
    ArchiveListing,
    ListedObject,
    PublicationProbe,
    marker_before,
)
from hedgegrid_data.sources.http import Served
from hedgegrid_data.sources.provenance import Provenance, version_of
from hedgegrid_data.sources.provenance import republication_change as served_change
from hedgegrid_data.store import DataStore

if TYPE_CHECKING:  # Dagster glue: only the asset factory and automation call into it
    from dagster import AssetsDefinition

    from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource, BinanceListingResource


def _served(listed: ListedObject) -> Served:
    """A listing entry as what the archive serves now."""
    return Served(listed.size, listed.etag, listed.last_modified.isoformat() if listed.last_modified else None)


def republication_change(provenance: Provenance, listed: ListedObject) -> str | None:
    """Why the listed object differs from what was downloaded, or None when it is the same file."""
    return served_change(provenance, _served(listed))


def listed_version(listed: ListedObject) -> str:
    """A listed file's version: its ETag (else Last-Modified) and size."""
    return version_of(_served(listed))


def _file_metadata(verified: VerifiedFile, tag: str) -> dict[str, object]:
    return {f"{tag}{key}": value for key, value in {
        "period": verified.archive_file.period, **verified.provenance.metadata(verified.path),
        "reused_local_copy": verified.reused}.items()}


def _listed_zips(listing: Iterator[ListedObject], last_key: str) -> Iterator[ListedObject]:
    """Listing entries up to ``last_key`` (the listing is sorted), archive zips only."""
    for listed in itertools.takewhile(lambda o: o.key <= last_key, listing):
        if listed.key.endswith(".zip"):
            yield listed


class BinanceArchiveSource:
    """data.binance.vision (or a mirror of it): zips verified against their published sha256."""

    name = SOURCE
    resource_key = "binance_archive"
    listing_resource_key = "binance_listing"
    kinds = frozenset({"binance", "zip"})
    pool = "binance_http"
    raw_check = CheckSpec("checksum_verified", True, "Every file's sha256 equals its published .CHECKSUM.")

    def raw_root(self, store: DataStore) -> Path:
        return store.raw

    def file_key(self, file: ArchiveFile) -> str:
        return file.key

    def probe_key(self, file: ArchiveFile) -> str:
        return file.checksum_key

    def fetch(self, resource: BinanceArchiveResource, raw_root: Path,
              files: Sequence[ArchiveFile]) -> tuple[dict[str, object], dict[str, object]]:
        """Metadata keys are plain for one file and prefixed by the kline interval (``1m_url``) for several."""
        with resource.open(raw_root) as archive:
            verified = [archive.fetch_verified(f) for f in files]
        metadata: dict[str, object] = {}
        for v in verified:
            metadata.update(_file_metadata(v, f"{v.archive_file.interval}_" if v.archive_file.interval else ""))
        return metadata, {v.archive_file.file_name: v.provenance.sha256 for v in verified}

    def probe(self, resource: BinanceArchiveResource) -> PublicationProbe:
        return resource.probe()

    def republished(self, listing_resource: BinanceListingResource, raw_root: Path, files: Mapping[str, ArchiveFile],
                    log: Any) -> Iterator[Republication]:
        """List each folder of ``files`` from its first file on, compare each listed file with its provenance."""
        by_folder: dict[str, list[str]] = {}
        for key in sorted(files):
            by_folder.setdefault(folder_of(key), []).append(key)
        without_provenance = 0
        with listing_resource.open() as listing:
            for folder, keys in by_folder.items():
                seen: set[str] = set()
                for listed in _listed_zips(_objects(listing, folder, keys[0]), keys[-1]):
                    if listed.key not in files:
                        continue
                    seen.add(listed.key)
                    provenance = Provenance.read(raw_root / listed.key)
                    if provenance is None:
                        without_provenance += 1
                        continue
                    change = republication_change(provenance, listed)
                    if change is not None:
                        yield Republication(listed.key, listed_version(listed), change)
                missing = sorted(set(keys) - seen)
                if missing:
                    log.warning(f"{len(missing)} materialized file(s) no longer listed: {missing[:3]}")
        if without_provenance:
            log.warning(f"{without_provenance} listed file(s) without provenance were not compared")

    def extra_assets(self, feed: Feed) -> list[AssetsDefinition]:
        from hedgegrid_data.sources.binance_archive.universe import build_universe_asset

        return [build_universe_asset(feed)]


def _objects(listing: ArchiveListing, folder: str, first_key: str) -> Iterator[ListedObject]:
    return listing.objects(folder, marker=marker_before(first_key))


BINANCE_ARCHIVE = BinanceArchiveSource()
