"""Loopback fake of Tardis.dev on 127.0.0.1: the datasets server (``/v1/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/
{SYMBOL}.csv.gz``, files under ``root`` in that layout) and the replay API (``/v1/data-feeds/{exchange}?from=…&
offset=…&filters=…``), as ``tardis-client`` and httpx talk to the real ones.

- API key: with ``api_key`` set, a request whose ``Authorization: Bearer`` is another key gets 401; a request
  without one gets 401 unless its day is the first of a month (what Tardis serves for free).
- Replay: ``add_minute(exchange, minute, lines)`` stores a minute's messages (``<28-char time> <JSON>`` lines, an
  empty line for a disconnect); a request answers the minute ``from + offset`` of the exchange, gzip-compressed,
  filtered to the channels and symbols of ``filters`` (a minute nobody stored answers an empty body, as the real
  API does for a quiet minute). Every request's ``Accept-Encoding`` and ``Authorization`` are recorded.
- Faults: ``inject(key, Fault…)`` with the dataset key (``v1/…``) or ``data-feeds/{exchange}`` (each fault is
  consumed by one request), e.g. ``Fault.status(429)``, ``Fault.status(500)``, ``Fault.truncate(0.5)``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from hedgegrid_data.testing.archive_server import ArchiveServer, Fault, _Handler

__all__ = ["Fault", "TardisServer", "iso_time"]

DATASET_DAY = re.compile(r"^/v1/[^/]+/[^/]+/(\d{4})/(\d{2})/(\d{2})/[^/]+$")


def iso_time(ns: int) -> str:
    """Tardis' 28-character receive time: ``YYYY-MM-DDTHH:MM:SS.fffffffZ`` (100 ns)."""
    seconds, rest = divmod(ns, 10**9)
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{rest // 100:07d}Z"


def _message_matches(message: bytes, filters: list[dict]) -> bool:
    """Binance combined-stream frames: ``{"stream": "btcusdt@trade", ...}`` matches channel ``trade``, symbol
    ``btcusdt``."""
    if not filters:
        return True
    head, found, rest = message.partition(b'"stream":"')
    if found and head.strip() == b"{":
        stream = rest.partition(b'"')[0].decode()  # Binance's compact frames: no JSON parse needed
    else:
        try:
            stream = json.loads(message).get("stream", "")
        except (ValueError, AttributeError):
            return True  # garbage is served as it is (the tests inject it on purpose)
    symbol, _, channel = stream.partition("@")
    for f in filters:
        if channel.split("@")[0] == f["channel"] and (not f.get("symbols") or symbol in f["symbols"]):
            return True
    return False


class _TardisHandler(_Handler):
    def _handle(self, send_body: bool) -> None:
        server = self.server.archive
        assert isinstance(server, TardisServer)
        url = urlsplit(self.path)
        path = unquote(url.path)
        server.seen.append({"path": path, "accept_encoding": self.headers.get("Accept-Encoding", ""),
                            "authorization": self.headers.get("Authorization", "")})
        if path.startswith("/v1/data-feeds/"):
            self._replay(server, path.removeprefix("/v1/data-feeds/"), parse_qs(url.query), send_body)
            return
        match = DATASET_DAY.match(path)
        day = dt.date(*map(int, match.groups())) if match else None
        if not self._authorized(server, day):
            server._record(self.command, self.path)
            self._respond(401, b'{"code":401,"message":"Unauthorized"}', "application/json", send_body)
            return
        super()._handle(send_body)

    def _authorized(self, server: TardisServer, day: dt.date | None) -> bool:
        given = self.headers.get("Authorization", "")
        if given:
            return server.api_key is not None and given == f"Bearer {server.api_key}"
        return day is not None and day.day == 1

    def _replay(self, server: TardisServer, exchange: str, query: dict[str, list[str]], send_body: bool) -> None:
        server._record(self.command, self.path)
        fault = server._next_fault(f"data-feeds/{exchange}")
        if fault is not None and fault.kind == "status":
            self._respond(fault.code, fault.body or b"error", "text/plain", send_body, fault.headers)
            return
        try:
            start = dt.datetime.fromisoformat(query["from"][0])
            offset = int(query["offset"][0])
            filters = json.loads(query.get("filters", ["[]"])[0])
        except (KeyError, ValueError) as exc:
            self._respond(400, f'{{"message":"invalid request: {exc}"}}'.encode(), "application/json", send_body)
            return
        if start.tzinfo is not None:
            self._respond(400, b'{"message":"Invalid \'from\' date: ISO 8601 format without timezone expected"}',
                          "application/json", send_body)
            return
        minute = start + dt.timedelta(minutes=offset)
        day = minute.date()
        if not self._authorized(server, day):
            self._respond(401, b'{"code":401,"message":"Unauthorized"}', "application/json", send_body)
            return
        lines = [line for line in server.minutes[exchange].get(minute, [])
                 if not line.strip() or _message_matches(line[29:], filters)]
        body = gzip.compress(b"".join(line.rstrip(b"\n") + b"\n" for line in lines), mtime=0)
        if fault is not None and fault.kind == "truncate":
            body = body[: int(len(body) * fault.fraction)]
        self._respond(200, body, "application/x-json-stream", send_body, {"Content-Encoding": "gzip"})


class TardisServer(ArchiveServer):
    """Datasets files under ``root`` (``v1/{exchange}/{data_type}/…``) and replay minutes added in memory."""

    handler = _TardisHandler

    def __init__(self, root: Path, api_key: str | None = None):
        self.api_key = api_key
        self.seen: list[dict[str, str]] = []
        self.minutes: defaultdict[str, dict[dt.datetime, list[bytes]]] = defaultdict(dict)
        super().__init__(root)

    def add_minute(self, exchange: str, minute: dt.datetime, lines: list[bytes]) -> None:
        """The messages of ``minute`` (naive UTC, on the minute) of ``exchange``."""
        self.minutes[exchange][minute.replace(tzinfo=None)] = list(lines)

    def add_frames(self, exchange: str, frames: list[tuple[int, bytes]]) -> None:
        """Messages (receive time ns, JSON bytes) placed in the minutes of their receive times."""
        by_minute: defaultdict[dt.datetime, list[bytes]] = defaultdict(list)
        for ns, message in frames:
            minute = dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).replace(second=0, tzinfo=None)
            by_minute[minute].append(f"{iso_time(ns)} ".encode() + message)
        for minute, lines in by_minute.items():
            self.add_minute(exchange, minute, lines)
