"""How ``ingest`` shows its days: a live progress display on a terminal, plain log lines elsewhere, and the
summary table at the end.

On a terminal (rich): one bar over every day × feed × symbol of the command with days done, rows, rows/s,
bytes, failures, elapsed time and ETA, and a line per finished day above it. Not on a terminal (a pipe, a file,
a CI log): one plain line per finished day, flushed at once, with the same running totals and no escape codes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


@dataclass(frozen=True)
class DayResult:
    """One day of one feed and symbol: published (``ok``) or failed with ``error``."""

    feed: str
    symbol: str
    day: dt.date
    ok: bool
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def label(self) -> str:
        return f"{self.feed} {self.symbol} {self.day}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return str(dt.timedelta(seconds=round(seconds)))


class Totals:
    """Running totals over the days finished so far."""

    def __init__(self, total: int):
        self.total = total
        self.done = self.failed = self.rows = self.bytes = 0
        self.started: float | None = None

    def start(self) -> None:
        """The clock starts with the first day (not with the imports before it)."""
        if self.started is None:
            self.started = time.monotonic()

    def add(self, result: DayResult) -> None:
        self.done += 1
        self.failed += not result.ok
        self.rows += result.rows
        self.bytes += result.bytes

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started if self.started is not None else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        return self.elapsed / self.done * (self.total - self.done) if self.done else None


class PlainProgress:
    """One line per finished day (for pipes and logs)."""

    def __init__(self, stream: TextIO, total: int, what: str):
        self.stream = stream
        self.totals = Totals(total)
        self._line(f"ingest: {total} day(s) to publish ({what})")

    def _line(self, text: str) -> None:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.stream.write(f"{now} {text}\n")
        self.stream.flush()

    def started(self, label: str) -> None:
        self.totals.start()

    def finished(self, result: DayResult) -> None:
        t = self.totals
        t.add(result)
        what = (f"published rows={result.rows} bytes={result.bytes}" if result.ok
                else f"FAILED: {result.error}")
        self._line(f"{result.label} {what} ({result.seconds:.1f}s) [{t.done}/{t.total} days, {t.failed} failed, "
                   f"{t.rows} rows, {t.rows_per_second:,.0f} rows/s, {human_bytes(t.bytes)}, "
                   f"ETA {_eta(t.eta)}]")

    def close(self) -> None:
        pass


class TerminalProgress:
    """A live bar over the command's days, with a line per finished day above it."""

    def __init__(self, console: Console, total: int, what: str):
        self.console = console
        self.totals = Totals(total)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days"),
            TextColumn("{task.fields[rows]} rows"),
            TextColumn("{task.fields[rate]} rows/s"),
            TextColumn("{task.fields[bytes]}"),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(what, total=total, **self._fields())
        self.progress.start()

    def _fields(self) -> dict[str, str]:
        t = self.totals
        return {"rows": f"{t.rows:,}", "rate": f"{t.rows_per_second:,.0f}", "bytes": human_bytes(t.bytes),
                "failed": f"[red]{t.failed} failed[/]" if t.failed else "0 failed"}

    def started(self, label: str) -> None:
        if self.totals.started is None:  # elapsed time and ETA count from the first day, not the imports
            self.totals.start()
            self.progress.reset(self.task, total=self.totals.total, **self._fields())
        self.progress.update(self.task, description=label)

    def finished(self, result: DayResult) -> None:
        self.totals.add(result)
        if result.ok:
            self.console.print(f"[green]✓[/] {result.label}: {result.rows:,} rows, {human_bytes(result.bytes)}, "
                               f"{result.seconds:.1f}s", highlight=False)
        else:
            self.console.print(f"[red]✗ {result.label}[/]: {escape(result.error)}", highlight=False)
        self.progress.update(self.task, advance=1, **self._fields())

    def close(self) -> None:
        self.progress.update(self.task, description="done")
        self.progress.stop()


def progress_for(stream: TextIO, total: int, what: str) -> PlainProgress | TerminalProgress:
    """The live display on a terminal, plain lines otherwise."""
    console = Console(file=stream)
    if console.is_terminal:
        return TerminalProgress(console, total, what)
    return PlainProgress(stream, total, what)


def summary(stream: TextIO, results: Sequence[DayResult], seconds: float) -> None:
    """Per feed and symbol: days published and failed, rows, bytes; then each failed day with its error."""
    console = Console(file=stream, highlight=False)
    if not console.is_terminal:
        console = Console(file=stream, highlight=False, width=max(console.width, 160), no_color=True)
    table = Table(title="ingest summary", show_lines=False)
    for column, justify in (("feed", "left"), ("symbol", "left"), ("first day", "left"), ("last day", "left"),
                            ("published", "right"), ("failed", "right"), ("rows", "right"), ("bytes", "right"),
                            ("seconds", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    groups: dict[tuple[str, str], list[DayResult]] = {}
    for r in results:
        groups.setdefault((r.feed, r.symbol), []).append(r)
    for (feed, symbol), days in groups.items():
        failed = sum(not d.ok for d in days)
        table.add_row(feed, symbol, str(min(d.day for d in days)), str(max(d.day for d in days)),
                      str(len(days) - failed), f"[red]{failed}[/]" if failed else "0",
                      f"{sum(d.rows for d in days):,}", human_bytes(sum(d.bytes for d in days)),
                      f"{sum(d.seconds for d in days):.1f}")
    console.print(table)
    failures = [r for r in results if not r.ok]
    for r in failures:
        console.print(f"FAILED {r.label}: {r.error}", markup=False, soft_wrap=True)
    published = len(results) - len(failures)
    console.print(f"{published} of {len(results)} day(s) published, {len(failures)} failed, "
                  f"{sum(r.rows for r in results):,} rows in {seconds:.1f}s", markup=False)
