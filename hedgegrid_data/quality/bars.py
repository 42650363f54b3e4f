"""Checks on a day of bars: the expected count per interval and the missing bars as windows.

The archive leaves bars out during exchange maintenance; they are reported, never invented.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hedgegrid_data.markets import day_bounds_ns, utc_text
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict


def bar_gaps(open_times: pl.Series, interval_ns: int, day: dt.date) -> Verdict:
    """Missing bars of ``day`` at ``interval_ns``, as windows ``[from, to)`` with their bar counts."""
    start, end = day_bounds_ns(day)
    expected = (end + 1 - start) // interval_ns
    slots = ((open_times.cast(pl.Int64) - start) // interval_ns).unique().sort()
    present = pl.Series("slot", slots, dtype=pl.Int64)
    edges = pl.concat([pl.Series([-1], dtype=pl.Int64), present, pl.Series([expected], dtype=pl.Int64)])
    gaps = pl.DataFrame({"after": edges.head(-1), "before": edges.tail(-1)}).filter(
        pl.col("before") - pl.col("after") > 1)
    windows = [{"from": utc_text(start + (a + 1) * interval_ns), "to": utc_text(start + b * interval_ns),
                "missing_bars": b - a - 1} for a, b in gaps.iter_rows()]
    missing = expected - present.len()
    return Verdict(
        "bar_gaps", missing == 0, Severity.WARN,
        f"{missing} of {expected} bars missing in {len(windows)} windows" if missing else f"all {expected} bars present",
        {"expected_bars": expected, "bars": present.len(), "missing_bars": missing, "windows": windows[:MAX_EXAMPLES]},
    )
