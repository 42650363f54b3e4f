"""Generated Binance fundingRate month files (zip + CHECKSUM) for USD-M and COIN-M, with changing intervals.

A month is laid out by a funding schedule: ``(start, interval_hours)`` segments, each starting on a
boundary of the previous one. Every event lands 0–11 ms after its boundary, like the archive's
``calc_time``, and carries the interval now in force, so each event's next funding time is the next
event's boundary. Rates are exact 8-decimal text of both signs, zero included.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.testing.archive_generator import write_archive_csv
from hedgegrid_data.venues.binance import Market

COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")
RATE_DECIMALS = 8
MAX_LAG_MS = 11
MS = 1_000_000
HOUR_MS = 3_600_000
UTC = dt.timezone.utc

# March 2024, 8 h funding until the 11th 16:00, then 4 h until the 21st 12:00, then hourly.
INTERVAL_CHANGE_MONTH = dt.date(2024, 3, 1)
INTERVAL_CHANGE_SCHEDULE = (
    (dt.datetime(2024, 3, 1, tzinfo=UTC), 8),
    (dt.datetime(2024, 3, 11, 16, tzinfo=UTC), 4),
    (dt.datetime(2024, 3, 21, 12, tzinfo=UTC), 1),
)


@dataclass(frozen=True)
class FundingEvent:
    """One CSV row: ``calc_time`` (ms), ``funding_interval_hours``, ``last_funding_rate`` (text)."""

    calc_ms: int
    interval_hours: int
    rate: str

    @property
    def ts_event_ns(self) -> int:
        return self.calc_ms * MS

    @property
    def funding_time_ns(self) -> int:
        return self.calc_ms // HOUR_MS * HOUR_MS * MS

    @property
    def next_funding_ns(self) -> int:
        return self.funding_time_ns + self.interval_hours * HOUR_MS * MS

    @property
    def day(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.calc_ms / 1000, UTC).date()

    def csv_line(self) -> str:
        return f"{self.calc_ms},{self.interval_hours},{self.rate}"


@dataclass(frozen=True)
class GeneratedFundingMonth:
    archive_file: ArchiveFile
    zip_path: Path
    checksum_path: Path
    events: tuple[FundingEvent, ...]

    def events_on(self, day: dt.date) -> list[FundingEvent]:
        return [e for e in self.events if e.day == day]


def funding_archive_file(market: Market, symbol: str, month: dt.date) -> ArchiveFile:
    return ArchiveFile(market, "fundingRate", symbol, month.replace(day=1), monthly=True)


def _rate_text(units: int) -> str:
    """``units`` × 10^-8 as the archive prints it: ``-0.00003449``."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**RATE_DECIMALS)
    return f"{sign}{whole}.{fraction:0{RATE_DECIMALS}d}"


def funding_events(month: dt.date, schedule: Sequence[tuple[dt.datetime, int]], *, seed: int = 0,
                   skip_days: Collection[dt.date] = ()) -> list[FundingEvent]:
    """The month's events under ``schedule``; days in ``skip_days`` are left out (an archive gap)."""
    rng = random.Random(seed)
    start = dt.datetime(month.year, month.month, 1, tzinfo=UTC)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    if not schedule or schedule[0][0] != start:
        raise ValueError(f"the schedule must start at {start.isoformat()}")
    events: list[FundingEvent] = []
    boundary, segment = start, 0
    while boundary < end:
        if segment + 1 < len(schedule) and boundary >= schedule[segment + 1][0]:
            if boundary != schedule[segment + 1][0]:
                raise ValueError(f"schedule change at {schedule[segment + 1][0]} is not a funding boundary")
            segment += 1
        hours = schedule[segment][1]
        if boundary.date() not in skip_days:
            units = 0 if not events else rng.randint(-30_000, 40_000)
            calc_ms = int(boundary.timestamp()) * 1000 + rng.randint(0, MAX_LAG_MS)
            events.append(FundingEvent(calc_ms, hours, _rate_text(units)))
        boundary += dt.timedelta(hours=hours)
    return events


def funding_csv_text(events: Sequence[FundingEvent], header: bool = True) -> str:
    lines = [",".join(COLUMNS)] if header else []
    return "\n".join([*lines, *(e.csv_line() for e in events)]) + "\n"


def write_funding_month(root: Path, market: Market, symbol: str, month: dt.date, *,
                        schedule: Sequence[tuple[dt.datetime, int]] | None = None, header: bool = True,
                        seed: int = 0, skip_days: Collection[dt.date] = ()) -> GeneratedFundingMonth:
    """Write one fundingRate month file (8 h funding unless ``schedule`` says otherwise) and its CHECKSUM."""
    if market is Market.SPOT:
        raise ValueError("spot has no funding rates")
    month = month.replace(day=1)
    schedule = schedule or ((dt.datetime(month.year, month.month, 1, tzinfo=UTC), 8),)
    events = funding_events(month, schedule, seed=seed, skip_days=skip_days)
    archive_file = funding_archive_file(market, symbol, month)
    zip_path, checksum_path = write_archive_csv(Path(root), archive_file, funding_csv_text(events, header))
    return GeneratedFundingMonth(archive_file, zip_path, checksum_path, tuple(events))


def write_interval_change_month(root: Path, market: Market, symbol: str, *, seed: int = 0,
                                header: bool = True) -> GeneratedFundingMonth:
    """March 2024 with funding every 8 h, then 4 h (from the 11th 16:00), then 1 h (from the 21st 12:00)."""
    return write_funding_month(root, market, symbol, INTERVAL_CHANGE_MONTH, schedule=INTERVAL_CHANGE_SCHEDULE,
                               seed=seed, header=header)
