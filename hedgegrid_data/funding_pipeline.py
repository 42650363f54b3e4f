"""The funding-rate pipeline, step by step: a month file in the raw store → one UTC day → the catalog.

Binance publishes funding rates monthly only; the assets stay daily (date × symbol). The day's
``ArchiveFile`` is ``funding_archive_file(market, symbol, day)``: its ``day`` is the partition's day and
its key is the month file containing it, which the raw asset downloads once per month and every day
of the month reuses (``BinanceArchive.fetch_verified`` keeps a verified copy whose sha256 matches the
CHECKSUM). A day's events therefore exist once the month file is published.

1. ``normalize_funding_day``: verified month zip → the day's funding table (events whose calc_time falls on
   the day), validated, written as normalized parquet, plus a staged ``FundingRateUpdate`` day file.
2. ``publish_funding_day``: write the instrument, check the staged file reads back through Nautilus as exactly
   the normalized day's updates (every field), promote it into the catalog.

A day without funding events (before a listing, after a delisting, or a gap in the month file) is not
invented and not hidden: its normalized table has 0 rows, the catalog gets no file for it (and loses any
earlier one), so Nautilus' own gap queries report the day missing, and the assets raise a WARN check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.atomic import atomic_parquet_writer
from hedgegrid_data.catalog.day_files import day_file_path, promote_day, remove_day
from hedgegrid_data.catalog.funding_rates import register_funding_rate_codec, write_funding_rate_day
from hedgegrid_data.catalog.instruments import write_instrument
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.instruments import build_instrument
from hedgegrid_data.markets import ArchiveFile, Market, TimeUnit
from hedgegrid_data.normalization.funding import (
    DATA_TYPE,
    funding_day,
    funding_table_schema,
    read_funding_month,
    validate_funding_day,
)
from hedgegrid_data.store import DataStore
from hedgegrid_data.symbols import symbol_spec


def funding_archive_file(market: Market, symbol: str, day: dt.date) -> ArchiveFile:
    """The month file holding ``day``'s funding events; ``.day`` stays the partition's day."""
    if market is Market.SPOT:
        raise ValueError("spot has no funding rates")
    return ArchiveFile(market, DATA_TYPE, symbol, day, monthly=True)


def _instrument_id(archive_file: ArchiveFile) -> str:
    return build_instrument(symbol_spec(archive_file.market, archive_file.symbol)).id.value


@dataclass(frozen=True)
class FundingDaySummary:
    """What a normalized funding day holds, and what its month file held; reported as metadata."""

    rows: int
    intervals_hours: list[int]
    first_ts_ns: int | None
    last_ts_ns: int | None
    month_rows: int
    month_first_ts_ns: int | None
    month_last_ts_ns: int | None
    month_intervals_hours: list[int]
    month_schedule_breaks: int
    source_rows: int
    duplicates_dropped: int
    resorted: bool
    header: bool
    time_unit: TimeUnit


def normalize_funding_day(store: DataStore, archive_file: ArchiveFile) -> FundingDaySummary:
    """Read the verified month file, keep ``archive_file.day``'s events, validate, write and stage them."""
    day = archive_file.day
    month = read_funding_month(store.raw / archive_file.key, archive_file)
    table = funding_day(month, day)
    validate_funding_day(table, day, archive_file.file_name)

    instrument_id = _instrument_id(archive_file)
    if table.num_rows:
        write_funding_rate_day(store.staging, instrument_id, day, table)
    else:
        remove_day(store.staging, FundingRateUpdate, instrument_id, day)
    out = store.normalized_file(archive_file.market, DATA_TYPE, archive_file.symbol, day)
    with atomic_parquet_writer(out, funding_table_schema()) as write:
        for batch in table.to_batches():
            write(batch)

    ts = table.column("ts_event").cast("int64").to_pylist()
    month_ts = month.table.column("ts_event").cast("int64").to_pylist()
    return FundingDaySummary(
        rows=table.num_rows,
        intervals_hours=sorted(set(table.column("funding_interval_hours").to_pylist())),
        first_ts_ns=ts[0] if ts else None,
        last_ts_ns=ts[-1] if ts else None,
        month_rows=month.table.num_rows,
        month_first_ts_ns=month_ts[0] if month_ts else None,
        month_last_ts_ns=month_ts[-1] if month_ts else None,
        month_intervals_hours=month.intervals_hours,
        month_schedule_breaks=month.schedule_breaks,
        source_rows=month.source_rows,
        duplicates_dropped=month.duplicates_dropped,
        resorted=month.resorted,
        header=month.header,
        time_unit=month.time_unit,
    )


