"""``hedgegrid-data status``: what the data store holds, per venue, market, symbol and data type.

For every configured feed and symbol with anything stored: the first and last day in the catalog (for a feed
that publishes no catalog series, its normalized days), the days missing in between (by Nautilus' own interval
logic, ``catalog/integrity.py``), the latest day report's quality score and failed checks
(``quality/report.py``), and how stale the newest day is: the newest day whose files were due
(``feed.automation.due``) against the newest day held, and since when the first day missing was due.

Pure reading: no Dagster, nothing written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from hedgegrid_data.catalog.day_files import data_directory, file_interval
from hedgegrid_data.catalog.integrity import missing_days
from hedgegrid_data.feeds.feed import CatalogSeries, Feed
from hedgegrid_data.store import DataStore

REPORT_SUFFIX = ".report.json"


def catalog_days(catalog_root: Path, data_cls: type, identifier: str) -> list[dt.date]:
    """The UTC days of the series' day files (each file is named by its day's bounds)."""
    directory = data_directory(catalog_root, data_cls, identifier)
    days = set()
    for path in directory.glob("*.parquet") if directory.is_dir() else []:
        interval = file_interval(path)
        if interval is not None:
            days.add(dt.datetime.fromtimestamp(interval[0] // 10**9, dt.UTC).date())
    return sorted(days)


def _dated_files(directory: Path, suffix: str) -> dict[dt.date, Path]:
    found = {}
    for path in directory.glob(f"*{suffix}") if directory.is_dir() else []:
        try:
            found[dt.date.fromisoformat(path.name[: -len(suffix)])] = path
        except ValueError:
            continue
    return found


def newest_due_day(feed: Feed, now: dt.datetime) -> dt.date:
    """The newest day whose source files were due by ``now``."""
    day = now.date()
    while feed.automation.due(day) > now:
        day -= dt.timedelta(days=1)
    return day


def published_series(feed: Feed, symbol: str) -> CatalogSeries | None:
    """The catalog series a feed's days of ``symbol`` are judged by: its ``report_series``, else its only (or
    first) series; None for a feed that is not the declared publisher of its type."""
    if feed.publishes is None or not feed.publisher:
        return None
    if feed.report_series is not None:
        return feed.report_series(symbol)
    series = feed.steps.series(symbol)
    return series[0] if series else None


def symbol_status(feed: Feed, store: DataStore, symbol: str, now: dt.datetime) -> dict | None:
    """The status of one feed and symbol; None when nothing of it is stored."""
    series = published_series(feed, symbol)
    if series is not None:
        days = catalog_days(store.catalog, series.data_cls, series.identifier)
        held_in = "catalog"
    else:
        days = sorted(_dated_files(feed.normalized_file(store, feed.start_date, symbol).parent, ".parquet"))
        held_in = "normalized"
    reports = _dated_files(feed.quality_file(store, feed.start_date, symbol).parent, REPORT_SUFFIX)
    if not days and not reports:
        return None
    first, last = (days[0], days[-1]) if days else (None, None)
    if series is not None and first and last:
        missing = missing_days(store.catalog, series.data_cls, series.identifier, first, last)
    else:
        held = set(days)
        missing = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)
                   if first + dt.timedelta(days=i) not in held] if first and last else []
    latest: dict = {}
    if reports:
        report_day = max(reports)
        report = json.loads(reports[report_day].read_text())
        latest = {"day": report_day.isoformat(), "quality_score": report["quality_score"],
                  "blocked": report["blocked"],
                  "failed_checks": [c["check"] for c in report["checks"] if not c["passed"] and not c.get("accepted")]}
    due_day = newest_due_day(feed, now)
    behind = (due_day - last).days if last else None
    overdue_since = feed.automation.due(last + dt.timedelta(days=1)) if last and behind and behind > 0 else None
    return {
        "venue": feed.venue, "market": feed.market, "symbol": symbol, "data_type": feed.table,
        "source": feed.source.name, "feed": feed.name, "instrument_id": feed.instrument_ids(symbol),
        "held_in": held_in, "first_day": first.isoformat() if first else None,
        "last_day": last.isoformat() if last else None, "days": len(days), "missing_days": missing,
        "latest_report": latest or None,
        "newest_due_day": due_day.isoformat(), "days_behind": behind,
        "overdue_since": overdue_since.isoformat() if overdue_since else None,
        "stale_hours": round((now - overdue_since).total_seconds() / 3600, 1) if overdue_since else 0.0,
    }


def status(feeds: Iterable[Feed], store: DataStore, now: dt.datetime, symbols: Iterable[str] = ()) -> list[dict]:
    """Every feed × configured symbol with something stored, in the registry's order."""
    wanted = set(symbols)
    rows = []
    for feed in feeds:
        for symbol in feed.symbols:
            if wanted and symbol not in wanted:
                continue
            row = symbol_status(feed, store, symbol, now)
            if row is not None:
                rows.append(row)
    return rows


def _missing_text(missing: list[str]) -> str:
    if not missing:
        return "0"
    shown = ", ".join(missing[:3]) + (f" +{len(missing) - 3}" if len(missing) > 3 else "")
    return f"{len(missing)}: {shown}"


def _stale_text(row: dict) -> str:
    if row["days_behind"] is None:
        return "no days"
    if row["days_behind"] <= 0:
        return "up to date"
    hours = row["stale_hours"]
    late = f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"
    return f"{row['days_behind']} day(s) behind; {row['overdue_since'][:16]} due, {late} ago"


def print_table(stream: TextIO, rows: list[dict], now: dt.datetime) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, highlight=False)
    if not console.is_terminal:
        console = Console(file=stream, highlight=False, width=max(console.width, 200), no_color=True)
    table = Table(title=f"hedgegrid-data status at {now:%Y-%m-%d %H:%M} UTC")
    for column in ("venue", "market", "symbol", "data type", "source", "first day", "last day", "missing days",
                   "score", "failed checks", "freshness"):
        table.add_column(column)
    for row in rows:
        latest = row["latest_report"] or {}
        score = f"{latest['quality_score']:.2f} ({latest['day']})" if latest else "-"
        failed = ", ".join(latest.get("failed_checks", [])) or "-"
        table.add_row(row["venue"], row["market"], row["symbol"], row["data_type"], row["source"],
                      row["first_day"] or "-", row["last_day"] or "-", _missing_text(row["missing_days"]),
                      score, failed, _stale_text(row))
    if rows:
        console.print(table)
    else:
        console.print("nothing ingested yet")
