"""Tardis' replay of historical WebSocket messages (``api.tardis.dev/v1/data-feeds/{exchange}``) through the
``tardis-client`` package, made safe to build a catalog on:

- a day's replay covers its receive-time minutes 00:00 to 24:00 **and, with an API key, the minute either side**
  (23:59 the day before, 00:00 the day after): a message is filed under the day of its exchange time, so one
  received just after midnight (or, from a skewed clock, just before it) still reaches its day, and the
  neighbouring day's replay leaves it out;
- the two client traps are worked around: dates are sent as naive UTC strings (an aware one is sent with an
  unescaped ``+``), and every request asks for ``Accept-Encoding: gzip, deflate`` (aiohttp would advertise zstd,
  and a zstd answer poisons the gzip-only client's cache);
- the client's cache lives under the data directory; every cached minute is verified (a complete gzip whose lines
  all start with the 28-character receive time) before it is trusted, and a corrupt one is deleted and fetched
  again;
- the API key travels only in the client's ``Authorization`` header: the client's own debug log (which prints it)
  is silenced, and errors, provenance and metadata never hold it. Without a key only the first day of each month
  is asked for; 401 fails at once; 5xx are retried by the client (429: it waits 61 s);
- the verified minutes become one raw file per exchange × channel × symbol × day
  (``raw/tardis_replay/{exchange}/{channel}/YYYY/MM/DD/{SYMBOL}.txt.gz``, lines ``<28-char time> <frame>``, an
  empty line where Tardis marks a disconnect), with its provenance.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import logging
import re
import types
import urllib.error
import zlib
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from tardis_client import Channel, TardisClient
from tardis_client import data_downloader as _downloader
from tardis_client.handy import get_slice_cache_path

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.errors import ArchiveDataError, DownloadError, NotPublishedError
from hedgegrid_data.secrets import redact_url
from hedgegrid_data.sources.provenance import Provenance, now_text, sha256_of
from hedgegrid_data.sources.tardis.layout import MINUTE, ReplayFile, is_free

CACHE_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, OSError, ValueError)
REPLAY_ATTEMPTS = 3  # a corrupt cached minute found while replaying is deleted and the replay run again

# The client logs its api_key at DEBUG when it is built: never let that record exist.
logging.getLogger("tardis_client").setLevel(logging.INFO)


def _gzip_only_session(*args: object, headers: dict | None = None, **kwargs: object) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(*args, headers={**(headers or {}), "Accept-Encoding": "gzip, deflate"}, **kwargs)


# tardis-client 1.4.2 (frozen upstream) builds its aiohttp session inside ``fetch_data_to_replay``: give it one
# that never advertises zstd or brotli.
_downloader.aiohttp = types.SimpleNamespace(ClientSession=_gzip_only_session, ClientTimeout=aiohttp.ClientTimeout)


def channels(file: ReplayFile) -> list[Channel]:
    """The client's filter of a replayed file: its channel of its symbol."""
    return [Channel(file.channel, [file.symbol.lower()])]


def _naive(minute: dt.datetime) -> str:
    """What the client must be given: a naive ISO string (UTC), never ``Z`` or ``+00:00``."""
    return minute.replace(tzinfo=None).isoformat(timespec="seconds")


RECEIVE_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z ")


def verify_minute(path: Path) -> tuple[int, int]:
    """(messages, disconnects) of a cached minute; ``ValueError`` (or a gzip error) if it cannot be trusted: not a
    complete gzip, not ending with a newline, or a line without the 28-character receive time."""
    text = gzip.decompress(path.read_bytes())
    if text and not text.endswith(b"\n"):
        raise ValueError("the minute ends inside a line")
    messages = disconnects = 0
    for number, line in enumerate(text.split(b"\n")[:-1], start=1):
        if not line.strip():
            disconnects += 1
        elif RECEIVE_TIME.match(line):
            messages += 1
        else:
            raise ValueError(f"line {number} starts with {line[:28]!r}, not a 28-character receive time")
    return messages, disconnects


@dataclass(frozen=True)
class VerifiedReplay:
    file: ReplayFile
    path: Path
    provenance: Provenance


