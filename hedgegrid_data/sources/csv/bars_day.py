"""The day steps of a CSV bars import: one interval's bars of a day → the normalized bars table → ``Bar`` day file.

The day's rows (``TableFile``: open time, the Binance close-time convention ``open + interval − 1 ms``, exact
OHLC at the instrument's price precision and volume at its size precision, ``line``) are ordered by open time;
rows repeated exactly (overlapping exports) are dropped, and two different bars of one open time, or an open
time off the interval's grid, are errors naming the file and line. The verdicts are the archive's
(``quality/bars.py``): ``ohlcv_rules`` (blocking) and ``bar_gaps``. Bars are
``<instrument>-<step>-<unit>-LAST-EXTERNAL`` with ``ts_event = ts_init =`` close time (``catalog/bars.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import Bar
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.atomic import atomic_parquet_writer
from hedgegrid_data.catalog.bars import bar_schema, bar_table, bar_type, write_bar_day
from hedgegrid_data.catalog.day_files import day_file_path, remove_day
from hedgegrid_data.catalog.integrity import edge_rows
from hedgegrid_data.epochs import TimeUnit, day_bounds_ns, utc_text
from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.feeds.feed import CatalogSeries, CheckSpec, Feed, PublicationPlan, StagedDay, StagedSeries
from hedgegrid_data.feeds.table_day import LINE, TableReader
from hedgegrid_data.quality.bars import bar_gaps, ohlcv_rules
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.bars import PRICE_COLUMNS, interval_ns

BAR_COLUMNS = ("open_time", "close_time", *PRICE_COLUMNS, "volume")
BAR_CHECKS = (
    CheckSpec("ohlcv_rules", True, "high ≥ max(open, close), low ≤ min(open, close), high ≥ low, volume ≥ 0, open "
                                   "times increasing: counts per rule and the first offending bars."),
    CheckSpec("bar_gaps", False, "Expected bars of the day at the import's interval; missing bars as windows."),
)


def bar_tuple(bar: Bar) -> tuple:
    return str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume), bar.ts_event, bar.ts_init


def bars_schema(instrument: Instrument) -> pa.Schema:
    utc = pa.timestamp("ns", tz="UTC")
    price, size = pa.decimal128(38, instrument.price_precision), pa.decimal128(38, instrument.size_precision)
    return pa.schema([pa.field("open_time", utc, nullable=False), pa.field("close_time", utc, nullable=False),
                      *(pa.field(c, price, nullable=False) for c in PRICE_COLUMNS),
                      pa.field("volume", size, nullable=False)])


def ordered_bars(file_name: str, table: pa.Table, interval: str, day: dt.date) -> tuple[pa.Table, int]:
    """The day's bars by open time, exact repeats dropped; returns them (with ``line``) and the drop count."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    lines = frame[LINE] if LINE in frame.columns else pl.Series(LINE, [None] * frame.height, pl.Int64)
    opens = frame["open_time"].dt.epoch("ns")
    start, end = day_bounds_ns(day)
    step = interval_ns(interval)
    bad = (((opens - start) % step != 0) | (opens < start) | (opens > end)).arg_true()
    if len(bad):
        raise ArchiveDataError(file_name, f"bar open time {utc_text(opens[bad[0]])} is not on the {interval} grid of "
                                          f"{day}", line=lines[bad[0]])
    values = list(BAR_COLUMNS)
    ordered = frame.with_columns(lines.alias(LINE)).sort("open_time", maintain_order=True)
    unique = ordered.unique(subset=values, keep="first", maintain_order=True)
    repeated = unique.filter(pl.col("open_time").is_duplicated())
    if repeated.height:
        row = repeated.row(1, named=True)
        raise ArchiveDataError(file_name, f"two different {interval} bars open at {row['open_time']}",
                               line=row[LINE])
    return unique.to_arrow(), frame.height - unique.height


@dataclass(frozen=True)
class CsvBarsDay:
    """``DaySteps`` of a bars import: ``read`` gives the day's rows, ``instrument`` the symbol's instrument."""

    read: TableReader
    instrument: Callable[[str], Instrument]
    interval: str

    def series(self, symbol: str) -> list[CatalogSeries]:
        return [CatalogSeries(Bar, str(bar_type(self.instrument(symbol).id, self.interval)))]

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return [feed.normalized_file(store, day, symbol)]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        instrument = self.instrument(symbol)
        file = self.read(store, day, symbol)
        schema = bars_schema(instrument)
        try:
            source = file.table.select(list(BAR_COLUMNS)).cast(schema)
        except (pa.ArrowInvalid, KeyError) as exc:
            raise ArchiveDataError(file.name, f"bars do not fit the instrument's decimals: {exc}") from None
        if LINE in file.table.column_names:
            source = source.append_column(LINE, file.table.column(LINE))
        with_lines, dropped = ordered_bars(file.name, source, self.interval, day)
        lines = with_lines.column(LINE) if LINE in with_lines.column_names else None
        rows = with_lines.select(list(BAR_COLUMNS)).cast(schema)
        [series] = self.series(symbol)
        staging = feed.staging(store)
        verdicts = [ohlcv_rules(rows, self.interval, TimeUnit.MILLISECONDS, "volume", None, 0),
                    bar_gaps(pl.from_arrow(rows.column("open_time")), interval_ns(self.interval), day)]
        if rows.num_rows:
            try:
                write_bar_day(staging, bar_table(rows, bar_schema(bar_type(instrument.id, self.interval),
                                                                  instrument.price_precision,
                                                                  instrument.size_precision), "volume"), day)
            except (HedgegridDataError, ValueError, pa.ArrowInvalid) as exc:
                raise ArchiveDataError(file.name, f"bars of {day} cannot be written: {exc}") from exc
        else:
            remove_day(staging, Bar, series.identifier, day)
        out = feed.normalized_file(store, day, symbol)
        with atomic_parquet_writer(out, schema) as write:
            for batch in rows.to_batches():
                write(batch)
        opens = rows.column("open_time").cast(pa.int64())
        metadata = {"rows": rows.num_rows, "source_rows": file.table.num_rows, "duplicates_dropped": dropped,
                    "interval": self.interval, "bar_type": series.identifier,
                    "first_open_time": utc_text(opens[0].as_py() if len(opens) else None),
                    "last_open_time": utc_text(opens[-1].as_py() if len(opens) else None),
                    "first_line": lines[0].as_py() if lines is not None and len(lines) else None,
                    **file.metadata, "bytes": out.stat().st_size, "path": out,
                    "staged_catalog_file": day_file_path(staging, Bar, series.identifier, day) if rows.num_rows else ""}
        return StagedDay(verdicts, metadata, {"rows_validated": file.table.num_rows})

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        instrument = self.instrument(symbol)
        normalized = feed.normalized_file(store, day, symbol)
        if not normalized.exists():
            raise HedgegridDataError(f"{normalized}: no normalized bars day to publish; materialize it first")
        rows = pq.read_table(normalized)
        if rows.num_rows == 0:
            return PublicationPlan(instrument, [], nothing_because="no bars on the day: no day file")
        first, last = edge_rows(rows)

        def as_bar(row: dict) -> tuple:
            return *(f"{row[c]:f}" for c in (*PRICE_COLUMNS, "volume")), row["close_time"], row["close_time"]

        [series] = self.series(symbol)
        return PublicationPlan(instrument, [StagedSeries(series, rows.num_rows, as_bar(first), as_bar(last),
                                                         bar_tuple)])

