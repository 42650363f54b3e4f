"""The day steps of the archive's funding-rate feeds: a month file in the raw store → one UTC day → the catalog.

Binance publishes funding rates monthly only; the partitions stay daily (date × symbol). A day's source file is
``funding_archive_file(market, symbol, day)``: its ``day`` is the partition's day and its key is the month file
containing it, which the raw asset downloads once per month and every day of the month reuses (a verified copy
whose sha256 still matches the CHECKSUM is kept). A day's events therefore exist once the month file is
published.

``ArchiveFundingDay.stage`` keeps the events whose calc_time falls on the day, validated, as the normalized
table and a staged ``FundingRateUpdate`` day file, and judges the day; ``plan`` says the staged file must read
back with the normalized day's row count and first and last updates (every field).

A day without funding events (before a listing, after a delisting, or a gap in the month file) is not invented
and not hidden: its normalized table has 0 rows, the catalog gets no file for it (and loses any earlier one),
so Nautilus' own gap queries report the day missing, and the ``day_has_funding_events`` verdict warns. A day
whose events skip a boundary of their own schedule (an 8 h symbol with two events) is plausible but unusual:
the ``funding_schedule`` verdict warns with the boundaries missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import FundingRateUpdate

from hedgegrid_data.atomic import atomic_parquet_writer
from hedgegrid_data.catalog.day_files import day_file_path, remove_day
from hedgegrid_data.catalog.funding_rates import funding_update_tuple, write_funding_rate_day
from hedgegrid_data.epochs import TimeUnit, day_bounds_ns, utc_text
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.feed import (
    CatalogSeries,
    Feed,
    PublicationPlan,
    StagedDay,
    StagedSeries,
)
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict
from hedgegrid_data.sources.binance_archive.funding import (
    DATA_TYPE,
    FundingMonth,
    funding_day,
    read_funding_month,
    validate_funding_day,
)
from hedgegrid_data.sources.binance_archive.layout import SOURCE, ArchiveFile
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.funding import HOUR_NS, funding_table_schema
from hedgegrid_data.venues.binance import Market, build_instrument, instrument_id
from hedgegrid_data.venues.symbols import symbol_spec


def funding_archive_file(market: Market, symbol: str, day: dt.date) -> ArchiveFile:
    """The month file holding ``day``'s funding events; ``.day`` stays the partition's day."""
    if market is Market.SPOT:
        raise ValueError("spot has no funding rates")
    return ArchiveFile(market, DATA_TYPE, symbol, day, monthly=True)


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


def day_has_funding_events(table: pa.Table, month: FundingMonth) -> Verdict:
    """WARN when the month file holds no event on the day; metadata places the day in its month."""
    ts = month.table.column("ts_event").cast(pa.int64())
    return Verdict(
        "day_has_funding_events", table.num_rows > 0, Severity.WARN,
        f"{table.num_rows} funding events" if table.num_rows else
        f"{month.archive_file.file_name} has no funding event on this day: no catalog day is written",
        {"rows": table.num_rows, "month": month.archive_file.period, "month_rows": month.table.num_rows,
         "month_first_event_time": utc_text(ts[0].as_py() if len(ts) else None),
         "month_last_event_time": utc_text(ts[-1].as_py() if len(ts) else None)},
    )


def funding_schedule(table: pa.Table, day: dt.date) -> Verdict:
    """WARN for the funding boundaries of the day that the events' own schedule implies but no event has.

    Each event announces the next boundary (``next_funding_time``); a later next event means the boundaries
    between are missing, and so are the boundaries the first event's interval places before it, and the last
    event's after it, within the day. An earlier next event is a schedule change, not a gap.
    """
    start, end = day_bounds_ns(day)
    times = [table.column(c).cast(pa.int64()).to_pylist() for c in ("funding_time", "next_funding_time")]
    hours = table.column("funding_interval_hours").to_pylist()
    missing: list[int] = []
    if hours:
        before = times[0][0] - hours[0] * HOUR_NS
        missing += sorted(range(before, start - 1, -hours[0] * HOUR_NS))
        for announced, following, interval in zip(times[1], [*times[0][1:], end + 1], hours, strict=True):
            missing += range(announced, min(following, end + 1), interval * HOUR_NS)
    events = table.num_rows
    return Verdict(
        "funding_schedule", not missing, Severity.WARN,
        f"{len(missing)} funding boundaries of the day's schedule without an event" if missing
        else f"{events} funding events, one at every boundary of their schedule" if events
        else "no funding events: no schedule to follow",
        {"events": events, "expected_events": events + len(missing),
         "missing_boundaries": [utc_text(t) for t in missing[:MAX_EXAMPLES]]},
    )


def _normalized_update_tuples(path: Path, instrument_id: str) -> list[tuple]:
    """The updates a normalized funding day must publish, in ``funding_update_tuple`` form."""
    table = pq.read_table(path)
    ts = table.column("ts_event").cast(pa.int64()).to_pylist()
    next_funding = table.column("next_funding_time").cast(pa.int64()).to_pylist()
    rates = table.column("rate").to_pylist()
    return [(instrument_id, format(rate, "f"), n, t, t) for rate, n, t in zip(rates, next_funding, ts, strict=True)]


def _summary_metadata(summary: FundingDaySummary, archive_file: ArchiveFile) -> dict[str, object]:
    return {
        "rows": summary.rows, "intervals_hours": str(summary.intervals_hours),
        "first_event_time": utc_text(summary.first_ts_ns), "last_event_time": utc_text(summary.last_ts_ns),
        "month": archive_file.period, "month_rows": summary.month_rows,
        "month_first_event_time": utc_text(summary.month_first_ts_ns),
        "month_last_event_time": utc_text(summary.month_last_ts_ns),
        "month_intervals_hours": str(summary.month_intervals_hours),
        "month_schedule_breaks": summary.month_schedule_breaks,
        "source_rows": summary.source_rows, "duplicates_dropped": summary.duplicates_dropped,
        "resorted": summary.resorted, "time_unit": summary.time_unit.value, "header": summary.header,
    }


@dataclass(frozen=True)
class ArchiveFundingDay:
    """``DaySteps`` of a futures market's funding-rate feed."""

    market: Market

    def series(self, symbol: str) -> list[CatalogSeries]:
        return [CatalogSeries(FundingRateUpdate, instrument_id(self.market, symbol).value)]

    def normalized_path(self, store: DataStore, day: dt.date, symbol: str) -> Path:
        return store.normalized_file(SOURCE, self.market.value, DATA_TYPE, symbol, day)

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return [self.normalized_path(store, day, symbol)]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        """Read the verified month file, keep the day's events, validate, write and stage them, judge the day."""
        archive_file = funding_archive_file(self.market, symbol, day)
        month = read_funding_month(store.raw / archive_file.key, archive_file)
        table = funding_day(month, day)
        validate_funding_day(table, day, archive_file.file_name)

        [series] = self.series(symbol)
        staged = day_file_path(feed.staging(store), FundingRateUpdate, series.identifier, day)
        if table.num_rows:
            write_funding_rate_day(feed.staging(store), series.identifier, day, table)
        else:
            remove_day(feed.staging(store), FundingRateUpdate, series.identifier, day)
        out = self.normalized_path(store, day, symbol)
        with atomic_parquet_writer(out, funding_table_schema()) as write:
            for batch in table.to_batches():
                write(batch)

        ts = table.column("ts_event").cast("int64").to_pylist()
        month_ts = month.table.column("ts_event").cast("int64").to_pylist()
        summary = FundingDaySummary(
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
        verdicts = [day_has_funding_events(table, month), funding_schedule(table, day)]
        metadata = {**_summary_metadata(summary, archive_file), "bytes": out.stat().st_size, "path": out,
                    "staged_catalog_file": staged if summary.rows else ""}
        return StagedDay(verdicts, metadata, {"rows_validated": summary.rows})

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        instrument = build_instrument(symbol_spec(self.market, symbol))
        normalized = self.normalized_path(store, day, symbol)
        if not normalized.exists():
            raise HedgegridDataError(f"{normalized}: no normalized funding day to publish; materialize it first")
        expected = _normalized_update_tuples(normalized, instrument.id.value)
        if not expected:
            return PublicationPlan(instrument, [], nothing_because="no funding events: no day file")
        [series] = self.series(symbol)
        return PublicationPlan(instrument, [StagedSeries(series, len(expected), expected[0], expected[-1],
                                                         funding_update_tuple)])