class TardisReplay:
    """Fetches replay days through ``tardis-client`` (``api_url``: api.tardis.dev or a loopback fake) with its
    cache at ``cache_dir``, into ``raw_root``."""

    def __init__(self, api_url: str, raw_root: Path, cache_dir: Path, api_key: str = "", http_timeout: int = 60):
        self.api_url = api_url.rstrip("/")
        self.raw_root = raw_root
        self.cache_dir = cache_dir
        self._api_key = api_key
        self.http_timeout = http_timeout

    def _cache_path(self, file: ReplayFile, minute: dt.datetime) -> Path:
        return Path(get_slice_cache_path(str(self.cache_dir), file.exchange, minute, channels(file)))

    def _drop_corrupt(self, file: ReplayFile, minutes: list[dt.datetime]) -> list[str]:
        """Delete every cached minute that does not verify; return which."""
        dropped = []
        for minute in minutes:
            path = self._cache_path(file, minute)
            if path.is_file():
                try:
                    verify_minute(path)
                except CACHE_ERRORS:
                    path.unlink()
                    dropped.append(_naive(minute))
        return dropped

    async def _replay(self, file: ReplayFile, start: dt.datetime, end: dt.datetime) -> None:
        client = TardisClient(endpoint=self.api_url, cache_dir=str(self.cache_dir), api_key=self._api_key,
                              http_timeout=self.http_timeout)
        async for _ in client.replay(file.exchange, _naive(start), _naive(end), channels(file), decode_response=False):
            pass

    def _shown(self, file: ReplayFile) -> str:
        return redact_url(f"{self.api_url}/v1/data-feeds/{file.exchange}")

    def _run(self, file: ReplayFile, minutes: list[dt.datetime]) -> list[str]:
        """Replay ``minutes`` into the cache; a corrupt minute met on the way is deleted and fetched again."""
        refetched = self._drop_corrupt(file, minutes)
        for attempt in range(REPLAY_ATTEMPTS):
            try:
                asyncio.run(self._replay(file, minutes[0], minutes[-1] + MINUTE))
                return refetched
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    why = ("the configured TARDIS_API_KEY was refused" if self._api_key
                           else "no TARDIS_API_KEY is configured and Tardis asks for one")
                    raise DownloadError(f"{self._shown(file)} ({file.file_name}): HTTP 401 Unauthorized: {why}; "
                                        "not retried") from None
                raise DownloadError(f"{self._shown(file)} ({file.file_name}): HTTP {exc.code} after the client's "
                                    "retries") from None
            except CACHE_ERRORS as exc:
                dropped = self._drop_corrupt(file, minutes)
                if not dropped or attempt + 1 == REPLAY_ATTEMPTS:
                    raise DownloadError(f"{self._shown(file)} ({file.file_name}): {type(exc).__name__}: "
                                        f"{str(exc)[:200]}") from None
                refetched += dropped
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise DownloadError(f"{self._shown(file)} ({file.file_name}): {type(exc).__name__}: "
                                    f"{str(exc)[:200]}") from None
        raise AssertionError("unreachable")

    def fetch_verified(self, file: ReplayFile) -> VerifiedReplay:
        """Replay the day (and, with a key, the next day's first minute), verify every minute and keep them as one
        raw file with its provenance."""
        if not self._api_key and not is_free(file.day):
            raise NotPublishedError(f"{file.file_name}: Tardis replays only the first day of each month without an "
                                    f"API key; set TARDIS_API_KEY to replay {file.day}")
        minutes = file.minutes(with_edges=bool(self._api_key))
        refetched = self._run(file, minutes)
        messages = disconnects = 0
        target = self.raw_root / file.key
        with atomic_path(target) as tmp, tmp.open("wb") as raw, \
                gzip.GzipFile("", "wb", 6, raw, mtime=0) as out:  # same minutes, same bytes
            for minute in minutes:
                path = self._cache_path(file, minute)
                try:
                    counted = verify_minute(path)
                except CACHE_ERRORS as exc:
                    path.unlink(missing_ok=True)
                    raise ArchiveDataError(file.file_name, f"the replayed minute {_naive(minute)} does not verify "
                                                           f"({exc}); it was deleted and is fetched again next time"
                                           ) from None
                messages, disconnects = messages + counted[0], disconnects + counted[1]
                out.write(gzip.decompress(path.read_bytes()))
        sha256, size = sha256_of(target)
        provenance = Provenance(self._shown(file), sha256, size, None, None, now_text(), {
            "minutes": len(minutes), "messages": messages, "disconnects": disconnects,
            "refetched_cache_minutes": len(refetched), "first_minute": _naive(minutes[0]),
            "last_minute": _naive(minutes[-1])})
        provenance.write(target)
        return VerifiedReplay(file, target, provenance)
