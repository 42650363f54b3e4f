"""Day steps for any feed whose source yields canonical trades (``tables/trades.py``), and the publication plan
every ``TradeTick`` feed shares.

A source only has to read its day: ``CanonicalTradesDay(read=...)`` streams the batches it yields through
``feeds/trade_stream.py`` into the normalized table (the canonical columns), the staged ``TradeTick`` day file
and the trades checks, in one validated pass; a day out of order or with repeated ids is sorted and
de-duplicated (conflicting duplicates are an error). The source's ``TradeIds`` say how: integer ids that increase
with the trades order the day by (time, id); other ids (text) by time and then the file's own order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.catalog.integrity import parquet_edge_rows
from hedgegrid_data.catalog.trade_ticks import trade_tick_day_sink
from hedgegrid_data.epochs import day_bounds_ns, utc_text
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.feed import CatalogSeries, Feed, PublicationPlan, StagedDay, StagedSeries
from hedgegrid_data.feeds.trade_stream import order_check, order_of, write_stream
from hedgegrid_data.quality.trades import StreamCheck, TradeCheckThresholds
from hedgegrid_data.store import DataStore
from hedgegrid_data.streaming import on_worker_thread
from hedgegrid_data.tables.trades import INTEGER_IDS, RECEIVE_TIME, TRADE_COLUMNS, TradeIds, amount_rules, trade_fields


def trade_tick_tuple(tick: TradeTick) -> tuple:
    return tick.trade_id.value, str(tick.price), str(tick.size), int(tick.aggressor_side), tick.ts_event, tick.ts_init


def trade_tick_plan(instrument: Instrument, normalized: Path, ids: str = "trade_id",
                    qty: str = "qty") -> PublicationPlan:
    """The staged ``TradeTick`` day must read back as the normalized day: its row count, first and last trades
    (``ids`` and ``qty`` name the source table's id and quantity columns; ``ts_init`` is the receive time where
    the table has one)."""
    if not normalized.exists():
        raise HedgegridDataError(f"{normalized}: no normalized trades day to publish; materialize it first")
    receipt = [RECEIVE_TIME] if RECEIVE_TIME in pq.read_schema(normalized).names else []
    rows, first, last = parquet_edge_rows(normalized, [ids, "price", qty, "aggressor_side", "ts_event", *receipt])

    def as_tick(row: dict) -> tuple:
        return (str(row[ids]), f"{row['price']:f}", f"{row[qty]:f}", row["aggressor_side"], row["ts_event"],
                row.get(RECEIVE_TIME, row["ts_event"]))

    series = CatalogSeries(TradeTick, instrument.id.value)
    return PublicationPlan(instrument, [StagedSeries(series, rows, as_tick(first), as_tick(last), trade_tick_tuple)])


@dataclass
class TradesSummary:
    """What a normalized trades day contains; reported as materialization metadata."""

    rows: int = 0
    first_trade_id: int | str | None = None
    last_trade_id: int | str | None = None
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    duplicates_dropped: int = 0
    resorted: bool = False
    source_rows: int = 0

    def observe(self, batch: pa.RecordBatch) -> None:
        ids, ts = batch.column("trade_id"), batch.column("ts_event")
        if self.first_trade_id is None:
            self.first_trade_id = ids[0].as_py()
            self.first_ts_ns = ts[0].value
        self.last_trade_id = ids[-1].as_py()
        self.last_ts_ns = ts[-1].value
        self.rows += batch.num_rows

    def metadata(self) -> dict[str, object]:
        return {"rows": self.rows, "source_rows": self.source_rows, "duplicates_dropped": self.duplicates_dropped,
                "resorted": self.resorted, "first_event_time": utc_text(self.first_ts_ns),
                "last_event_time": utc_text(self.last_ts_ns), "first_trade_id": self.first_trade_id,
                "last_trade_id": self.last_trade_id}


@dataclass(frozen=True)
class TradesFile:
    """A day's verified source file as canonical trades: its name (errors name it) and its batches in file
    order, read anew on every call (a day out of order is read twice). ``metadata``: what the reader learns
    about the file as it reads it (its dialect, its timestamps' resolution), reported with the day."""

    name: str
    batches: Callable[[], Iterator[pa.RecordBatch]]
    metadata: dict[str, object] = field(default_factory=dict)


TradesReader = Callable[[DataStore, dt.date, str], TradesFile]


@dataclass(frozen=True)
class CanonicalTradesDay:
    """``DaySteps`` of a feed whose source reads a day as canonical trade batches (``read``); ``instrument``
    builds the symbol's instrument (the venue's identity and precisions); ``ids`` is how the source's trade ids
    are typed and ordered."""

    read: TradesReader
    instrument: Callable[[str], Instrument]
    thresholds: TradeCheckThresholds = TradeCheckThresholds()
    ids: TradeIds = INTEGER_IDS
    receive_times: bool = False  # the batches carry ``ts_init`` (when each trade was received): kept and published

    @property
    def columns(self) -> tuple[str, ...]:
        return (*TRADE_COLUMNS, RECEIVE_TIME) if self.receive_times else TRADE_COLUMNS

    def series(self, symbol: str) -> list[CatalogSeries]:
        return [CatalogSeries(TradeTick, self.instrument(symbol).id.value)]

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return [feed.normalized_file(store, day, symbol)]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        instrument = self.instrument(symbol)
        fields = trade_fields(instrument.price_precision, instrument.size_precision, self.ids)
        columns = self.columns
        schema = pa.schema([fields[c] for c in columns])
        utc_ns = pl.Datetime("ns", "UTC")
        receipt = {RECEIVE_TIME: pa_pl.Column(utc_ns)} if self.receive_times else {}
        rules = pa_pl.DataFrameSchema({**amount_rules(instrument.price_precision, instrument.size_precision),
                                       "trade_id": self.ids.rule(), "ts_event": pa_pl.Column(utc_ns),
                                       "aggressor_side": pa_pl.Column(pl.UInt8, pa_pl.Check.isin([1, 2])),
                                       **receipt},
                                      strict=True, name=f"{feed.name} {symbol} {day}")
        check = StreamCheck(day_bounds_ns(day), self.thresholds, consecutive_ids=feed.consecutive_ids)
        staging = feed.staging(store)
        out = feed.normalized_file(store, day, symbol)
        source_file = self.read(store, day, symbol)

        def stream(summary: TradesSummary, check_order: bool) -> Iterator[pa.RecordBatch]:
            in_order = order_check(self.ids, "trade_id")
            for batch in source_file.batches():
                batch = pa.RecordBatch.from_arrays([batch.column(c).cast(schema.field(c).type) for c in columns],
                                                   schema=schema)
                summary.source_rows += batch.num_rows
                if check_order:
                    in_order(batch)
                yield batch
            if check_order:
                in_order.finish()

        summary = write_stream(
            stream, lambda resorted: TradesSummary(resorted=resorted), schema, rules, out,
            [lambda: on_worker_thread(lambda: trade_tick_day_sink(staging, instrument, day)),
             lambda: on_worker_thread(check.sink)],
            file=source_file.name, line_of=lambda summary: lambda row: None, id_column="trade_id", what="trade",
            order_by=order_of(self.ids, "trade_id"))
        metadata = {**summary.metadata(), **source_file.metadata, "bytes": out.stat().st_size, "path": out,
                    "staged_catalog_file": day_file_path(staging, TradeTick, instrument.id.value, day)}
        return StagedDay(check.verdicts(), metadata, {"rows_validated": summary.source_rows})

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        return trade_tick_plan(self.instrument(symbol), feed.normalized_file(store, day, symbol))
