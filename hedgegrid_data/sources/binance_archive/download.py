"""Download and verify files of Binance's public archive (data.binance.vision).

A file is kept only after its bytes hash to the published ``.CHECKSUM``; it lands under the raw
store in the archive's own key layout, with a provenance sidecar (URL, sha256, size, ETag,
Last-Modified, fetch time). The base may be an http(s) URL or a local mirror directory.

A server is not trusted further than that: redirects stay on the archive's host, bodies are capped,
every file has a deadline, a ``Retry-After`` is honoured only up to a ceiling, errors never quote a
body and mask the credentials of every URL they name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import time
from collections.abc import Collection
from contextlib import nullcontext
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
from hedgegrid_data.secrets import redact_text
from hedgegrid_data.settings import is_local_base
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile

CHECKSUM_MAX_BYTES = 64 << 10  # a CHECKSUM is one line of ~100 bytes
ZIP_MAX_BYTES = 64 << 30  # what archive_csv.ZipLimits lets a zip's CSV inflate to: no valid zip is larger
# A body's Content-Encoding (asked off, but a mirror may gzip anyway) must not inflate it more than a zip may.
DECODED_MAX_RATIO = 200
MAX_REDIRECTS = 5
ZIP_DEADLINE = 15 * 60.0  # all attempts and waits for one zip: the largest daily zips (~1 GB) at ~1 MB/s
CHECKSUM_DEADLINE = 60.0
# The archive's objects are compressed already; a mirror that gzips them anyway is still understood.
IDENTITY = {"Accept-Encoding": "identity"}


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budget for transient failures (timeouts, 5xx, 429, truncated bodies).

    Backoff grows from ``base_delay`` up to ``max_delay``. A server's ``Retry-After`` is waited out in
    full up to ``retry_after_ceiling`` seconds; one asking for longer is not retried at all.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_ceiling: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after
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


ARCHIVE_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,120}\.zip")


def parse_checksum(text: str, expected_name: str, source: str) -> str:
    """The sha256 of a CHECKSUM sidecar: ``<64 hex>  <file name>`` with or without trailing newline.

    An error never quotes the body (it may be anything a server answered), only a file name it names.
    """
    source = redact_text(source)
    parts = text.split()
    if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0].lower()):
        raise ChecksumMismatchError(f"{source}: not a CHECKSUM line (a body of {len(text)} characters)")
    if parts[1] != expected_name:
        named = (repr(parts[1]) if ARCHIVE_FILE_NAME.fullmatch(parts[1])
                 else f"something else ({len(parts[1])} characters)")
        raise ChecksumMismatchError(f"{source}: names {named}, expected {expected_name!r}")
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


class _RedirectRefused(DownloadError):
    """A redirect led outside the endpoint's allowed hosts."""


class _Truncated(Exception):
    """The body ended before its Content-Length: worth another attempt."""


def _host_port(netloc: str) -> tuple[str, int | None]:
    """``host[:port]`` → (host, port or None)."""
    url = httpx.URL(f"//{netloc.rsplit('@', 1)[-1]}")
    return url.host, url.port


DEFAULT_PORTS = {"http": 80, "https": 443}


