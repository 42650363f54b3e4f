"""Binance fundingRate monthly CSV → funding table: exact rates, funding boundaries, intervals, next funding times.

The archive publishes funding rates as one file per symbol and month (``calc_time,
funding_interval_hours,last_funding_rate``, epoch milliseconds, a header in recent files). A month
holds at most 744 events (hourly funding), so it is read whole and checked row by row; every error
names the file and the CSV line.

Rules:

- ``ts_event`` is ``calc_time``; a row whose ``calc_time`` lies outside the file's UTC month is an error.
- **Funding boundary**: ``funding_time = calc_time`` floored to the whole UTC hour. Binance settles on
  whole hours (every 8, 4 or 1 h) and ``calc_time`` lands a few milliseconds after the boundary; a
  ``calc_time`` more than ``MAX_CALC_LAG_NS`` (60 s) past the hour makes the floor a guess, so it is an
  error rather than a silently wrong boundary.
- **Next funding time**: ``next_funding_time = funding_time + funding_interval_hours`` (the row's own
  interval, which varies per symbol and over time: 8, 4, 1 — never assumed).
- ``last_funding_rate`` is exact decimal text, signed, with at most ``RATE_SCALE`` (8) decimals —
  Binance's funding-rate precision; more decimals is an error, not a rounding.
- Rows are put in time order; exact duplicate rows are dropped (and counted); two different rows for
  the same funding boundary are an error.

A day's events are those whose ``calc_time`` falls on that UTC day (``funding_day``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns, utc_datetime
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources import text_columns
from hedgegrid_data.sources.binance_archive import archive_csv
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile, time_unit_for
from hedgegrid_data.tables.funding import (
    FUNDING_INTERVALS_HOURS,
    HOUR_NS,
    MAX_CALC_LAG_NS,
    RATE_SCALE,
    funding_table_schema,
    pandera_funding_schema,
)

DATA_TYPE = "fundingRate"
FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")
SIGNED_DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"
_EPOCH_ANY = (0, 2**63 - 1)


def month_bounds_ns(day: dt.date) -> tuple[int, int]:
    """First and last nanosecond of the UTC month containing ``day``."""
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return day_bounds_ns(first)[0], day_bounds_ns(following)[0] - 1


@dataclass(frozen=True)
class FundingMonth:
    """Every funding event of one month file, in time order, and what reading it found."""

    archive_file: ArchiveFile
    table: pa.Table
    header: bool
    time_unit: TimeUnit
    source_rows: int
    duplicates_dropped: int
    resorted: bool

    @property
    def intervals_hours(self) -> list[int]:
        return sorted(set(self.table.column("funding_interval_hours").to_pylist()))

    @property
    def schedule_breaks(self) -> int:
        """Events whose next funding time is not the following event's boundary (a gap or a changed schedule)."""
        nexts = self.table.column("next_funding_time").to_pylist()[:-1]
        boundaries = self.table.column("funding_time").to_pylist()[1:]
        return sum(n != b for n, b in zip(nexts, boundaries, strict=True))


def _parse_rate(block: text_columns.TextBlock, file: str) -> pa.Array:
    """Signed exact decimal text → ``decimal128(38, RATE_SCALE)``; more decimals than the scale is an error."""
    bad = text_columns.first_mismatch(block, "last_funding_rate", SIGNED_DECIMAL_TEXT)
    if bad is not None:
        raise ArchiveDataError(file, f"last_funding_rate {bad[1]!r} is not a decimal number", line=bad[0])
    excess = text_columns.first_mismatch(block, "last_funding_rate", rf"^-?[0-9]+(\.[0-9]{{0,{RATE_SCALE}}}0*)?$")
    if excess is not None:
        raise ArchiveDataError(
            file, f"last_funding_rate {excess[1]!r} has more decimals than Binance's funding-rate precision "
            f"({RATE_SCALE})", line=excess[0])
    return pc.cast(block.column("last_funding_rate"), pa.decimal128(38, RATE_SCALE))


def _parse_interval(block: text_columns.TextBlock, file: str) -> pa.Array:
    hours = text_columns.parse_integer(block, "funding_interval_hours", file)
    allowed = pc.is_in(hours, pa.array(FUNDING_INTERVALS_HOURS, pa.int64()))
    if not pc.all(allowed).as_py():
        index = pc.index(allowed, False).as_py()
        raise ArchiveDataError(
            file, f"funding_interval_hours {hours[index].as_py()} is not a whole number of hours dividing the day "
            f"{FUNDING_INTERVALS_HOURS}", line=block.first_line + index)
    return pc.cast(hours, pa.int32())


