"""The one parser of Binance WebSocket frames: lines (or already split frames) → canonical Arrow tables per event
type, exact, naming the file and line of anything it cannot read.

Used by every source of these frames: captured JSONL files (``sources/websocket``), Tardis replays (lines
``<28-char ISO time> <frame>``: ``parse_lines(..., receive_time=iso_prefix)`` or ``parse_frames`` with frames it
split itself) and, later, the live capture daemon. Pure: no files, no Dagster.

A line is ``[<receive time>] <frame>``; the receive-time prefix is pluggable (``ns_prefix``: the capture format,
epoch ns and a space, or none at all; ``iso_prefix``: Tardis'). A frame is a JSON object, bare or in the
combined-stream envelope ``{"stream": ..., "data": {...}}``. Times in frames are epoch ms (13 digits) or µs (16
digits, spot's ``timeUnit=MICROSECOND``), told apart per value; the receive time becomes ``ts_init`` (without one,
``ts_init = ts_event``).

| event (``e``) | table | ``ts_event`` | notes |
|---|---|---|---|
| ``trade`` | trades (``tables/trades.py`` + ``ts_init``) | ``T`` | id ``t``; ``m`` buyer maker ⇒ seller aggressor; futures ``X`` other than ``MARKET`` (insurance fund, ADL) counted and skipped |
| ``aggTrade`` | trades, id ``a`` | ``T`` | |
| ``bookTicker`` | quotes | ``T`` | **spot frames have no ``e`` and no time**: recognised by the stream name or their keys; ``ts_event`` = receive time (required then) |
| ``markPriceUpdate`` | mark prices (``p``, ``i``) and funding updates (``r``, ``T``) | ``E`` | ``r`` empty (delivery contracts): no funding update |
| ``kline`` | bars | ``k.T`` (close) | closed bars only (``k.x``); open ones counted and skipped |
| ``depthUpdate``, REST depth snapshots | — | — | counted and skipped: no books are built |
| any other ``e`` | — | — | counted per type and skipped, see below |

**Unknown event types are counted and skipped, not an error.** A capture subscribes to whatever streams its
operator chose (``forceOrder``, ``24hrTicker``, ...), and Binance adds event types; neither makes the events we
build less trustworthy, so the day is not refused for them, and the counts (``skipped``) travel with the day's
metadata so nothing disappears silently. What *is* an error, naming the file and line: a line that is not JSON
(a frame cut in half), a JSON value that is not an object, an object that is no Binance event at all (no ``e``,
not a spot bookTicker, not a snapshot), a known event with a field missing or of the wrong type, a time that is
neither ms nor µs, a receive time that is not 19 digits, and (when the tables are built) decimal text that is not
a number or has more decimals than the instrument allows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa

from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.text_columns import TextBlock, parse_decimal, parse_signed_decimal
from hedgegrid_data.tables.funding import RATE_SCALE
from hedgegrid_data.tables.mark_prices import MARK_PRICE_SCALE
from hedgegrid_data.tables.trades import BUYER, SELLER

UTC_NS = pa.timestamp("ns", tz="UTC")
EXACT_SCALE = 12   # bar volumes: decimals the instrument does not bound (as the archive's klines)
MAX_LINE_BYTES = 1 << 22  # a REST snapshot of 5,000 levels is ~250 KiB

TRADE = "trade"
AGG_TRADE = "aggTrade"
BOOK_TICKER = "bookTicker"
MARK_PRICE = "markPriceUpdate"
KLINE = "kline"
DEPTH = "depthUpdate"
SNAPSHOT = "depthSnapshot"  # a REST ``/depth`` answer recorded among the frames (no ``e``)
BUILT = (TRADE, AGG_TRADE, BOOK_TICKER, MARK_PRICE, KLINE)


@dataclass(frozen=True)
class Frame:
    """One frame of a file: its line (1-based), receive time (ns, None when not recorded) and JSON bytes."""

    line: int
    receive_ns: int | None
    data: bytes


ReceiveTime = Callable[[bytes], tuple[int | None, bytes]]


def ns_prefix(line: bytes) -> tuple[int | None, bytes]:
    """The capture format: ``<receive time, epoch ns> <frame>``, or the bare frame."""
    if line[:1] == b"{":
        return None, line
    head, sep, rest = line.partition(b" ")
    if not sep or not head.isdigit() or len(head) != 19:
        raise ValueError(f"starts with {head[:40]!r}: neither a JSON frame nor a receive time in ns (19 digits)")
    return int(head), rest


def iso_prefix(line: bytes) -> tuple[int | None, bytes]:
    """Tardis' format: ``<YYYY-MM-DDTHH:MM:SS.fffffffZ> <frame>`` (28 characters, 100 ns resolution)."""
    head = line[:28]
    try:
        if len(head) != 28 or line[28:29] != b" " or head[19:20] != b"." or head[27:28] != b"Z":
            raise ValueError
        whole = _epoch_seconds(head[:19])
        fraction = head[20:27]
        if not fraction.isdigit():
            raise ValueError
    except ValueError:
        raise ValueError(f"starts with {head!r}, not a 28-character UTC time like 2024-08-08T23:59:59.1234567Z"
                         ) from None
    return whole * 10**9 + int(fraction) * 100, line[29:]


