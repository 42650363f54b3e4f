"""The day steps of capture feeds: a day of one import × table × symbol from every capture file covering it.

The day's files are the ones its raw asset fetched (``sources/landing``); each is parsed by the one frame parser
and its rows of the day (by ``ts_event``) are taken, so a file spanning midnight gives each day its part.

- **trades / aggTrades**: overlapping captures (reconnects, two recorders) are merged by trade (aggregate) id: a
  trade received twice keeps its first receipt (``ts_init``), and a repeated id whose price, size, time or side
  differ is an error naming both files and lines. Then the shared ``CanonicalTradesDay(receive_times=True)``.
  Missing ids are reported by ``trade_id_gaps`` as a WARN (a capture loses trades at every disconnect: the day is
  still what was received, and the gap is listed), not a blocking error as for the archive.
- **quotes, mark prices, funding updates**: the shared ``CanonicalTableDay`` (it drops rows received twice).
- every table: ``capture_disconnects`` (WARN) lists the stretches of the day longer than the import's
  ``disconnect_seconds`` without any received frame: disconnects, and the parts of the day no capture covers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.feeds.feed import CatalogSeries, CheckSpec, Feed, PublicationPlan, StagedDay
from hedgegrid_data.feeds.table_day import CanonicalTable, CanonicalTableDay, TableFile, canonical_day, silences
from hedgegrid_data.feeds.trades_day import CanonicalTradesDay, TradesFile
from hedgegrid_data.quality.findings import Severity, Verdict
from hedgegrid_data.quality.trades import TradeCheckThresholds
from hedgegrid_data.sources.binance_stream.frames import Frames
from hedgegrid_data.sources.landing.source import LandingDay, LandingSource, fetched_files
from hedgegrid_data.sources.websocket.capture import read_capture
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.trades import RECEIVE_TIME, TRADE_COLUMNS
from hedgegrid_data.venues.binance import Market, build_instrument
from hedgegrid_data.venues.symbols import symbol_spec

DISCONNECTS = CheckSpec("capture_disconnects", False, "Stretches of the day without any received frame longer than "
                                                       "the import's disconnect_seconds (disconnects, and the parts "
                                                       "of the day no capture covers), listed.")
VALUES = ("price", "qty", "ts_event", "aggressor_side")


@dataclass(frozen=True)
class Capture:
    """One capture file's part of a day: its rows of the table (``line`` included), the receive times of its
    frames on the day, and its frames counted by event type. Each file's parsed frames are reduced to this at
    once, so a day of many files holds Arrow tables, not every file's frames."""

    name: str
    rows: pa.Table
    receipts: list[int]
    events: dict[str, int]
    skipped: dict[str, int]


@dataclass(frozen=True)
class CaptureDay:
    """What every capture table's steps share: the import's source, market and table, and how a day's captures
    are read."""

    source: LandingSource
    market: Market
    table: str
    disconnect_ns: int

    def key(self, symbol: str) -> str:
        """The landing index key of the table's rows of ``symbol``."""
        return f"{self.table}.{symbol}"

    def instrument(self, symbol: str) -> Instrument:
        return build_instrument(symbol_spec(self.market, symbol))

    def captures(self, store: DataStore, day: dt.date, symbol: str,
                 rows: Callable[[Frames], pa.Table]) -> list[Capture]:
        """Every fetched file of the day, its ``rows`` (a table of its frames) taken on the day."""
        start, end = day_bounds_ns(day)
        captures = []
        for file in fetched_files(self.source.raw_root(store), LandingDay(self.key(symbol), day)):
            frames = read_capture(file.path, file.name)
            captures.append(Capture(file.name, in_day(rows(frames), day),
                                    [ns for ns in frames.receipts if start <= ns <= end],
                                    dict(frames.events), dict(frames.skipped)))
        return captures

    def disconnects(self, captures: list[Capture], day: dt.date) -> Verdict:
        if not any(c.receipts for c in captures):
            return Verdict(DISCONNECTS.name, True, Severity.WARN, "the captures carry no receive times")
        return silences(sorted(ns for c in captures for ns in c.receipts), day, self.disconnect_ns, DISCONNECTS.name)

    def metadata(self, captures: list[Capture]) -> dict[str, object]:
        events: dict[str, int] = {}
        skipped: dict[str, int] = {}
        for capture in captures:
            for name, n in capture.events.items():
                events[name] = events.get(name, 0) + n
            for name, n in capture.skipped.items():
                skipped[name] = skipped.get(name, 0) + n
        return {"capture_files": ", ".join(c.name for c in captures), "frames_by_event": events,
                "frames_skipped": skipped}


def in_day(table: pa.Table, day: dt.date) -> pa.Table:
    start, end = day_bounds_ns(day)
    ts = table.column("ts_event").cast(pa.int64())
    return table.filter(pc.and_(pc.greater_equal(ts, start), pc.less_equal(ts, end)))


