"""Bybit's archive as a feed's ``Source``: files fetched by key and verified by their own gzip trailers, a day
published when its file answers a HEAD, and a fetched file re-published when what is served now has another
size or ETag (or, from a mirror without ETags, a later Last-Modified) than its provenance records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgegrid_data.feeds.feed import CheckSpec, KeyedFiles, Republication
from hedgegrid_data.sources.bybit_archive.layout import SOURCE, BybitFile
from hedgegrid_data.sources.http import HttpEndpoint
from hedgegrid_data.sources.provenance import fetch_metadata, republished_by_head

if TYPE_CHECKING:  # Dagster glue: only the asset factory and automation call into it
    from hedgegrid_data.sources.bybit_archive.resources import BybitArchiveResource


class BybitArchiveSource(KeyedFiles):
    """public.bybit.com (or a mirror of it): daily gzip CSVs, verified by gzip's CRC-32 and length."""

    name = SOURCE
    resource_key = "bybit_archive"
    listing_resource_key = "bybit_archive"  # no listing to trust: the archive is asked file by file (HEAD)
    kinds = frozenset({"bybit", "gzip"})
    pool = "bybit_http"
    raw_check = CheckSpec("gzip_verified", True, "The file inflates whole and every gzip member's CRC-32 and length "
                                                 "match (Bybit publishes no checksum); sha256, size, ETag and "
                                                 "Last-Modified are recorded.")

    def fetch(self, resource: BybitArchiveResource, raw_root: Path,
              files: Sequence[BybitFile]) -> tuple[dict[str, object], dict[str, object]]:
        with resource.open(raw_root) as archive:
            verified = [archive.fetch_verified(f) for f in files]
        return fetch_metadata(verified)

    def probe(self, resource: BybitArchiveResource) -> HttpEndpoint:
        return resource.probe()

    def republished(self, resource: BybitArchiveResource, raw_root: Path, files: Mapping[str, BybitFile],
                    log: Any) -> Iterator[Republication]:
        """HEAD every fetched file (the archive has no listing to trust); a different size or ETag than its
        provenance is a re-publication."""
        with resource.probe() as archive:
            yield from republished_by_head(archive, raw_root, files, log)


BYBIT_ARCHIVE = BybitArchiveSource()
