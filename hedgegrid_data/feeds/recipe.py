"""The day recipe, the same for every feed: stage → judge → gate → verify → promote.

1. ``normalize_day``: temporary files a killed writer left behind are removed; the feed's ``stage`` step reads the
   verified source files, writes the normalized table and stages the day's catalog series (nothing appears unless
   the whole day is valid). Findings an operator accepted for that source day pass (``quality/acceptances.py``).
   The day's verdicts and report are recorded; a published day whose file does not parse is recorded as a
   failed ``schema_valid``. A day failing either way never publishes its new version: its staged series are
   removed, and a day already published is kept or withdrawn by the one policy of ``feeds/republication.py``,
   which the failure's message and the report state.
2. ``publish_day``: refused while blocking verdicts stand (the feed's own, or a failed reconciliation that
   judged it); each staged series must read back through Nautilus' own decoder with the expected row count
   and first and last rows; then the instrument is written and every series promoted, atomically, replacing
   exactly that day. A day with nothing to publish loses its catalog days.
3. ``summarize``: after a run's (or a command line's) days, each symbol's rolling quality summary is rewritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from hedgegrid_data.atomic import remove_orphaned_temp_files
from hedgegrid_data.catalog.day_files import day_file_path, remove_day
from hedgegrid_data.catalog.instruments import write_instrument
from hedgegrid_data.catalog.integrity import of_day_files
from hedgegrid_data.catalog.publication import PublishedDay, promote_verified, verify_staged
from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.feeds.feed import CheckSpec, Feed
from hedgegrid_data.feeds.republication import Outcome, fail_day, kept_aside, published_version
from hedgegrid_data.quality.acceptances import acceptances_file, apply_acceptances, read_acceptances
from hedgegrid_data.quality.findings import SCHEMA_VALID, Severity, Verdict, blocking
from hedgegrid_data.quality.gate import RECONCILIATION, refuse_blocked
from hedgegrid_data.quality.report import write_day_quality
from hedgegrid_data.quality.summaries import SymbolSummary, write_quality_summaries
from hedgegrid_data.store import DataStore


@dataclass(frozen=True)
class NormalizedDay:
    verdicts: list[Verdict]
    report: dict
    metadata: dict[str, object]
    validated: dict[str, object]
    published_day: Outcome | None = None  # what became of the published day when this version failed


def remove_orphans(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> None:
    """Temporary files a killed writer left where the day's outputs go (a live writer's are kept)."""
    directories = {*(f.parent for f in feed.steps.normalized_files(feed, store, day, symbol)),
                   feed.quality_file(store, day, symbol).parent}
    for series in feed.steps.series(symbol):
        for root in (feed.staging(store), store.catalog):
            directories.add(day_file_path(root, series.data_cls, series.identifier, day).parent)
    for directory in sorted(directories):
        remove_orphaned_temp_files(directory)


def normalize_day(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> NormalizedDay:
    remove_orphans(feed, store, day, symbol)
    quality = feed.quality_file(store, day, symbol)
    published = published_version(feed, store, day, symbol)
    with kept_aside(published.normalized_files if published else []) as restore:
        try:
            staged = feed.steps.stage(feed, store, day, symbol)
        except HedgegridDataError as exc:
            outcome = fail_day(feed, store, day, symbol, published, restore, parse_error=True)
            if outcome:  # a day never published leaves nothing behind
                exc.published_day = outcome.outcome
                exc.add_note(outcome.note)
                where = {"file": exc.file, "line": exc.line} if isinstance(exc, ArchiveDataError) else {}
                failed = Verdict(SCHEMA_VALID, False, Severity.ERROR, f"{exc}; {outcome.note}",
                                 {**where, "published_day": outcome.outcome})
                write_day_quality(quality, day, symbol, [failed], outcome.record())
            raise
        verdicts = apply_acceptances(staged.verdicts, read_acceptances(acceptances_file(store)),
                                     feed.name, feed.partition_key(day, symbol))
        outcome = None
        if blocking(verdicts):
            outcome = fail_day(feed, store, day, symbol, published, restore, parse_error=False)
            if outcome:
                verdicts = [replace(v, summary=f"{v.summary}; {outcome.note}", metadata={
                    **v.metadata, "published_day": outcome.outcome}) if v.blocks else v for v in verdicts]
    report = write_day_quality(quality, day, symbol, verdicts, outcome.record() if outcome else None)
    return NormalizedDay(verdicts, report, staged.metadata, staged.validated, outcome)


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

    def blocking_failures(self, catalog_checks: tuple[CheckSpec, ...]) -> list[str]:
        """The failed checks that fail the published day (the assets' blocking checks on the catalog asset, and the
        command line's error), one line each: ``PUBLICATION_CHECKS`` and the feed's blocking ``catalog_checks``."""
        failures = [f"{ROWS_IN_EQUALS_ROWS_OUT.name}: {label or 'day'}: {d.rows_in} rows in, {d.rows_out} out"
                    for label, d in self.days.items() if d.rows_in != d.rows_out]
        if not self.integrity.passed:
            failures.append(f"{CATALOG_INTEGRITY.name}: {self.integrity.summary}")
        blocking_checks = {c.name for c in catalog_checks if c.blocking}
        return failures + [f"{name} failed: {details}" for name, (passed, details) in self.extra_checks.items()
                           if not passed and name in blocking_checks]


ROWS_IN_EQUALS_ROWS_OUT = CheckSpec("rows_in_equals_rows_out", True,
                                    "The day file holds as many rows as the normalized day it was made from.")
CATALOG_INTEGRITY = CheckSpec("catalog_integrity", True,
                              "The day reads back through Nautilus as published; no overlapping files.")
PUBLICATION_CHECKS = (ROWS_IN_EQUALS_ROWS_OUT, CATALOG_INTEGRITY)  # every published day's, both blocking


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


def summarize(feed: Feed, store: DataStore) -> dict[str, SymbolSummary]:
    """Rewrites the rolling 30-day quality summary of every symbol of the feed (``<feed>_quality_report``), with
    the days missing from its catalog series; after the days of a run or a command line were normalized."""
    return write_quality_summaries(store.quality_directory(feed.source.name, feed.market, feed.dataset),
                                   store.catalog, f"{feed.market} {feed.dataset}", catalog_series=feed.report_series)