def merge_by_id(tables: list[pa.Table], names: list[str]) -> tuple[pa.Table, int]:
    """The trades of several captures (each with ``line``), one row per trade id: the first receipt of each,
    ordered by (ts_event, id); returns it and how many receipts were dropped. A repeated id with other values
    is an error naming both files and lines."""
    frame = pl.concat([pl.from_arrow(t.append_column("file", pa.array([i] * t.num_rows, pa.int32())))
                       for i, t in enumerate(tables)]).sort(["trade_id", RECEIVE_TIME, "file", "line"])
    repeated = frame.filter(pl.col("trade_id").is_duplicated())
    if repeated.height:
        conflicts = repeated.group_by("trade_id").agg(pl.struct(VALUES).n_unique().alias("versions")).filter(
            pl.col("versions") > 1)
        if conflicts.height:
            trade_id = conflicts["trade_id"].min()
            first, other = (repeated.filter(pl.col("trade_id") == trade_id).unique(subset=list(VALUES), keep="first",
                                                                                 maintain_order=True)
                            .head(2).rows(named=True))
            differs = {c: (str(first[c]), str(other[c])) for c in VALUES if first[c] != other[c]}
            raise ArchiveDataError(names[other["file"]], f"trade id {trade_id} was received before with other values "
                                   f"({names[first['file']]}, line {first['line']}): {differs}", line=other["line"])
    unique = frame.unique(subset="trade_id", keep="first", maintain_order=True).sort(["ts_event", "trade_id"])
    return unique.to_arrow(), frame.height - unique.height


def _not_read(store: DataStore, day: dt.date, symbol: str) -> object:
    raise AssertionError("capture steps read their day themselves")


@dataclass(frozen=True)
class CaptureTradesDay:
    """``DaySteps`` of a capture's trades (``event``: ``trade`` or ``aggTrade``)."""

    capture: CaptureDay
    event: str
    thresholds: TradeCheckThresholds

    def canonical(self, read: Callable = _not_read) -> CanonicalTradesDay:
        return CanonicalTradesDay(read, self.capture.instrument, self.thresholds, receive_times=True)

    def series(self, symbol: str) -> list[CatalogSeries]:
        return self.canonical().series(symbol)

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return self.canonical().normalized_files(feed, store, day, symbol)

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        return self.canonical().plan(feed, store, day, symbol)

    def trades(self, captures: list[Capture]) -> TradesFile:
        names = [c.name for c in captures]
        merged, dropped = merge_by_id([c.rows for c in captures], names)
        columns = merged.select([*TRADE_COLUMNS, RECEIVE_TIME])

        def batches() -> Iterator[pa.RecordBatch]:
            yield from columns.to_batches()

        return TradesFile(" + ".join(names), batches, {**self.capture.metadata(captures), "received_twice": dropped})

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        instrument = self.capture.instrument(symbol)
        captures = self.capture.captures(store, day, symbol, lambda frames: frames.trades(
            symbol, instrument.price_precision, instrument.size_precision, self.event))
        for capture in captures:  # rules no parser guarantees, checked per file to name its line
            positive = pc.and_(pc.greater(capture.rows.column("price"), 0), pc.greater(capture.rows.column("qty"), 0))
            if not pc.all(positive).as_py():
                row = pc.index(positive, False).as_py()
                raise ArchiveDataError(capture.name, f"a trade of price {capture.rows.column('price')[row]} and size "
                                       f"{capture.rows.column('qty')[row]}: both must be above 0",
                                       line=capture.rows.column("line")[row].as_py())
        file = self.trades(captures)
        staged = self.canonical(lambda *_: file).stage(feed, store, day, symbol)
        verdicts = [replace(v, severity=Severity.WARN) if v.check == "trade_id_gaps" else v for v in staged.verdicts]
        return replace(staged, verdicts=[*verdicts, self.capture.disconnects(captures, day)])


@dataclass(frozen=True)
class CaptureTableDay:
    """``DaySteps`` of a capture's quotes, mark prices or funding updates (``table``)."""

    capture: CaptureDay
    table: CanonicalTable

    def canonical(self, read: Callable = _not_read) -> CanonicalTableDay:
        return CanonicalTableDay(read, self.capture.instrument, self.table)

    def series(self, symbol: str) -> list[CatalogSeries]:
        return self.canonical().series(symbol)

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return self.canonical().normalized_files(feed, store, day, symbol)

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        return self.canonical().plan(feed, store, day, symbol)

    def rows(self, symbol: str) -> Callable[[Frames], pa.Table]:
        instrument = self.capture.instrument(symbol)
        return {
            "quotes": lambda f: f.quotes(symbol, instrument.price_precision, instrument.size_precision),
            "mark_prices": lambda f: f.mark_prices(symbol),
            "funding_updates": lambda f: f.funding_updates(symbol),
        }[self.table.name]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        captures = self.capture.captures(store, day, symbol, self.rows(symbol))
        if len(captures) > 1:  # each file on its own first: an invalid row is then named by its file and line
            for capture in captures:
                canonical_day(TableFile(capture.name, capture.rows), self.table, self.capture.instrument(symbol), day,
                              what=f"{self.table.name} row")
        file = TableFile(" + ".join(c.name for c in captures), pa.concat_tables([c.rows for c in captures]),
                         self.capture.metadata(captures))
        staged = self.canonical(lambda *_: file).stage(feed, store, day, symbol)
        return replace(staged, verdicts=[*staged.verdicts, self.capture.disconnects(captures, day)])
