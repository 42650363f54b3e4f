"""HTTP for sources that download public files, hostile until read: one client per endpoint with an explicit
User-Agent; retries with exponential backoff and jitter on timeouts, 5xx, 429 (``Retry-After`` honoured up to a
ceiling) and truncated bodies; redirects kept on the base's host; capped bodies and a deadline per transfer;
"not published" for 403/404; HEAD for publication probes and re-publication checks; every failure the product's
own ``DownloadError`` naming the URL with its credentials masked.

A base may also be a local directory in the source's key layout (a mirror): the same calls answer from the disk.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import time
from collections.abc import Collection
from contextlib import nullcontext
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


def parse_timestamp(text: str | None) -> dt.datetime | None:
    """An S3 ISO-8601 time (``2024-01-03T08:12:33.000Z``) or an HTTP date (``Wed, 03 Jan 2024 08:12:33 GMT``)."""
    if not text:
        return None
    text = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Served:
    """What the endpoint says about a file without sending it: size, ETag, Last-Modified (each may be absent)."""

    size: int | None
    etag: str | None
    last_modified: str | None


def _local_served(path: Path) -> Served:
    stat = path.stat()
    return Served(stat.st_size, None, formatdate(stat.st_mtime, usegmt=True))


# A body's Content-Encoding (asked off, but a mirror may gzip anyway) must not inflate it more than a zip may.
DECODED_MAX_RATIO = 200
MAX_REDIRECTS = 5
# Archived files are compressed already; a mirror that gzips them anyway is still understood.
IDENTITY = {"Accept-Encoding": "identity"}
FILE_DEADLINE = 15 * 60.0  # all attempts and waits for one file: ~1 GB at ~1 MB/s


class _RedirectRefused(DownloadError):
    """A redirect led outside the endpoint's allowed hosts."""


class _Truncated(Exception):
    """The body ended before its Content-Length: worth another attempt."""


def _host_port(netloc: str) -> tuple[str, int | None]:
    """``host[:port]`` → (host, port or None)."""
    url = httpx.URL(f"//{netloc.rsplit('@', 1)[-1]}")
    return url.host, url.port


DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpEndpoint:
    """Files under ``base``: an http(s) URL (with a client of its own, closed on exit) or a local mirror.

    Every request goes through ``_get`` (or the client, for HEAD): redirects are followed only to the
    base's own host and ``redirect_hosts`` (``host`` or ``host:port``), at most ``MAX_REDIRECTS`` of
    them, never from https to http; bodies are capped, transfers have a deadline, and every failure
    is a ``DownloadError`` naming the URL with its credentials masked.
    """

    def __init__(self, base: str, *, timeout: float = 60.0, retry: RetryPolicy = RetryPolicy(),
                 redirect_hosts: Collection[str] | None = None, user_agent: str = USER_AGENT):
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
                                        headers={"User-Agent": user_agent},
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

    def url(self, key: str) -> str:
        return str(Path(self.base, key).absolute()) if self.is_local else f"{self.base}/{key}"

    def download(self, key: str, dest: Path, deadline: float = FILE_DEADLINE) -> Served:
        """Write the file at ``key`` to ``dest`` whole, within ``deadline`` seconds (all attempts and waits)."""
        if self.is_local:
            source = Path(self.url(key))
            if not source.is_file():
                raise NotPublishedError(f"{source}: not in the local mirror (not published yet?)")
            shutil.copyfile(source, dest)
            return _local_served(source)
        _, headers = self._get(self.url(key), what="file", deadline=deadline, dest=dest)
        length = headers.get("content-length")
        return Served(int(length) if length is not None else dest.stat().st_size, headers.get("etag"),
                      headers.get("last-modified"))

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