class ArchiveEndpoint:
    """The archive at ``base``: an http(s) URL (with a client of its own, closed on exit) or a local mirror.

    Every request goes through ``_get`` (or the client, for HEAD): redirects are followed only to the
    base's own host and ``redirect_hosts`` (``host`` or ``host:port``), at most ``MAX_REDIRECTS`` of
    them, never from https to http; bodies are capped, transfers have a deadline, and every failure
    is a ``DownloadError`` naming the URL with its credentials masked.
    """

    def __init__(self, base: str, timeout: float, *, retry: RetryPolicy = RetryPolicy(),
                 redirect_hosts: Collection[str] | None = None):
        self.base = base.rstrip("/")
        self.shown_base = redact_text(self.base)
        self.is_local = is_local_base(self.base)
        self.timeout = timeout
        self.retry = retry
        self._client = None
        if not self.is_local:
            base_url = httpx.URL(self.base)
            self._scheme = base_url.scheme
            self.redirect_hosts = frozenset(_host_port(h) for h in [base_url.netloc.decode(), *(redirect_hosts or ())])
            self._client = httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=MAX_REDIRECTS,
                                        event_hooks={"request": [self._refuse_foreign_host]})

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refuse_foreign_host(self, request: httpx.Request) -> None:
        url = request.url
        downgrade = self._scheme == "https" and url.scheme != "https"
        allowed = {(url.host, url.port), (url.host, url.port or DEFAULT_PORTS.get(url.scheme))}
        if downgrade or not allowed & self.redirect_hosts:
            allowed = sorted(f"{h}:{p}" if p else h for h, p in self.redirect_hosts)
            raise _RedirectRefused(f"redirected to {redact_text(str(url))}, outside the allowed hosts "
                                   f"{allowed}{' (and from https to http)' if downgrade else ''}: not followed")

    def _http_failure(self, shown: str, exc: Exception) -> DownloadError:
        """An error that another attempt would not cure, as the product's own error naming the URL."""
        if isinstance(exc, _RedirectRefused):
            return DownloadError(f"{shown}: {exc}")
        if isinstance(exc, httpx.TooManyRedirects):
            return DownloadError(f"{shown}: more than {MAX_REDIRECTS} redirects (a redirect loop?): not followed")
        return DownloadError(f"{shown}: {type(exc).__name__}: {redact_text(str(exc))}")

    def _get(self, url: str, *, what: str, deadline: float, params: dict[str, str] | None = None,
             max_bytes: int | None = None, dest: Path | None = None,
             missing_means_unpublished: bool = True) -> tuple[bytes, httpx.Headers]:
        """GET ``url`` with retries, within ``deadline`` seconds for all attempts and waits together.

        The body is streamed to ``dest`` when given, else returned (refused beyond ``max_bytes``); a
        body shorter than its Content-Length is retried. 404/403 raise ``NotPublishedError`` if
        ``missing_means_unpublished`` (a file of the archive), else ``DownloadError``.
        """
        assert self._client is not None
        shown = redact_text(str(httpx.URL(url, params=params)))
        ends = time.monotonic() + deadline
        failures: list[str] = []
        made = 0
        for attempt in range(self.retry.attempts):
            remaining = ends - time.monotonic()
            if remaining <= 0:
                failures.append(f"another attempt would pass the {deadline:g} s deadline")
                break
            retry_after = None
            made += 1
            try:
                with self._client.stream("GET", url, params=params, headers=IDENTITY,
                                         timeout=min(self.timeout, remaining)) as response:
                    status = response.status_code
                    if status in (403, 404) and missing_means_unpublished:
                        raise NotPublishedError(f"{shown}: HTTP {status}, not published (yet)")
                    if status == 429 or status >= 500:
                        retry_after = self._retry_after(response, shown)
                        failures.append(f"HTTP {status}")
                    elif not response.is_success:
                        raise DownloadError(f"{shown}: HTTP {status}: not retried")
                    else:
                        body = self._read_body(response, shown, what, ends, deadline, max_bytes, dest)
                        return body, response.headers
            except _Truncated as exc:
                failures.append(str(exc))
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures.append(f"{type(exc).__name__}: {redact_text(str(exc))}")
            except (httpx.HTTPError, httpx.InvalidURL, _RedirectRefused) as exc:
                raise self._http_failure(shown, exc) from None
            if attempt + 1 < self.retry.attempts:
                pause = self.retry.delay(attempt, retry_after)
                if time.monotonic() + pause >= ends:
                    wait = f" after {pause:.1f} s" if pause >= 0.1 else ""
                    failures.append(f"another attempt{wait} would pass the {deadline:g} s deadline")
                    break
                time.sleep(pause)
        raise DownloadError(f"{shown}: gave up after {made} attempts: {'; '.join(failures)}")

    def _retry_after(self, response: httpx.Response, shown: str) -> float | None:
        """The response's Retry-After, refused at once beyond the policy's ceiling."""
        retry_after = retry_after_seconds(response)
        if retry_after is not None and retry_after > self.retry.retry_after_ceiling:
            raise DownloadError(
                f"{shown}: HTTP {response.status_code} asks to retry after {retry_after:.0f} s "
                f"(Retry-After: {response.headers['Retry-After'][:40]!r}), more than the "
                f"{self.retry.retry_after_ceiling:g} s this client waits: not retried")
        return retry_after

    @staticmethod
    def _read_body(response: httpx.Response, shown: str, what: str, ends: float, deadline: float,
                   max_bytes: int | None, dest: Path | None) -> bytes:
        declared = response.headers.get("Content-Length")
        if max_bytes is not None and declared is not None and int(declared) > max_bytes:
            raise DownloadError(f"{shown}: a {what} of {declared} bytes is announced, more than the {max_bytes} "
                                f"bytes one can be: not read")
        parts: list[bytes] = []
        received = 0
        with dest.open("wb") if dest is not None else nullcontext() as out:
            try:
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise DownloadError(f"{shown}: the {what} is longer than the {max_bytes} bytes one can be: "
                                            "not read further")
                    if received > DECODED_MAX_RATIO * response.num_bytes_downloaded + (1 << 20):
                        raise DownloadError(f"{shown}: its Content-Encoding inflates the {what} more than "
                                            f"{DECODED_MAX_RATIO}:1: not read further")
                    if out is not None:
                        out.write(chunk)
                    else:
                        parts.append(chunk)
                    if time.monotonic() > ends:
                        raise DownloadError(f"{shown}: the {what} did not arrive within its {deadline:g} s deadline "
                                            f"({response.num_bytes_downloaded} bytes received): not retried")
            except httpx.DecodingError as exc:
                encoding = response.headers.get("Content-Encoding", "")[:40]
                raise DownloadError(f"{shown}: the body does not decode as its Content-Encoding {encoding!r} says "
                                    f"({exc}): not retried") from None
        # Content-Length counts the bytes on the wire, before any Content-Encoding is undone
        if declared is not None and int(declared) != response.num_bytes_downloaded:
            raise _Truncated(f"truncated body ({response.num_bytes_downloaded} of {declared} bytes)")
        return b"".join(parts)


