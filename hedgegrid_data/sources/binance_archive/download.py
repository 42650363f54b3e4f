"""Download and verify files of Binance's public archive (data.binance.vision).

A file is kept only after its bytes hash to the published ``.CHECKSUM``; it lands under the raw
store in the archive's own key layout, with a provenance sidecar (URL, sha256, size, ETag,
Last-Modified, fetch time). The base may be an http(s) URL or a local mirror directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Self

import httpx

from hedgegrid_data.atomic import atomic_path, atomic_write_bytes
from hedgegrid_data.errors import (
    ChecksumMismatchError,
    DownloadError,
    NotPublishedError,
)
from hedgegrid_data.settings import is_local_base
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile

CHUNK = 1 << 20


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budget for transient failures (timeouts, 5xx, 429, truncated bodies)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        backoff = min(self.base_delay * 2**attempt, self.max_delay)
        return backoff * random.uniform(0.5, 1.5)


@dataclass(frozen=True)
class Provenance:
    """Where a verified raw file came from; kept beside it as ``<zip>.provenance.json``."""

    url: str
    sha256: str
    size: int
    etag: str | None
    last_modified: str | None
    fetched_at: str

    @staticmethod
    def path_for(zip_path: Path) -> Path:
        return zip_path.with_name(zip_path.name + ".provenance.json")

    @classmethod
    def read(cls, zip_path: Path) -> Provenance | None:
        path = cls.path_for(zip_path)
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


@dataclass(frozen=True)
class VerifiedFile:
    """A raw archive file on disk whose sha256 matched the published CHECKSUM."""

    archive_file: ArchiveFile
    path: Path
    provenance: Provenance
    reused: bool


def parse_checksum(text: str, expected_name: str, source: str) -> str:
    """The sha256 of a CHECKSUM sidecar: ``<64 hex>  <file name>`` with or without trailing newline."""
    parts = text.split()
    if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0].lower()):
        raise ChecksumMismatchError(f"{source}: not a CHECKSUM line: {text[:120]!r}")
    if parts[1] != expected_name:
        raise ChecksumMismatchError(f"{source}: names {parts[1]!r}, expected {expected_name!r}")
    return parts[0].lower()


def retry_after_seconds(response: httpx.Response) -> float | None:
    """A response's ``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - dt.datetime.now(dt.timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return None


class ArchiveEndpoint:
    """The archive at ``base``: an http(s) URL (with a client of its own, closed on exit) or a local mirror."""

    def __init__(self, base: str, timeout: float):
        self.base = base.rstrip("/")
        self.is_local = is_local_base(self.base)
        self._client = None if self.is_local else httpx.Client(timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BinanceArchive(ArchiveEndpoint):
    """Fetches archive files from an http(s) base URL or a local mirror directory into ``raw_root``."""

    def __init__(
        self,
        base: str,
        raw_root: Path,
        *,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 60.0,
    ):
        super().__init__(base, timeout)
        self.raw_root = raw_root
        self.retry = retry

    def url(self, key: str) -> str:
        return f"{self.base}/{key}" if not self.is_local else str(Path(self.base, key).absolute())

    def local_path(self, archive_file: ArchiveFile) -> Path:
        return self.raw_root / archive_file.key

    def fetch_verified(self, archive_file: ArchiveFile) -> VerifiedFile:
        """Download ``archive_file`` and its CHECKSUM, verify, and keep it; reuse an identical local copy."""
        checksum_text = self._get_text(archive_file.checksum_key)
        expected = parse_checksum(checksum_text, archive_file.file_name, self.url(archive_file.checksum_key))
        target = self.local_path(archive_file)
        known = Provenance.read(target)
        if known is not None and known.sha256 == expected and target.exists():
            return VerifiedFile(archive_file, target, known, reused=True)

        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            headers = self._download(archive_file.key, tmp)
            digest, size = _sha256_of(tmp)
            if digest != expected:
                raise ChecksumMismatchError(
                    f"{self.url(archive_file.key)}: sha256 {digest} does not match the published CHECKSUM "
                    f"{expected} ({size} bytes received); nothing was kept"
                )
        provenance = Provenance(
            url=self.url(archive_file.key),
            sha256=digest,
            size=size,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(),
        )
        atomic_write_bytes(target.with_name(target.name + ".CHECKSUM"), checksum_text.encode())
        atomic_write_bytes(Provenance.path_for(target), json.dumps(asdict(provenance), indent=2).encode())
        return VerifiedFile(archive_file, target, provenance, reused=False)

    def _get_text(self, key: str) -> str:
        if self.is_local:
            path = Path(self.url(key))
            if not path.exists():
                raise NotPublishedError(f"{path}: not in the local mirror (not published yet?)")
            return path.read_text()
        response = self._request(key, stream_to=None)
        return response.text

    def _download(self, key: str, dest: Path) -> dict[str, str]:
        if self.is_local:
            source = Path(self.url(key))
            if not source.exists():
                raise NotPublishedError(f"{source}: not in the local mirror (not published yet?)")
            shutil.copyfile(source, dest)
            stat = source.stat()
            mtime = dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)
            return {"last-modified": mtime.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        response = self._request(key, stream_to=dest)
        return {k.lower(): v for k, v in response.headers.items()}

    def _request(self, key: str, stream_to: Path | None) -> httpx.Response:
        """GET with retries; streams the body to ``stream_to`` when given, checking its length."""
        url = self.url(key)
        assert self._client is not None
        failures: list[str] = []
        for attempt in range(self.retry.attempts):
            retry_after = None
            try:
                with self._client.stream("GET", url) as response:
                    if response.status_code in (403, 404):
                        raise NotPublishedError(f"{url}: HTTP {response.status_code}, not published (yet)")
                    if response.status_code == 429 or response.status_code >= 500:
                        retry_after = retry_after_seconds(response)
                        failures.append(f"HTTP {response.status_code}")
                    else:
                        response.raise_for_status()
                        if stream_to is None:
                            response.read()
                            return response
                        received = 0
                        with stream_to.open("wb") as out:
                            for chunk in response.iter_bytes(CHUNK):
                                out.write(chunk)
                                received += len(chunk)
                        expected = response.headers.get("content-length")
                        if expected is not None and int(expected) != received:
                            failures.append(f"truncated body ({received} of {expected} bytes)")
                        else:
                            return response
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            if attempt + 1 < self.retry.attempts:
                time.sleep(self.retry.delay(attempt, retry_after))
        raise DownloadError(f"{url}: gave up after {self.retry.attempts} attempts: {'; '.join(failures)}")


def _sha256_of(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), path.stat().st_size


def remove_local(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".CHECKSUM"), Provenance.path_for(path)):
        if p.exists():
            os.remove(p)
