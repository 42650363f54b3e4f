"""HTTP for sources that download public files: one client per endpoint with an explicit User-Agent, retries with
exponential backoff and jitter (honouring ``Retry-After``) on timeouts, 5xx, 429 and truncated bodies, "not
published" for 403/404, and HEAD for publication probes and re-publication checks.

A base may also be a local directory in the source's key layout (a mirror): the same calls answer from the disk.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from importlib.metadata import version
from pathlib import Path
from typing import Self

import httpx

from hedgegrid_data.errors import DownloadError, NotPublishedError
from hedgegrid_data.secrets import redact_text, redact_url
from hedgegrid_data.settings import is_local_base

CHUNK = 1 << 20
# Some public archives block default library agents: say who is asking.
USER_AGENT = f"hedgegrid-data/{version('hedgegrid-data')} (+httpx)"


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


def normalize_etag(etag: str | None) -> str | None:
    """``W/"abc"`` / ``"abc"`` / ``abc`` → ``abc``; empty → None."""
    if etag is None:
        return None
    value = etag.strip().removeprefix("W/").strip('"')
    return value or None


@dataclass(frozen=True)
class Served:
    """What the endpoint says about a file without sending it: size, ETag, Last-Modified (each may be absent)."""

    size: int | None
    etag: str | None
    last_modified: str | None


def _local_served(path: Path) -> Served:
    stat = path.stat()
    return Served(stat.st_size, None, formatdate(stat.st_mtime, usegmt=True))


class HttpEndpoint:
    """Files under ``base``: an http(s) URL (with a client of its own, closed on exit) or a local directory."""

    def __init__(self, base: str, *, timeout: float = 60.0, retry: RetryPolicy = RetryPolicy(),
                 user_agent: str = USER_AGENT):
        self.base = base.rstrip("/")
        self.is_local = is_local_base(self.base)
        self.retry = retry
        self._client = None if self.is_local else httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": user_agent, "Accept-Encoding": "identity"})

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, key: str) -> str:
        return str(Path(self.base, key).absolute()) if self.is_local else f"{self.base}/{key}"

    def download(self, key: str, dest: Path) -> Served:
        """Write the file at ``key`` to ``dest`` whole (a body shorter than its Content-Length is retried)."""
        if self.is_local:
            source = Path(self.url(key))
            if not source.is_file():
                raise NotPublishedError(f"{source}: not in the local mirror (not published yet?)")
            shutil.copyfile(source, dest)
            return _local_served(source)
        url = self.url(key)
        assert self._client is not None
        failures: list[str] = []
        for attempt in range(self.retry.attempts):
            retry_after = None
            try:
                with self._client.stream("GET", url) as response:
                    if response.status_code in (403, 404):
                        raise NotPublishedError(f"{redact_url(url)}: HTTP {response.status_code}, not published (yet)")
                    if response.status_code == 429 or response.status_code >= 500:
                        retry_after = retry_after_seconds(response)
                        failures.append(f"HTTP {response.status_code}")
                    else:
                        response.raise_for_status()
                        received = 0
                        with dest.open("wb") as out:
                            for chunk in response.iter_raw(CHUNK):  # the bytes as served, never decoded
                                out.write(chunk)
                                received += len(chunk)
                        expected = response.headers.get("content-length")
                        if expected is not None and int(expected) != received:
                            failures.append(f"truncated body ({received} of {expected} bytes)")
                        else:
                            return Served(received, response.headers.get("etag"),
                                          response.headers.get("last-modified"))
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            if attempt + 1 < self.retry.attempts:
                time.sleep(self.retry.delay(attempt, retry_after))
        raise DownloadError(f"{redact_url(url)}: gave up after {self.retry.attempts} attempts: "
                            f"{redact_text('; '.join(failures))}")

    def served(self, key: str) -> Served | None:
        """HEAD: what is served at ``key`` now; None when nothing is (403/404). Raises ``DownloadError`` when the
        endpoint cannot tell (5xx, 429, network errors)."""
        if self.is_local:
            path = Path(self.url(key))
            return _local_served(path) if path.is_file() else None
        assert self._client is not None
        url = self.url(key)
        try:
            response = self._client.head(url)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise DownloadError(f"HEAD {redact_url(url)}: {type(exc).__name__}: {redact_text(str(exc))}") from exc
        if response.status_code in (403, 404):
            return None
        if not response.is_success:
            raise DownloadError(f"HEAD {redact_url(url)}: HTTP {response.status_code}")
        length = response.headers.get("content-length")
        return Served(int(length) if length is not None else None, response.headers.get("etag"),
                      response.headers.get("last-modified"))

    def is_published(self, key: str) -> bool | None:
        """True (served), False (403/404: not there), None (could not tell)."""
        try:
            return self.served(key) is not None
        except DownloadError:
            return None