class BinanceArchive(ArchiveEndpoint):
    """Fetches archive files from an http(s) base URL or a local mirror directory into ``raw_root``.

    Each file must arrive within its deadline (``zip_deadline``, ``checksum_deadline`` seconds, all
    attempts and waits included) besides the per-read ``timeout``; see ``ArchiveEndpoint`` for redirects.
    """

    def __init__(
        self,
        base: str,
        raw_root: Path,
        *,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 60.0,
        zip_deadline: float = ZIP_DEADLINE,
        checksum_deadline: float = CHECKSUM_DEADLINE,
        redirect_hosts: Collection[str] | None = None,
    ):
        super().__init__(base, timeout, retry=retry, redirect_hosts=redirect_hosts)
        self.raw_root = raw_root
        self.zip_deadline = zip_deadline
        self.checksum_deadline = checksum_deadline

    def url(self, key: str) -> str:
        return f"{self.base}/{key}" if not self.is_local else str(Path(self.base, key).absolute())

    def shown_url(self, key: str) -> str:
        """The URL of ``key`` as an error or a provenance record may show it (credentials masked)."""
        return f"{self.shown_base}/{key}" if not self.is_local else self.url(key)

    def local_path(self, archive_file: ArchiveFile) -> Path:
        return self.raw_root / archive_file.key

    def fetch_verified(self, archive_file: ArchiveFile) -> VerifiedFile:
        """Download ``archive_file`` and its CHECKSUM, verify, and keep it; reuse an identical local copy."""
        checksum = self._get_checksum(archive_file.checksum_key)
        expected = parse_checksum(checksum.decode("utf-8", "replace"), archive_file.file_name,
                                  self.shown_url(archive_file.checksum_key))
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
                    f"{self.shown_url(archive_file.key)}: sha256 {digest} does not match the published CHECKSUM "
                    f"{expected} ({size} bytes received); nothing was kept"
                )
        provenance = Provenance(
            url=self.shown_url(archive_file.key),
            sha256=digest,
            size=size,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(),
        )
        atomic_write_bytes(target.with_name(target.name + ".CHECKSUM"), checksum)
        atomic_write_bytes(Provenance.path_for(target), json.dumps(asdict(provenance), indent=2).encode())
        return VerifiedFile(archive_file, target, provenance, reused=False)

    def _get_checksum(self, key: str) -> bytes:
        if self.is_local:
            path = self._local_source(key)
            if path.stat().st_size > CHECKSUM_MAX_BYTES:
                raise DownloadError(f"{path}: a CHECKSUM of {path.stat().st_size} bytes, more than the "
                                    f"{CHECKSUM_MAX_BYTES} bytes one can be: not read")
            return path.read_bytes()
        body, _ = self._get(self.url(key), what="CHECKSUM", deadline=self.checksum_deadline,
                            max_bytes=CHECKSUM_MAX_BYTES)
        return body

    def _download(self, key: str, dest: Path) -> dict[str, str]:
        if self.is_local:
            source = self._local_source(key)
            shutil.copyfile(source, dest)
            stat = source.stat()
            mtime = dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc)
            return {"last-modified": mtime.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        _, headers = self._get(self.url(key), what="zip", deadline=self.zip_deadline, max_bytes=ZIP_MAX_BYTES,
                               dest=dest)
        return {k.lower(): v for k, v in headers.items()}

    def _local_source(self, key: str) -> Path:
        path = Path(self.url(key))
        if not path.exists():
            raise NotPublishedError(f"{path}: not in the local mirror (not published yet?)")
        return path


def _sha256_of(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest(), path.stat().st_size


def remove_local(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".CHECKSUM"), Provenance.path_for(path)):
        if p.exists():
            os.remove(p)
