"""Pure decisions behind the sensors: which days to watch, which partitions to request, what changed.

No Dagster, no I/O: the sensors gather facts (partition statuses, probe answers, listing entries,
provenance sidecars) and these functions decide.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hedgegrid_data.epochs import day_end
from hedgegrid_data.feeds.feed import Republication

DaySymbol = tuple[dt.date, str]


def last_complete_day(now: dt.datetime) -> dt.date:
    """The last UTC day that has ended at ``now``."""
    return now.astimezone(dt.timezone.utc).date() - dt.timedelta(days=1)


def watch_window(now: dt.datetime, window_days: int, first_day: dt.date) -> list[dt.date]:
    """The ``window_days`` most recent complete UTC days, oldest first, never before ``first_day``."""
    last = last_complete_day(now)
    days = [last - dt.timedelta(days=n) for n in range(window_days - 1, -1, -1)]
    return [d for d in days if d >= first_day]


def is_late(day: dt.date, now: dt.datetime, late_after: dt.timedelta,
            due: Callable[[dt.date], dt.datetime] = day_end) -> bool:
    """``day``'s files are still missing ``late_after`` after they were due (by default, the day's end)."""
    return now >= due(day) + late_after


# ---------------------------------------------------------------------------------------------------------------
# availability


@dataclass(frozen=True)
class AvailabilityCursor:
    """Partitions this sensor already requested and days already reported late (both kept for the window only)."""

    requested: frozenset[str] = frozenset()
    alerted: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> AvailabilityCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(frozenset(data.get("requested", ())), frozenset(data.get("alerted", ())))

    def dump(self) -> str:
        return json.dumps({"requested": sorted(self.requested), "alerted": sorted(self.alerted)})


# Statuses (Dagster's AssetPartitionStatus values) that mean "nothing to do for this partition now".
SETTLED_STATUSES = frozenset({"MATERIALIZED", "IN_PROGRESS"})


def availability_candidates(
    partitions: Sequence[tuple[DaySymbol, str]],
    statuses: Mapping[str, str | None],
    cursor: AvailabilityCursor,
) -> list[tuple[DaySymbol, str]]:
    """Partitions (in the given order) not materialized, not running, and not already requested by us.

    A FAILED partition stays a candidate: typically the nightly run came before the archive published.
    """
    return [
        (day_symbol, key) for day_symbol, key in partitions
        if statuses.get(key) not in SETTLED_STATUSES and key not in cursor.requested
    ]


@dataclass(frozen=True)
class AvailabilityPlan:
    request: list[str] = field(default_factory=list)
    late: list[tuple[DaySymbol, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    cursor: AvailabilityCursor = AvailabilityCursor()


def plan_availability(
    candidates: Sequence[tuple[DaySymbol, str]],
    published: Mapping[str, bool | None],
    *,
    now: dt.datetime,
    late_after: dt.timedelta,
    cursor: AvailabilityCursor,
    window_keys: Iterable[str],
    max_requests: int,
    due: Callable[[dt.date], dt.datetime] = day_end,
) -> AvailabilityPlan:
    """Request published candidates (oldest first, at most ``max_requests``); report unpublished late days once.

    ``published`` holds probe answers: True (CHECKSUM is there), False (404), None (could not tell); a
    candidate absent from it was not probed this tick.
    """
    request: list[str] = []
    late: list[tuple[DaySymbol, str]] = []
    unknown: list[str] = []
    for (day, symbol), key in candidates:
        if key not in published:
            continue
        answer = published[key]
        if answer is True:
            if len(request) < max_requests:
                request.append(key)
        elif answer is False:
            if is_late(day, now, late_after, due) and key not in cursor.alerted:
                late.append(((day, symbol), key))
        elif answer is None:
            unknown.append(key)
    keep = set(window_keys)
    next_cursor = AvailabilityCursor(
        requested=frozenset(k for k in cursor.requested | set(request) if k in keep),
        alerted=frozenset(k for k in cursor.alerted | {k for _, k in late} if k in keep),
    )
    return AvailabilityPlan(request, late, unknown, next_cursor)


# ---------------------------------------------------------------------------------------------------------------
# re-publication


def republication_run_key(partition_key: str, changed: Sequence[Republication]) -> str:
    """One rebuild per published version of the partition's changed file(s)."""
    return f"{partition_key}@{'+'.join(r.version for r in sorted(changed, key=lambda r: r.file_key))}"


def combine_publication(answers: Iterable[bool | None]) -> bool | None:
    """A partition of several files is published when all are; not published when any is missing."""
    answers = list(answers)
    if any(a is False for a in answers):
        return False
    return None if any(a is None for a in answers) else True


@dataclass(frozen=True)
class RepublicationCursor:
    """Round-robin position over the symbols that have materialized partitions."""

    next_symbol: int = 0

    @classmethod
    def parse(cls, text: str | None) -> RepublicationCursor:
        return cls(int(json.loads(text).get("next_symbol", 0))) if text else cls()

    def dump(self) -> str:
        return json.dumps({"next_symbol": self.next_symbol})


def round_robin(items: Sequence[str], start: int, count: int) -> tuple[list[str], int]:
    """``count`` items from ``start`` (wrapping, no repeats) and where the next round starts."""
    if not items:
        return [], 0
    start %= len(items)
    count = min(count, len(items))
    chosen = [items[(start + i) % len(items)] for i in range(count)]
    return chosen, (start + count) % len(items)


def days_by_symbol(partition_keys: Iterable[str]) -> dict[str, list[dt.date]]:
    """``{"2024-01-02|BTCUSDT", ...}`` → ``{"BTCUSDT": [2024-01-02, ...]}`` (days sorted)."""
    grouped: dict[str, list[dt.date]] = {}
    for key in partition_keys:
        date_text, symbol = str(key).split("|")
        grouped.setdefault(symbol, []).append(dt.date.fromisoformat(date_text))
    return {symbol: sorted(days) for symbol, days in sorted(grouped.items())}