def _read_rows(zip_path: Path, archive_file: ArchiveFile) -> tuple[pl.DataFrame, bool, TimeUnit]:
    """The file's rows as (line, calc_ns, interval, rate), validated value by value."""
    file = archive_file.file_name
    frames, header, unit = [], False, None
    for block in archive_csv.iter_text_blocks(zip_path, FUNDING_COLUMNS):
        if unit is None:
            header = block.first_line == 2
            unit = archive_csv.detect_time_unit(block, "calc_time", file)
            archive_csv.check_time_unit(unit, time_unit_for(archive_file.market, archive_file.day), file,
                                        f"{archive_file.market.value} fundingRate files")
        frame = pl.from_arrow(pa.table({
            "line": pa.array(range(block.first_line, block.first_line + block.batch.num_rows), pa.int64()),
            "calc_ns": text_columns.parse_epoch_ns(block, "calc_time", unit, _EPOCH_ANY, file),
            "funding_interval_hours": _parse_interval(block, file),
            "rate": _parse_rate(block, file),
        }))
        assert isinstance(frame, pl.DataFrame)
        frames.append(frame)
    assert unit is not None  # iter_text_blocks raises on an empty CSV
    return pl.concat(frames), header, unit


def _fail_at(rows: pl.DataFrame, file: str, reason: str) -> None:
    """Raise for the first of ``rows`` (a filtered frame), if any, naming its line and calc_time."""
    if rows.height:
        first = rows.row(0, named=True)
        ms = first["calc_ns"] // 1_000_000
        when = utc_datetime(first["calc_ns"]).isoformat()
        raise ArchiveDataError(file, f"calc_time {ms} ({when}) {reason}", line=first["line"])


def read_funding_month(zip_path: Path, archive_file: ArchiveFile) -> FundingMonth:
    """Read a verified fundingRate month zip into the funding table (all rows, time order)."""
    if not archive_file.monthly or archive_file.data_type != DATA_TYPE:
        raise ValueError(f"{archive_file.key}: not a monthly {DATA_TYPE} file")
    file = archive_file.file_name
    rows, header, unit = _read_rows(zip_path, archive_file)
    start, end = month_bounds_ns(archive_file.day)
    _fail_at(rows.filter((pl.col("calc_ns") < start) | (pl.col("calc_ns") > end)), file,
             f"lies outside the file's UTC month {archive_file.period}")
    rows = rows.with_columns(funding_ns=pl.col("calc_ns") - pl.col("calc_ns") % HOUR_NS)
    _fail_at(rows.filter(pl.col("calc_ns") - pl.col("funding_ns") > MAX_CALC_LAG_NS), file,
             f"lands more than {MAX_CALC_LAG_NS // 10**9} s after the whole hour: its funding boundary "
             "would be a guess")

    ordered = rows.sort("calc_ns", maintain_order=True)
    resorted = not ordered["line"].equals(rows["line"])
    unique = ordered.unique(["calc_ns", "funding_interval_hours", "rate"], keep="first", maintain_order=True)
    clashes = unique.filter(pl.col("funding_ns").is_duplicated())
    if clashes.height:
        lines = clashes["line"].sort().head(4).to_list()
        raise ArchiveDataError(file, f"different rows for the same funding boundary on lines {lines}",
                               line=lines[0])

    table = unique.select(
        ts_event=pl.col("calc_ns"),
        funding_time=pl.col("funding_ns"),
        rate=pl.col("rate"),
        funding_interval_hours=pl.col("funding_interval_hours"),
        next_funding_time=pl.col("funding_ns") + pl.col("funding_interval_hours").cast(pl.Int64) * HOUR_NS,
    ).to_arrow()
    schema = funding_table_schema()
    table = pa.Table.from_arrays(
        [table.column(f.name).cast(f.type) for f in schema], schema=schema
    ).combine_chunks()
    return FundingMonth(archive_file, table, header, unit, rows.height, rows.height - unique.height, resorted)


def funding_day(month: FundingMonth, day: dt.date) -> pa.Table:
    """The events of ``month`` whose calc_time falls on the UTC ``day`` (possibly none)."""
    start, end = month_bounds_ns(month.archive_file.day)
    day_start, day_end = day_bounds_ns(day)
    if not start <= day_start <= end:
        raise ValueError(f"{day} is not in the month of {month.archive_file.file_name}")
    ts = month.table.column("ts_event").cast(pa.int64())
    return month.table.filter(pc.and_(pc.greater_equal(ts, day_start), pc.less_equal(ts, day_end)))


def validate_funding_day(table: pa.Table, day: dt.date, file: str) -> None:
    """Check a funding day against its pandera rules; a failure names the file."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    try:
        pandera_funding_schema(day).validate(frame)
    except (pa_pl.errors.SchemaError, pa_pl.errors.SchemaErrors) as exc:
        raise ArchiveDataError(file, f"schema validation failed for {day}: {exc}") from None