@lru_cache(maxsize=4096)
def _epoch_seconds(text: bytes) -> int:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC) → epoch seconds; cached: a replay's lines share their second."""
    return int(dt.datetime.strptime(text.decode("ascii"), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC).timestamp())


class _Bad(Exception):
    """A frame's content is wrong; the parser adds the file and line."""


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else f"{text[:60]}…"


def _field(obj: dict, key: str, kind: type, what: str) -> object:
    value = obj.get(key)
    if type(value) is not kind:
        raise _Bad(f"{what} field {key!r} is {_shown(value) if key in obj else 'missing'}, not "
                   f"{ {str: 'text', int: 'an integer', bool: 'a boolean'}[kind] }")
    return value


def _text(obj: dict, key: str, what: str) -> str:
    return _field(obj, key, str, what)  # type: ignore[return-value]


def _int(obj: dict, key: str, what: str) -> int:
    return _field(obj, key, int, what)  # type: ignore[return-value]


def _time(obj: dict, key: str, what: str) -> int:
    """An epoch time in ms (13 digits) or µs (16 digits) → ns."""
    value = _int(obj, key, what)
    if 10**12 <= value < 10**13:
        return value * 1_000_000
    if 10**15 <= value < 10**16:
        return value * 1_000
    raise _Bad(f"{what} field {key!r} = {value} is neither epoch milliseconds (13 digits) nor microseconds (16)")


TRADE_ROW = ("line", "receive_ns", "symbol", "trade_id", "price", "qty", "ts_event", "aggressor_side")
QUOTE_ROW = ("line", "receive_ns", "symbol", "bid_price", "bid_size", "ask_price", "ask_size", "ts_event",
             "update_id")
MARK_ROW = ("line", "receive_ns", "symbol", "mark_price", "index_price", "ts_event")
FUNDING_ROW = ("line", "receive_ns", "symbol", "rate", "next_funding_time", "ts_event")
BAR_ROW = ("line", "receive_ns", "symbol", "interval", "open_time", "close_time", "open", "high", "low", "close",
           "volume", "count")
ROWS = {TRADE: TRADE_ROW, AGG_TRADE: TRADE_ROW, BOOK_TICKER: QUOTE_ROW, MARK_PRICE: MARK_ROW, "funding": FUNDING_ROW}


