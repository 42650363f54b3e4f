"""Bybit's archive as a feed's ``Source``: files fetched by key and verified by their own gzip trailers, a day
published when its file answers a HEAD, and a fetched file re-published when what is served now has another
size or ETag (or, from a mirror without ETags, a later Last-Modified) than its provenance records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgegrid_data.errors import DownloadError
from hedgegrid_data.feeds.feed import CheckSpec, Feed, Republication
from hedgegrid_data.sources.bybit_archive.layout import SOURCE, BybitFile
from hedgegrid_data.sources.http import HttpEndpoint, Served
from hedgegrid_data.sources.provenance import Provenance, republication_change, version_of
from hedgegrid_data.store import DataStore

if TYPE_CHECKING:  # Dagster glue: only the asset factory and automation call into it
    from dagster import AssetsDefinition

    from hedgegrid_data.sources.bybit_archive.resources import BybitArchiveResource

HEADS_IN_FLIGHT = 8


class BybitArchiveSource:
    """public.bybit.com (or a mirror of it): daily gzip CSVs, verified by gzip's CRC-32 and length."""

    name = SOURCE
    resource_key = "bybit_archive"
    listing_resource_key = "bybit_archive"  # no listing to trust: the archive is asked file by file (HEAD)
    kinds = frozenset({"bybit", "gzip"})
    pool = "bybit_http"
    raw_check = CheckSpec("gzip_verified", True, "The file inflates whole and every gzip member's CRC-32 and length "
                                                 "match (Bybit publishes no checksum); sha256, size, ETag and "
                                                 "Last-Modified are recorded.")

    def raw_root(self, store: DataStore) -> Path:
        return store.raw / SOURCE

    def file_key(self, file: BybitFile) -> str:
        return file.key

    def probe_key(self, file: BybitFile) -> str:
        return file.key

    def fetch(self, resource: BybitArchiveResource, raw_root: Path,
              files: Sequence[BybitFile]) -> tuple[dict[str, object], dict[str, object]]:
        with resource.open(raw_root) as archive:
            verified = [archive.fetch_verified(f) for f in files]
        metadata: dict[str, object] = {}
        for v in verified:
            facts = v.provenance.metadata(v.path)
            metadata |= facts if len(verified) == 1 else {f"{v.file.file_name}_{k}": value
                                                          for k, value in facts.items()}
        return metadata, {v.file.file_name: {"sha256": v.provenance.sha256, **v.provenance.verified}
                          for v in verified}

    def probe(self, resource: BybitArchiveResource) -> HttpEndpoint:
        return resource.probe()

    def republished(self, resource: BybitArchiveResource, raw_root: Path, files: Mapping[str, BybitFile],
                    log: Any) -> Iterator[Republication]:
        """HEAD every fetched file (the archive has no listing to trust; a few requests in flight, as a symbol
        has a file per day); a different size or ETag than its provenance is a re-publication."""
        read = {key: Provenance.read(raw_root / key) for key in sorted(files)}
        known = {key: provenance for key, provenance in read.items() if provenance is not None}
        without_provenance = len(read) - len(known)
        unanswered, gone = [], []

        def ask(archive: HttpEndpoint, key: str) -> Served | None | DownloadError:
            try:
                return archive.served(key)
            except DownloadError as exc:
                return exc

        with resource.probe() as archive, ThreadPoolExecutor(HEADS_IN_FLIGHT) as pool:
            for (key, provenance), served in zip(known.items(), pool.map(lambda key: ask(archive, key), known),
                                                 strict=True):
                if isinstance(served, DownloadError):
                    unanswered.append(str(served))
                    continue
                if served is None:
                    gone.append(key)
                    continue
                change = republication_change(provenance, served)
                if change is not None:
                    yield Republication(key, version_of(served), change)
        if gone:
            log.warning(f"{len(gone)} fetched file(s) no longer served: {gone[:3]}")
        if unanswered:
            log.warning(f"could not ask about {len(unanswered)} file(s): {unanswered[:3]}")
        if without_provenance:
            log.warning(f"{without_provenance} fetched file(s) without provenance were not compared")

    def extra_assets(self, feed: Feed) -> list[AssetsDefinition]:
        return []


BYBIT_ARCHIVE = BybitArchiveSource()
