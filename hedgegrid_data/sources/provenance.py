"""Provenance of a verified raw file: where it came from and what it was (URL, sha256, size, ETag,
Last-Modified, fetch time, and facts the source verified), kept beside it as ``<file>.provenance.json``; and
whether what a source serves now is another version of it (a re-publication)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.errors import DownloadError
from hedgegrid_data.secrets import redact_url
from hedgegrid_data.sources.http import HttpEndpoint, Served, normalize_etag, parse_timestamp

if TYPE_CHECKING:
    from hedgegrid_data.feeds.feed import Republication

HEADS_IN_FLIGHT = 8


@dataclass(frozen=True)
class Provenance:
    url: str
    sha256: str
    size: int
    etag: str | None
    last_modified: str | None
    fetched_at: str
    verified: dict[str, object] = field(default_factory=dict)  # what the source checked (gzip CRC-32, length)

    @staticmethod
    def path_for(path: Path) -> Path:
        return path.with_name(path.name + ".provenance.json")

    @classmethod
    def read(cls, path: Path) -> Provenance | None:
        sidecar = cls.path_for(path)
        return cls(**json.loads(sidecar.read_text())) if sidecar.exists() else None

    def write(self, path: Path) -> None:
        atomic_write_bytes(self.path_for(path), json.dumps(asdict(self), indent=2).encode())

    def metadata(self, path: Path) -> dict[str, object]:
        """The verified file kept at ``path`` as raw-asset metadata (its URL with credentials masked)."""
        return {"url": redact_url(self.url), "sha256": self.sha256, "bytes": self.size, "etag": self.etag or "",
                "last_modified": self.last_modified or "", "fetched_at": self.fetched_at, **self.verified,
                "path": path}

    @property
    def version(self) -> str:
        return version_of(Served(self.size, self.etag, self.last_modified))


class FetchedFile(Protocol):
    """A file a source fetched and verified: where it is and its provenance (``file.file_name`` names it)."""

    path: Path
    provenance: Provenance
    file: Any


def fetch_metadata(verified: list[FetchedFile]) -> tuple[dict[str, object], dict[str, object]]:
    """A raw asset's metadata (one file's facts, or each file's prefixed by its name) and its check's metadata
    (each file's sha256 and what was verified)."""
    metadata: dict[str, object] = {}
    for v in verified:
        facts = v.provenance.metadata(v.path)
        metadata |= facts if len(verified) == 1 else {f"{v.file.file_name}_{k}": value for k, value in facts.items()}
    return metadata, {v.file.file_name: {"sha256": v.provenance.sha256, **v.provenance.verified} for v in verified}


def sha256_of(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), path.stat().st_size


def now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def version_of(served: Served) -> str:
    """A served file's version: its ETag (else Last-Modified) and size."""
    return f"{normalize_etag(served.etag) or served.last_modified or ''}:{served.size}"


def republication_change(provenance: Provenance, served: Served) -> str | None:
    """Why the served file differs from the one fetched, or None when it is the same.

    Size always counts. With an ETag on both sides the ETag decides (an identical re-upload keeps it).
    Without one (a local mirror) a later Last-Modified counts.
    """
    if served.size is not None and served.size != provenance.size:
        return f"size {provenance.size} → {served.size}"
    before, now = normalize_etag(provenance.etag), normalize_etag(served.etag)
    if before and now:
        return None if before == now else f"ETag {before} → {now}"
    known, latest = parse_timestamp(provenance.last_modified), parse_timestamp(served.last_modified)
    if known is not None and latest is not None and latest.replace(microsecond=0) > known.replace(microsecond=0):
        return f"Last-Modified {provenance.last_modified} → {served.last_modified}"
    return None


def republished_by_head(endpoint: HttpEndpoint, raw_root: Path, keys: Iterable[str],
                        log: Any) -> Iterator[Republication]:
    """Sources without a listing to trust: HEAD every fetched file (``keys`` under ``raw_root``, asked of
    ``endpoint`` by the same key; a few requests in flight); a different size or ETag than its provenance is a
    re-publication. Files gone, unanswered or without provenance are logged."""
    from hedgegrid_data.feeds.feed import Republication

    read = {key: Provenance.read(raw_root / key) for key in sorted(keys)}
    known = {key: provenance for key, provenance in read.items() if provenance is not None}
    without_provenance = len(read) - len(known)
    unanswered, gone = [], []

    def ask(key: str) -> Served | None | DownloadError:
        try:
            return endpoint.served(key)
        except DownloadError as exc:
            return exc

    with ThreadPoolExecutor(HEADS_IN_FLIGHT) as pool:
        for (key, provenance), served in zip(known.items(), pool.map(ask, known), strict=True):
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
