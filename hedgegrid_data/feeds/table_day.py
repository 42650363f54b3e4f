"""Day steps for any feed whose source reads a day as one canonical table other than trades: quotes, mark prices,
funding-rate updates. Trades stream through ``feeds/trades_day.py`` instead.

A source only has to read its day: ``CanonicalTableDay(read=...)`` takes the ``TableFile`` it returns (the
canonical columns, and optionally ``line``: each row's line in the source file, for errors), and

1. refuses a row whose ``ts_event`` lies outside the day (naming file and line) and validates the table's rules;
2. orders the day by (``ts_event``, ``ts_init``) and drops rows received twice, as overlapping captures deliver
   them (the first receipt is kept): rows equal in every column but ``ts_init`` or, where the source gives each
   row its own identity (``update_id``: Binance's book update id), rows of one update with equal values — their
   times may differ where the time is the receipt's; one update with different values is an error;
3. writes the normalized table and stages the catalog day file through the table's Nautilus writer, atomically;
4. judges the day: each table's ``checks`` (WARN only: silences, coverage of the day, crossed quotes);
5. plans the read-back of the staged file through Nautilus (row count, first and last rows).

A day with no rows is not invented: its normalized table is empty and the catalog loses the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import FundingRateUpdate, MarkPriceUpdate, QuoteTick
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.atomic import atomic_parquet_writer
from hedgegrid_data.catalog.day_files import day_file_path, remove_day
from hedgegrid_data.catalog.funding_rates import funding_update_rows, funding_update_tuple, write_funding_rows_day
from hedgegrid_data.catalog.integrity import edge_rows
from hedgegrid_data.catalog.mark_prices import (
    exact_precision,
    mark_price_tuple,
    mark_price_updates,
    write_mark_price_day,
)
from hedgegrid_data.catalog.quote_ticks import quote_tick_tuple, write_quote_tick_day
from hedgegrid_data.epochs import day_bounds_ns, utc_text
from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.feeds.feed import CatalogSeries, CheckSpec, Feed, PublicationPlan, StagedDay, StagedSeries
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.funding import FUNDING_UPDATE_COLUMNS, funding_update_rules, funding_update_schema
from hedgegrid_data.tables.mark_prices import MARK_PRICE_COLUMNS, mark_price_rules, mark_price_schema
from hedgegrid_data.tables.quotes import QUOTE_COLUMNS, quote_rules, quote_schema
from hedgegrid_data.tables.validation import validate_rows

LINE = "line"  # optional column of a TableFile: the source line of each row
UPDATE_ID = "update_id"  # optional column of a TableFile: the source's identity of each row
SECOND_NS = 10**9


@dataclass(frozen=True)
class TableFile:
    """A source's day as one canonical table: ``name`` (errors name it), ``table`` (canonical columns, plus
    ``line`` where known) and what the reader learned about the file(s), reported with the day."""

    name: str
    table: pa.Table
    metadata: dict[str, object] = field(default_factory=dict)


TableReader = Callable[[DataStore, dt.date, str], TableFile]


def silences(ts_ns: list[int], day: dt.date, longest_ns: int, check: str = "silences") -> Verdict:
    """WARN for every stretch of the day longer than ``longest_ns`` without a row (a capture's disconnects, a
    vendor's outage), the start and end of the day included."""
    start, end = day_bounds_ns(day)
    edges = [start, *ts_ns, end + 1]
    windows = [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b - a > longest_ns]
    return Verdict(
        check, not windows, Severity.WARN,
        f"{len(windows)} silences longer than {longest_ns // SECOND_NS} s" if windows
        else f"no silence longer than {longest_ns // SECOND_NS} s",
        {"silences": len(windows), "silent_seconds": sum(b - a for a, b in windows) // SECOND_NS,
         "windows": [f"{utc_text(a)} – {utc_text(b)}" for a, b in windows[:MAX_EXAMPLES]]})


def crossed_quotes(table: pa.Table) -> Verdict:
    """WARN for quotes whose bid is above their ask (a locked book, bid = ask, is plausible)."""
    frame = pl.from_arrow(table.select(["bid_price", "ask_price", "ts_event"]))
    crossed = frame.filter(pl.col("bid_price") > pl.col("ask_price"))
    return Verdict(
        "crossed_quotes", crossed.height == 0, Severity.WARN,
        f"{crossed.height} quotes with bid above ask" if crossed.height else "no quote with bid above ask",
        {"crossed": crossed.height,
         "examples": [f"{utc_text(r['ts_event'])}: bid {r['bid_price']} > ask {r['ask_price']}"
                      for r in crossed.head(MAX_EXAMPLES).with_columns(pl.col("ts_event").dt.epoch("ns"))
                      .iter_rows(named=True)]})


@dataclass(frozen=True)
class CanonicalTable:
    """One canonical table (``tables/``) and the Nautilus type its days publish as: its schema and rules, the
    catalog writer, how a published object and a normalized row compare, and the day's checks."""

    name: str
    data_cls: type
    columns: tuple[str, ...]
    schema: Callable[[Instrument], pa.Schema]
    rules: Callable[[Instrument], dict[str, pa_pl.Column]]
    write: Callable[[Path, pa.Table, Instrument, dt.date], Path]
    published: Callable[[dict, Instrument, pa.Table], tuple]  # a normalized row as ``as_tuple`` of its object
    as_tuple: Callable[[Any], tuple]
    silence_ns: int
    crossed: bool = False

    @property
    def checks(self) -> tuple[CheckSpec, ...]:
        specs = [CheckSpec(f"{self.name}_silences", False,
                           f"Stretches of the day over {self.silence_ns // SECOND_NS} s without a row, listed.")]
        if self.crossed:
            specs.append(CheckSpec("crossed_quotes", False, "Quotes whose bid is above their ask, listed."))
        return tuple(specs)

    def judge(self, table: pa.Table, day: dt.date) -> list[Verdict]:
        ts = table.column("ts_event").cast(pa.int64()).to_pylist()
        verdicts = [silences(ts, day, self.silence_ns, f"{self.name}_silences")]
        if self.crossed:
            verdicts.append(crossed_quotes(table))
        return verdicts


def _text(value: Decimal) -> str:
    return f"{value:f}"


def _write_marks(root: Path, table: pa.Table, instrument: Instrument, day: dt.date) -> Path:
    return write_mark_price_day(root, mark_price_updates(table, instrument.id, instrument.price_precision), day)


def _published_mark(row: dict, instrument: Instrument, day_table: pa.Table) -> tuple:
    precision = exact_precision(day_table.column("mark_price"), instrument.price_precision)
    return f"{row['mark_price']:.{precision}f}", row["ts_event"], row["ts_init"]


def _write_funding(root: Path, table: pa.Table, instrument: Instrument, day: dt.date) -> Path:
    return write_funding_rows_day(root, instrument.id.value, day, funding_update_rows(table, instrument.id.value))


QUOTES = CanonicalTable(
    "quotes", QuoteTick, QUOTE_COLUMNS,
    schema=lambda i: quote_schema(i.price_precision, i.size_precision),
    rules=lambda i: quote_rules(i.price_precision, i.size_precision),
    write=lambda root, table, instrument, day: write_quote_tick_day(root, table, instrument, day),
    published=lambda row, i, t: (_text(row["bid_price"]), _text(row["bid_size"]), _text(row["ask_price"]),
                                 _text(row["ask_size"]), row["ts_event"], row["ts_init"]),
    as_tuple=quote_tick_tuple, silence_ns=60 * SECOND_NS, crossed=True)
MARK_PRICES = CanonicalTable(
    "mark_prices", MarkPriceUpdate, MARK_PRICE_COLUMNS, schema=lambda i: mark_price_schema(),
    rules=lambda i: mark_price_rules(), write=_write_marks, published=_published_mark, as_tuple=mark_price_tuple,
    silence_ns=60 * SECOND_NS)
FUNDING_UPDATES = CanonicalTable(
    "funding_updates", FundingRateUpdate, FUNDING_UPDATE_COLUMNS, schema=lambda i: funding_update_schema(),
    rules=lambda i: funding_update_rules(), write=_write_funding,
    published=lambda row, i, t: (i.id.value, _text(row["rate"]), row["next_funding_time"], row["ts_event"],
                                 row["ts_init"]),
    as_tuple=funding_update_tuple, silence_ns=60 * SECOND_NS)


def canonical_day(file: TableFile, table: CanonicalTable, instrument: Instrument, day: dt.date,
                  what: str) -> tuple[pa.Table, int]:
    """The file's rows of ``day`` validated, ordered and de-duplicated (see the module); returns the table and
    how many rows were dropped as received twice. Raises naming the file and line of the first bad row."""
    schema = table.schema(instrument)
    source = file.table
    missing = [c for c in table.columns if c not in source.column_names]
    if missing:
        raise ArchiveDataError(file.name, f"the {table.name} table lacks columns {missing}")
    lines = source.column(LINE) if LINE in source.column_names else pa.nulls(source.num_rows, pa.int64())

    def line_of(row: int) -> int | None:
        return lines[row].as_py()

    try:
        rows = pa.Table.from_arrays([source.column(c).cast(schema.field(c).type) for c in table.columns],
                                    schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ArchiveDataError(file.name, f"{table.name} values do not fit the instrument's decimals or the "
                                          f"table's types: {exc}") from None
    frame = pl.from_arrow(rows)
    assert isinstance(frame, pl.DataFrame)
    start, end = day_bounds_ns(day)
    ts = frame["ts_event"].dt.epoch("ns")
    outside = ((ts < start) | (ts > end)).arg_true()
    if len(outside):
        row = outside[0]
        raise ArchiveDataError(file.name, f"{what} at {utc_text(ts[row])} is outside {day} "
                                          f"({len(outside)} rows are)", line=line_of(row))
    rules = pa_pl.DataFrameSchema(
        {**{c: pa_pl.Column(pl.Datetime("ns", "UTC")) for c in ("ts_event", "ts_init")}, **table.rules(instrument)},
        strict=False, name=f"{table.name} {day}")
    validate_rows(rules, frame, file.name, lambda row: (f"{what} at row {row}", line_of(row)))
    if UPDATE_ID in source.column_names:
        frame = frame.with_columns(pl.from_arrow(source.column(UPDATE_ID)).cast(pl.Int64).alias(UPDATE_ID),
                                   pl.from_arrow(lines).cast(pl.Int64).alias(LINE))
        key = [UPDATE_ID, *(c for c in table.columns if c not in ("ts_event", "ts_init"))]
    else:
        key = [c for c in table.columns if c != "ts_init"]
    ordered = frame.sort(["ts_event", "ts_init"], maintain_order=True)
    unique = ordered.unique(subset=key, keep="first", maintain_order=True)
    if UPDATE_ID in unique.columns:
        repeated = unique.filter(pl.col(UPDATE_ID).is_duplicated())
        if repeated.height:
            first = repeated.sort(UPDATE_ID, LINE).head(2)
            raise ArchiveDataError(file.name, f"{what}s of update {first[UPDATE_ID][0]} differ (lines "
                                              f"{', '.join(str(v) for v in first[LINE])})", line=first[LINE][0])
    return unique.select(table.columns).to_arrow().cast(schema), frame.height - unique.height


@dataclass(frozen=True)
class CanonicalTableDay:
    """``DaySteps`` of a feed whose source reads a day as one canonical ``table`` (``read``); ``instrument`` builds
    the symbol's instrument (the venue's identity and precisions)."""

    read: TableReader
    instrument: Callable[[str], Instrument]
    table: CanonicalTable

    def series(self, symbol: str) -> list[CatalogSeries]:
        return [CatalogSeries(self.table.data_cls, self.instrument(symbol).id.value)]

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return [feed.normalized_file(store, day, symbol)]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        instrument = self.instrument(symbol)
        file = self.read(store, day, symbol)
        rows, dropped = canonical_day(file, self.table, instrument, day, what=f"{self.table.name} row")
        staging = feed.staging(store)
        staged = day_file_path(staging, self.table.data_cls, instrument.id.value, day)
        if rows.num_rows:
            try:
                self.table.write(staging, rows, instrument, day)
            except (HedgegridDataError, ValueError, pa.ArrowInvalid) as exc:
                raise ArchiveDataError(file.name, f"{self.table.name} of {day} cannot be written: {exc}") from exc
        else:
            remove_day(staging, self.table.data_cls, instrument.id.value, day)
        out = feed.normalized_file(store, day, symbol)
        with atomic_parquet_writer(out, rows.schema) as write:
            for batch in rows.to_batches():
                write(batch)
        ts = rows.column("ts_event").cast(pa.int64())
        metadata = {"rows": rows.num_rows, "source_rows": file.table.num_rows, "duplicates_dropped": dropped,
                    "first_event_time": utc_text(ts[0].as_py() if len(ts) else None),
                    "last_event_time": utc_text(ts[-1].as_py() if len(ts) else None),
                    **file.metadata, "bytes": out.stat().st_size, "path": out,
                    "staged_catalog_file": staged if rows.num_rows else ""}
        return StagedDay(self.table.judge(rows, day), metadata, {"rows_validated": file.table.num_rows})

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        instrument = self.instrument(symbol)
        normalized = feed.normalized_file(store, day, symbol)
        if not normalized.exists():
            raise HedgegridDataError(f"{normalized}: no normalized {self.table.name} day to publish; "
                                     "materialize it first")
        rows = pq.read_table(normalized)
        if rows.num_rows == 0:
            return PublicationPlan(instrument, [], nothing_because=f"no {self.table.name} on the day: no day file")
        first, last = (self.table.published(row, instrument, rows) for row in edge_rows(rows))
        [series] = self.series(symbol)
        return PublicationPlan(instrument, [StagedSeries(series, rows.num_rows, first, last, self.table.as_tuple)])
