"""One policy for a published day whose re-fetched source fails, the same for every feed and every kind of failure
(a parse error or a blocking check): ``HEDGEGRID_FAILED_REPUBLICATION`` = ``keep`` (default) or ``withdraw``.

A day is *published* when its catalog series has a file for it (a feed that publishes a Nautilus type), or, for a
feed that stays a table, when its normalized table stands with a passing (or kept) day report.

- ``keep``: the published version stays whole: its catalog files, and its normalized tables, put back after the
  failed version was staged (``kept_aside``), so the table and the catalog hold the same version. The failed
  version's staged files are removed.
- ``withdraw``: the published catalog days and the staged files are removed. After a parse error the previous
  normalized tables are removed too; after a blocking check the failed version's tables stay for inspection.

Either way the failed version's verdicts are recorded (a parse error as a failed ``schema_valid``), so the gate
refuses to publish it, and the day report records what the catalog and the table now hold (``published_day``).
A day never published before is simply not published: its staged files are removed (a file that does not parse
leaves nothing else behind).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from hedgegrid_data import settings
from hedgegrid_data.atomic import temp_path_for
from hedgegrid_data.catalog.day_files import data_directory, overlapping_files, remove_day
from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.quality.report import read_day_report
from hedgegrid_data.store import DataStore

KEPT = "kept"
WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class PublishedVersion:
    """What a day has published: its catalog files (none for a table feed), its normalized tables, their rows."""

    day: dt.date
    catalog_files: list[Path]
    normalized_files: list[Path]
    rows: int


@dataclass(frozen=True)
class Outcome:
    """What became of the published day after a failed rebuild: ``kept`` or ``withdrawn``."""

    outcome: str
    note: str
    rows: int = 0

    def record(self) -> dict[str, object]:
        """The day report's ``published_day``."""
        return {"outcome": self.outcome, "rows": self.rows, "note": self.note}


def withdraw_day(feed: Feed, store: DataStore, day: dt.date, symbol: str, *, staged: bool = True,
                 catalog: bool = True) -> None:
    """Remove the day's staged series (unless ``staged=False``), and its catalog days when the feed publishes
    them (unless ``catalog=False``)."""
    roots = ([feed.staging(store)] if staged else []) + ([store.catalog] if feed.publisher and catalog else [])
    for series in feed.steps.series(symbol):
        for root in roots:
            remove_day(root, series.data_cls, series.identifier, day)


def _rows(files: list[Path]) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def published_version(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublishedVersion | None:
    """The day's published version, None when it was never published."""
    normalized = [f for f in feed.steps.normalized_files(feed, store, day, symbol) if f.exists()]
    if feed.publishes is not None and feed.publisher:
        start, end = day_bounds_ns(day)
        files = [f for s in feed.steps.series(symbol)
                 for f in overlapping_files(data_directory(store.catalog, s.data_cls, s.identifier), start, end)]
        return PublishedVersion(day, files, normalized, _rows(files)) if files else None
    report = read_day_report(feed.quality_file(store, day, symbol), day)
    if not normalized or report is None:
        return None
    if report["blocked"] and (report.get("published_day") or {}).get("outcome") != KEPT:
        return None
    return PublishedVersion(day, [], normalized, _rows(normalized))


@contextmanager
def kept_aside(files: list[Path]) -> Iterator[Callable[[], None]]:
    """Keep hard links of ``files`` while the block rebuilds them; yields ``restore()``, which puts them back
    (each atomically). The links are dropped when the block ends; they carry ``atomic_path``'s temporary names,
    so a killed run's are swept like any other writer's."""
    links = []
    try:
        for path in files:
            link = temp_path_for(path)
            try:
                os.link(path, link)
            except OSError:
                shutil.copyfile(path, link)
            links.append((link, path))

        def restore() -> None:
            for link, path in links:
                os.replace(link, path)

        yield restore
    finally:
        for link, _ in links:
            link.unlink(missing_ok=True)


def fail_day(feed: Feed, store: DataStore, day: dt.date, symbol: str, published: PublishedVersion | None,
             restore: Callable[[], None], *, parse_error: bool) -> Outcome | None:
    """Apply the policy to a day whose rebuild failed (``parse_error``: nothing of the new version was written);
    None for a day never published (its staged series are removed: nothing is published)."""
    if published is None:
        withdraw_day(feed, store, day, symbol)
        return None
    policy = settings.failed_republication()
    what = f"the published day of {day} ({published.rows:,} rows)"
    if policy == "keep":
        withdraw_day(feed, store, day, symbol, catalog=False)
        restore()
        return Outcome(KEPT, f"{what} was kept (HEDGEGRID_FAILED_REPUBLICATION=keep)", published.rows)
    withdraw_day(feed, store, day, symbol)
    if parse_error:
        for path in published.normalized_files:
            path.unlink(missing_ok=True)
    return Outcome(WITHDRAWN, f"{what} was withdrawn (HEDGEGRID_FAILED_REPUBLICATION=withdraw)", published.rows)
