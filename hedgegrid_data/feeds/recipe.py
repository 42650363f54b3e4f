"""The day recipe, the same for every feed: stage → judge → gate → verify → promote.

1. ``normalize_day``: temporary files a killed writer left behind are removed; the feed's ``stage`` step reads
   the verified source files, writes the normalized table and stages the day's catalog series (nothing appears unless the whole day is valid). The day's verdicts and
   report are recorded, and a day failing a blocking check loses its staged series and, when the feed is the
   declared publisher, its catalog days: bad data never stays visible.
2. ``publish_day``: refused while blocking verdicts stand (the feed's own, or a failed reconciliation that
   judged it); each staged series must read back through Nautilus' own decoder with the expected row count
   and first and last rows; then the instrument is written and every series promoted, atomically, replacing
   exactly that day. A day with nothing to publish loses its catalog days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hedgegrid_data.atomic import remove_orphaned_temp_files
from hedgegrid_data.catalog.day_files import day_file_path, remove_day
from hedgegrid_data.catalog.instruments import write_instrument
from hedgegrid_data.catalog.integrity import of_day_files
from hedgegrid_data.catalog.publication import PublishedDay, promote_verified, verify_staged
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.quality.findings import Verdict, blocking
from hedgegrid_data.quality.gate import RECONCILIATION, refuse_blocked
from hedgegrid_data.quality.report import write_day_quality
from hedgegrid_data.store import DataStore


@dataclass(frozen=True)
class NormalizedDay:
    verdicts: list[Verdict]
    report: dict
    metadata: dict[str, object]
    validated: dict[str, object]


def withdraw_day(feed: Feed, store: DataStore, day: dt.date, symbol: str, *, staged: bool = True) -> None:
    """Remove the day's staged series (unless ``staged=False``), and its catalog days when the feed publishes
    them."""
    roots = ([feed.staging(store)] if staged else []) + ([store.catalog] if feed.publisher else [])
    for series in feed.steps.series(symbol):
        for root in roots:
            remove_day(root, series.data_cls, series.identifier, day)


def remove_orphans(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> None:
    """Temporary files a killed writer left where the day's outputs go (a live writer's are kept)."""
    directories = {feed.normalized_file(store, day, symbol).parent, feed.quality_file(store, day, symbol).parent}
    for series in feed.steps.series(symbol):
        for root in (feed.staging(store), store.catalog):
            directories.add(day_file_path(root, series.data_cls, series.identifier, day).parent)
    for directory in sorted(directories):
        remove_orphaned_temp_files(directory)


def normalize_day(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> NormalizedDay:
    remove_orphans(feed, store, day, symbol)
    staged = feed.steps.stage(feed, store, day, symbol)
    report = write_day_quality(feed.quality_file(store, day, symbol), day, symbol, staged.verdicts)
    if blocking(staged.verdicts):
        withdraw_day(feed, store, day, symbol)
    return NormalizedDay(staged.verdicts, report, staged.metadata, staged.validated)


@dataclass(frozen=True)
class PublishedDays:
    """A day's published series (by label; ``None`` for a feed's only one) and the feed's pre-promotion checks."""

    instrument_id: str
    days: dict[str | None, PublishedDay]
    integrity: Verdict
    extra_checks: dict[str, tuple[bool, dict[str, object]]]

    @property
    def day(self) -> PublishedDay:
        """The day of a feed that publishes one series."""
        [day] = self.days.values()
        return day


def publish_day(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublishedDays:
    refuse_blocked(feed.quality_file(store, day, symbol),
                   store.quality_file(feed.source.name, feed.market, RECONCILIATION, symbol, day), feed.dataset,
                   f"{feed.name} {symbol} {day}")
    staging = feed.staging(store)
    plan = feed.steps.plan(feed, store, day, symbol)
    identifier = plan.instrument.id.value
    if not plan.staged:
        write_instrument(store.catalog, plan.instrument)
        for series in feed.steps.series(symbol):
            remove_day(store.catalog, series.data_cls, series.identifier, day)
        empty = PublishedDay.empty(identifier, plan.nothing_because)
        return PublishedDays(identifier, {None: empty}, empty.integrity, plan.extra_checks)
    integrity = {s.label: verify_staged(staging, s.series.data_cls, s.series.identifier, day, s.rows, s.first,
                                        s.last, s.as_tuple)
                 for s in plan.staged}
    write_instrument(store.catalog, plan.instrument)
    days = {s.label: promote_verified(staging, store.catalog, s.series.data_cls, s.series.identifier, day,
                                      identifier, s.rows, integrity[s.label])
            for s in plan.staged}
    combined = integrity[None] if list(integrity) == [None] else of_day_files(integrity)
    return PublishedDays(identifier, days, combined, plan.extra_checks)