@dataclass
class Frames:
    """What a file's frames hold: rows per built event type (decimals still text), every frame counted by event
    type (``events``) with what was skipped and why (``skipped``), and every frame's receive time (``receipts``:
    where a capture was disconnected)."""

    file: str
    rows: dict[str, list[tuple]] = field(default_factory=lambda: {k: [] for k in (*BUILT, "funding")})
    events: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    lines: int = 0
    receipts: list[int] = field(default_factory=list)  # the receive time of every frame, in file order

    def symbols(self, event: str) -> set[str]:
        """The symbols (``s``, as Binance spells them: ``BTCUSDT``, ``BTCUSD_PERP``) with rows of ``event``."""
        return {row[2] for row in self.rows["funding" if event == "funding" else event]}

    def event_times(self, event: str) -> Iterator[tuple[str, int]]:
        """``(symbol, ts_event)`` of every row of ``event`` (``funding`` for funding updates; not klines)."""
        symbol, ts_event = ROWS[event].index("symbol"), ROWS[event].index("ts_event")
        for row in self.rows[event]:
            yield row[symbol], row[ts_event]

    # ---- canonical tables of one symbol ------------------------------------------------------------------------

    def _columns(self, event: str, names: tuple[str, ...], symbol: str) -> dict[str, list]:
        rows = [row for row in self.rows[event] if row[2] == symbol]
        return {name: list(values) for name, values in zip(names, zip(*rows), strict=True)} if rows else {
            name: [] for name in names}

    def _block(self, columns: dict[str, list], text: tuple[str, ...]) -> TextBlock:
        batch = pa.RecordBatch.from_arrays([pa.array(columns[c], pa.string()) for c in text], names=list(text))
        return TextBlock(batch, 0, columns["line"])

    def _times(self, columns: dict[str, list]) -> tuple[pa.Array, pa.Array, pa.Array]:
        ts_event = pa.array(columns["ts_event"], pa.int64())
        ts_init = pa.array([r if r is not None else e for r, e in zip(columns["receive_ns"], columns["ts_event"],
                                                                      strict=True)], pa.int64())
        return ts_event.cast(UTC_NS), ts_init.cast(UTC_NS), pa.array(columns["line"], pa.int64())

    def trades(self, symbol: str, price_precision: int, size_precision: int, event: str = TRADE) -> pa.Table:
        """``trade`` (or ``aggTrade``) frames of ``symbol`` as canonical trades with ``ts_init`` and ``line``, in
        file order."""
        columns = self._columns(event, TRADE_ROW, symbol)
        block = self._block(columns, ("price", "qty"))
        ts_event, ts_init, line = self._times(columns)
        return pa.table({
            "trade_id": pa.array(columns["trade_id"], pa.int64()),
            "price": parse_decimal(block, "price", price_precision, self.file, f"{symbol}'s price precision"),
            "qty": parse_decimal(block, "qty", size_precision, self.file, f"{symbol}'s size precision"),
            "ts_event": ts_event,
            "aggressor_side": pa.array(columns["aggressor_side"], pa.uint8()),
            "ts_init": ts_init,
            "line": line,
        })

    def quotes(self, symbol: str, price_precision: int, size_precision: int) -> pa.Table:
        """``bookTicker`` frames of ``symbol`` as quotes (``bid_price, bid_size, ask_price, ask_size, ts_event,
        ts_init``) with ``line`` and ``update_id`` (the book's update id ``u``: the quote's identity)."""
        columns = self._columns(BOOK_TICKER, QUOTE_ROW, symbol)
        block = self._block(columns, ("bid_price", "bid_size", "ask_price", "ask_size"))
        ts_event, ts_init, line = self._times(columns)
        prices = {c: parse_decimal(block, c, price_precision, self.file, f"{symbol}'s price precision")
                  for c in ("bid_price", "ask_price")}
        sizes = {c: parse_decimal(block, c, size_precision, self.file, f"{symbol}'s size precision")
                 for c in ("bid_size", "ask_size")}
        return pa.table({"bid_price": prices["bid_price"], "bid_size": sizes["bid_size"],
                         "ask_price": prices["ask_price"], "ask_size": sizes["ask_size"],
                         "ts_event": ts_event, "ts_init": ts_init, "line": line,
                         "update_id": pa.array(columns["update_id"], pa.int64())})

    def mark_prices(self, symbol: str) -> pa.Table:
        """``markPriceUpdate`` frames of ``symbol`` as mark prices (``mark_price, index_price`` exact at
        ``MARK_PRICE_SCALE``, ``ts_event`` = ``E``) with ``line``; ``index_price`` null where the frame has none."""
        columns = self._columns(MARK_PRICE, MARK_ROW, symbol)
        has_index = [v is not None for v in columns["index_price"]]
        columns["index_price"] = [v if v is not None else "0" for v in columns["index_price"]]
        block = self._block(columns, ("mark_price", "index_price"))
        ts_event, ts_init, line = self._times(columns)
        index = parse_decimal(block, "index_price", MARK_PRICE_SCALE, self.file, "an exact index price")
        return pa.table({
            "mark_price": parse_decimal(block, "mark_price", MARK_PRICE_SCALE, self.file, "an exact mark price"),
            "index_price": pa.array([v if ok else None for v, ok in zip(index.to_pylist(), has_index, strict=True)],
                                    index.type) if not all(has_index) else index,
            "ts_event": ts_event, "ts_init": ts_init, "line": line})

    def funding_updates(self, symbol: str) -> pa.Table:
        """``markPriceUpdate`` frames of ``symbol`` with a funding rate as funding updates (``rate`` exact at
        ``RATE_SCALE``, ``next_funding_time``, ``ts_event`` = ``E``) with ``line``."""
        columns = self._columns("funding", FUNDING_ROW, symbol)
        block = self._block(columns, ("rate",))
        ts_event, ts_init, line = self._times(columns)
        return pa.table({
            "rate": parse_signed_decimal(block, "rate", RATE_SCALE, self.file, "Binance's funding-rate precision"),
            "next_funding_time": pa.array(columns["next_funding_time"], pa.int64()).cast(UTC_NS),
            "ts_event": ts_event, "ts_init": ts_init, "line": line})

    def bars(self, symbol: str, interval: str, price_precision: int) -> pa.Table:
        """Closed ``kline`` frames of ``symbol`` and ``interval``: ``open_time, open, high, low, close, volume,
        close_time, count`` (volume exact at ``EXACT_SCALE``; ``close_time`` the bar's last instant), ``ts_event``
        = close time, ``ts_init``, ``line``."""
        rows = [row for row in self.rows[KLINE] if row[2] == symbol and row[3] == interval]
        columns = {name: list(values) for name, values in zip(BAR_ROW, zip(*rows), strict=True)} if rows else {
            name: [] for name in BAR_ROW}
        columns["ts_event"] = columns["close_time"]
        block = self._block(columns, ("open", "high", "low", "close", "volume"))
        ts_event, ts_init, line = self._times(columns)
        prices = {c: parse_decimal(block, c, price_precision, self.file, f"{symbol}'s price precision")
                  for c in ("open", "high", "low", "close")}
        return pa.table({
            "open_time": pa.array(columns["open_time"], pa.int64()).cast(UTC_NS), **prices,
            "volume": parse_decimal(block, "volume", EXACT_SCALE, self.file, "an exact volume"),
            "close_time": ts_event, "count": pa.array(columns["count"], pa.int64()),
            "ts_event": ts_event, "ts_init": ts_init, "line": line})

    # ---- reading frames ----------------------------------------------------------------------------------------

    def add(self, frame: Frame) -> None:
        """Parse one frame into its rows (or count it skipped); an unreadable frame raises naming its line."""
        try:
            self._add(frame)
        except _Bad as exc:
            raise ArchiveDataError(self.file, str(exc), line=frame.line) from None
        if frame.receive_ns is not None:
            self.receipts.append(frame.receive_ns)

    def _add(self, frame: Frame) -> None:
        try:
            obj = json.loads(frame.data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Bad(f"not a JSON frame (cut short?): {exc}") from None
        if type(obj) is not dict:
            raise _Bad(f"not a JSON object but {type(obj).__name__}")
        stream = ""
        if "data" in obj and "stream" in obj:  # the combined-stream envelope
            stream, obj = obj["stream"], obj["data"]
            if type(obj) is not dict or type(stream) is not str:
                raise _Bad("combined-stream envelope whose data is not an object")
        event = obj.get("e")
        if event is None:
            if "lastUpdateId" in obj:
                event = SNAPSHOT
            elif stream.endswith("@bookTicker") or {"u", "s", "b", "B", "a", "A"} <= obj.keys():
                event = BOOK_TICKER  # spot: no event type, no time
            else:
                raise _Bad(f"not a Binance event: no event type 'e' in {_shown(obj)}")
        elif type(event) is not str:
            raise _Bad(f"event type 'e' is {_shown(event)}, not text")
        self.events[event] += 1
        receive = frame.receive_ns
        line = frame.line
        if event in (TRADE, AGG_TRADE):
            symbol = _text(obj, "s", event)
            if event == TRADE:
                trade_id = _int(obj, "t", event)
                kind = obj.get("X", "MARKET")  # futures: MARKET, INSURANCE_FUND, ADL, NA
                if kind != "MARKET":
                    self.skipped[f"trade X={kind}"] += 1
                    return
            else:
                trade_id = _int(obj, "a", event)
            side = SELLER if _field(obj, "m", bool, event) else BUYER
            self.rows[event].append((line, receive, symbol, trade_id, _text(obj, "p", event), _text(obj, "q", event),
                                     _time(obj, "T", event), side))
        elif event == BOOK_TICKER:
            if "T" in obj:
                ts_event = _time(obj, "T", event)
            elif receive is None:
                raise _Bad("spot bookTicker frame without a receive time: it carries no time of its own")
            else:
                ts_event = receive
            self.rows[event].append((line, receive, _text(obj, "s", event), _text(obj, "b", event),
                                     _text(obj, "B", event), _text(obj, "a", event), _text(obj, "A", event),
                                     ts_event, _int(obj, "u", event)))
        elif event == MARK_PRICE:
            symbol, ts_event = _text(obj, "s", event), _time(obj, "E", event)
            index = _text(obj, "i", event) if "i" in obj else None
            self.rows[event].append((line, receive, symbol, _text(obj, "p", event), index or None, ts_event))
            rate = _text(obj, "r", event) if "r" in obj else ""
            if rate:
                next_funding = _time(obj, "T", event) if obj.get("T") else None
                self.rows["funding"].append((line, receive, symbol, rate, next_funding, ts_event))
        elif event == KLINE:
            bar = obj.get("k")
            if type(bar) is not dict:
                raise _Bad(f"kline frame without its bar 'k': {_shown(obj)}")
            if not _field(bar, "x", bool, "kline"):
                self.skipped["kline not closed"] += 1
                return
            self.rows[event].append((
                line, receive, _text(obj, "s", event), _text(bar, "i", event), _time(bar, "t", event),
                _time(bar, "T", event), *(_text(bar, k, event) for k in "ohlcv"), _int(bar, "n", event)))
        else:
            self.skipped[event] += 1  # depth updates, snapshots and event types we do not build


def split_lines(lines: Iterable[bytes], file: str, receive_time: ReceiveTime = ns_prefix) -> Iterator[Frame]:
    """``Frame``s of a file's lines (1-based line numbers; blank lines are skipped: Tardis marks disconnects with
    them); a prefix that does not read is an error naming the line."""
    for number, line in enumerate(lines, start=1):
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            raise ArchiveDataError(file, f"a line of {len(line)} bytes, over {MAX_LINE_BYTES}: not a frame", number)
        try:
            receive_ns, data = receive_time(line)
        except ValueError as exc:
            raise ArchiveDataError(file, str(exc), line=number) from None
        yield Frame(number, receive_ns, data)


def parse_frames(frames: Iterable[Frame], file: str) -> Frames:
    """Every frame of ``file`` parsed (rows per event type, counts of the rest)."""
    parsed = Frames(file)
    for frame in frames:
        parsed.add(frame)
        parsed.lines = frame.line
    return parsed


def parse_lines(lines: Iterable[bytes], file: str, receive_time: ReceiveTime = ns_prefix) -> Frames:
    """Every line of ``file`` (``[<receive time>] <frame>``, the prefix read by ``receive_time``) parsed."""
    return parse_frames(split_lines(lines, file, receive_time), file)
