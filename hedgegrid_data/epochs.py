"""UTC days and epoch timestamps: a day's nanosecond bounds, the unit of integer timestamps, ISO-8601 text."""

from __future__ import annotations

import datetime as dt
import enum


class TimeUnit(enum.Enum):
    """Unit of integer epoch timestamps in a source file."""

    MILLISECONDS = "ms"
    MICROSECONDS = "us"

    @property
    def nanos(self) -> int:
        return 1_000_000 if self is TimeUnit.MILLISECONDS else 1_000

    @property
    def digits(self) -> int:
        """Number of decimal digits of an epoch timestamp in this unit (valid 2001-09-09 .. 2286)."""
        return 13 if self is TimeUnit.MILLISECONDS else 16


def day_bounds_ns(day: dt.date) -> tuple[int, int]:
    """First and last nanosecond of a UTC day."""
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    return start, start + 86_400 * 10**9 - 1


def utc_datetime(ns: int) -> dt.datetime:
    """Epoch nanoseconds as an aware UTC datetime (microseconds: what a datetime holds)."""
    return dt.datetime.fromtimestamp(ns // 10**9, dt.timezone.utc) + dt.timedelta(microseconds=ns % 10**9 // 1000)


def utc_text(ns: int | None) -> str:
    """Epoch nanoseconds as ISO-8601 UTC with all nine decimals; empty for None."""
    if ns is None:
        return ""
    seconds, rest = divmod(ns, 10**9)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{rest:09d}Z"


def day_end(day: dt.date) -> dt.datetime:
    """The end of a UTC day: when a daily file covering it can be published, at the earliest."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)


def month_end(day: dt.date) -> dt.datetime:
    """The end of ``day``'s UTC month: when a monthly file covering it can be published."""
    first_of_next = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return day_end(first_of_next - dt.timedelta(days=1))