@dataclass(frozen=True)
class PublishedFundingDay:
    """``path`` is None for a day without funding events (no catalog file)."""

    path: Path | None
    instrument_id: str
    rows_in: int
    rows_out: int
    bytes: int


def funding_update_tuple(update: FundingRateUpdate) -> tuple:
    return update.instrument_id.value, format(update.rate, "f"), update.next_funding_ns, update.ts_event, update.ts_init


def _normalized_update_tuples(path: Path, instrument_id: str) -> list[tuple]:
    """The updates a normalized funding day must publish, in ``funding_update_tuple`` form."""
    table = pq.read_table(path)
    ts = table.column("ts_event").cast(pa.int64()).to_pylist()
    next_funding = table.column("next_funding_time").cast(pa.int64()).to_pylist()
    rates = table.column("rate").to_pylist()
    return [(instrument_id, format(rate, "f"), n, t, t) for rate, n, t in zip(rates, next_funding, ts, strict=True)]


def decoded_updates(root: Path, instrument_id: str, day: dt.date) -> list[FundingRateUpdate]:
    """The ``FundingRateUpdate``s Nautilus reads back from the day file under ``root``."""
    register_funding_rate_codec()
    path = day_file_path(root, FundingRateUpdate, instrument_id, day)
    return ParquetDataCatalog(str(root)).query(FundingRateUpdate, files=[str(path)])


def publish_funding_day(store: DataStore, archive_file: ArchiveFile) -> PublishedFundingDay:
    """Promote the staged day once it reads back through Nautilus as exactly the normalized day's updates."""
    day = archive_file.day
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    instrument_id = instrument.id.value
    normalized = store.normalized_file(archive_file.market, DATA_TYPE, archive_file.symbol, day)
    if not normalized.exists():
        raise HedgegridDataError(f"{normalized}: no normalized funding day to publish; materialize it first")
    expected = _normalized_update_tuples(normalized, instrument_id)
    rows_in = len(expected)
    write_instrument(store.catalog, instrument)
    if rows_in == 0:
        remove_day(store.catalog, FundingRateUpdate, instrument_id, day)
        return PublishedFundingDay(None, instrument_id, 0, 0, 0)
    staged = day_file_path(store.staging, FundingRateUpdate, instrument_id, day)
    if not staged.exists():
        raise HedgegridDataError(f"{staged}: no staged FundingRateUpdate day to promote; materialize it first")
    decoded = [funding_update_tuple(u) for u in decoded_updates(store.staging, instrument_id, day)]
    if decoded != expected:
        differing = next((i for i, pair in enumerate(zip(decoded, expected, strict=False)) if pair[0] != pair[1]),
                         min(len(decoded), len(expected)))
        raise HedgegridDataError(
            f"{staged}: reads back through Nautilus as {len(decoded)} FundingRateUpdates, the normalized day has "
            f"{rows_in}; first difference at update {differing}; not promoted"
        )
    rows_out = len(decoded)
    path = promote_day(store.staging, store.catalog, FundingRateUpdate, instrument_id, day)
    return PublishedFundingDay(path, instrument_id, rows_in, rows_out, path.stat().st_size)


def staged_funding_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    return day_file_path(store.staging, FundingRateUpdate, _instrument_id(archive_file), archive_file.day)
