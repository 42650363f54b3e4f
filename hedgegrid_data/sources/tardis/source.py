"""Tardis as feeds' ``Source``s, kept apart in every path (``tardis``, ``tardis_replay``):

- datasets: files fetched by key with the API key (or free days without one), verified by their own gzip
  trailers; a day published when its file answers a HEAD; a fetched file re-published when what is served now has
  another size or ETag than its provenance records;
- replay: a day's minutes replayed through tardis-client, verified and kept as one file; never re-published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgegrid_data.feeds.feed import CheckSpec, KeyedFiles, Republication
from hedgegrid_data.sources.http import Served
from hedgegrid_data.sources.provenance import fetch_metadata, republished_by_head
from hedgegrid_data.sources.tardis.download import TardisDatasets
from hedgegrid_data.sources.tardis.layout import REPLAY_SOURCE, SOURCE, DatasetFile, ReplayFile, is_free

if TYPE_CHECKING:
    from hedgegrid_data.sources.tardis.resources import TardisResource


class _DatasetsProbe:
    """HEAD on a dataset key (``v1/`` prefixed by ``key``); a day a keyless deployment cannot fetch: unknown."""

    def __init__(self, endpoint: TardisDatasets):
        self.endpoint = endpoint

    def is_published(self, probe_key: str) -> bool | None:
        year, month, day = probe_key.split("/")[-4:-1]
        if not self.endpoint.has_key and not is_free(dt.date(int(year), int(month), int(day))):
            return None
        return self.endpoint.is_published(f"v1/{probe_key}")


class _V1Endpoint:
    """The datasets endpoint asked by raw key (``served(key)`` → ``HEAD v1/key``)."""

    def __init__(self, endpoint: TardisDatasets):
        self.endpoint = endpoint

    def served(self, key: str) -> Served | None:
        return self.endpoint.served(f"v1/{key}")


class TardisDatasetsSource(KeyedFiles):
    """datasets.tardis.dev: daily gzip CSVs per exchange, data type and symbol."""

    name = SOURCE
    resource_key = "tardis"
    listing_resource_key = "tardis"
    kinds = frozenset({"tardis", "gzip"})
    pool = "tardis_http"
    raw_check = CheckSpec("gzip_verified", True, "The file inflates whole and every gzip member's CRC-32 and length "
                                                 "match (Tardis publishes no checksum); sha256, size, ETag and "
                                                 "Last-Modified are recorded.")

    def fetch(self, resource: TardisResource, raw_root: Path,
              files: Sequence[DatasetFile]) -> tuple[dict[str, object], dict[str, object]]:
        with resource.datasets(raw_root) as datasets:
            verified = [datasets.fetch_verified(f) for f in files]
        return fetch_metadata(verified)

    @contextmanager
    def probe(self, resource: TardisResource) -> Iterator[_DatasetsProbe]:
        with resource.datasets(Path(".")) as datasets:
            yield _DatasetsProbe(datasets)

    def republished(self, resource: TardisResource, raw_root: Path, files: Mapping[str, DatasetFile],
                    log: Any) -> Iterator[Republication]:
        with resource.datasets(raw_root) as datasets:
            yield from republished_by_head(_V1Endpoint(datasets), raw_root, files, log)  # type: ignore[arg-type]


TARDIS_DATASETS = TardisDatasetsSource()


class _ReplayProbe:
    """Tardis replays a day within minutes of its end: a day the deployment may ask for is there; a day a keyless
    deployment cannot ask for is unknown."""

    def __init__(self, has_key: bool):
        self.has_key = has_key

    def is_published(self, probe_key: str) -> bool | None:
        year, month, day = probe_key.split("/")[-4:-1]
        return True if self.has_key or is_free(dt.date(int(year), int(month), int(day))) else None


class TardisReplaySource(KeyedFiles):
    """api.tardis.dev's replay through tardis-client: one raw file per exchange × channel × symbol × day."""

    name = REPLAY_SOURCE
    resource_key = "tardis"
    listing_resource_key = "tardis"
    kinds = frozenset({"tardis", "websocket"})
    pool = "tardis_http"
    raw_check = CheckSpec("minutes_verified", True, "Every replayed minute is a complete gzip whose lines all start "
                                                    "with Tardis' 28-character receive time; kept as one file with "
                                                    "its sha256.")

    def fetch(self, resource: TardisResource, raw_root: Path,
              files: Sequence[ReplayFile]) -> tuple[dict[str, object], dict[str, object]]:
        replay = resource.replay(raw_root)
        verified = [replay.fetch_verified(f) for f in files]
        return fetch_metadata(verified)

    @contextmanager
    def probe(self, resource: TardisResource) -> Iterator[_ReplayProbe]:
        yield _ReplayProbe(bool(resource.api_key))

    def republished(self, resource: TardisResource, raw_root: Path, files: Mapping[str, ReplayFile],
                    log: Any) -> Iterator[Republication]:
        """Recorded messages do not change: nothing is ever re-published."""
        yield from ()


TARDIS_REPLAY = TardisReplaySource()
