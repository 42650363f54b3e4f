"""Checks on a day of bars: the OHLCV rules every bar must obey, the expected count per interval and the
missing bars as windows.

A bar breaking an OHLCV rule is wrong data (ERROR, the day stays out of the catalog). The archive leaves
bars out during exchange maintenance; those are reported (WARN), never invented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import polars as pl
import pyarrow as pa

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns, utc_text
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict
from hedgegrid_data.tables.bars import PRICE_COLUMNS, interval_ns

OHLCV_RULES = {
    "high_below_open_or_close": "high ≥ max(open, close)",
    "low_above_open_or_close": "low ≤ min(open, close)",
    "high_below_low": "high ≥ low",
    "negative_volume": "volume ≥ 0",
    "taker_buy_above_volume": "taker-buy volume ≤ volume",
    "open_time_not_increasing": "open times strictly increase",
    "close_time_not_open_plus_interval": "close time = open time + interval − 1 time unit",
}


def _text(value: object) -> object:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else value


def ohlcv_rules(table: pa.Table, interval: str, time_unit: TimeUnit, volume_column: str | None,
                taker_buy_column: str | None, first_line: int) -> Verdict:
    """Every bar of a normalized kline-like table against the OHLCV rules, with counts per rule.

    ``volume_column``/``taker_buy_column`` are None for tables without volumes (mark, index and premium-index
    klines: only the ordering and time rules apply). ``first_line`` is the archive file line of row 0.
    """
    values = [c for c in (*PRICE_COLUMNS, volume_column, taker_buy_column) if c is not None]
    frame = pl.from_arrow(table.select(["open_time", "close_time", *values]))
    assert isinstance(frame, pl.DataFrame)
    opens, closes = pl.col("open_time").cast(pl.Int64), pl.col("close_time").cast(pl.Int64)
    high, low, open_, close = pl.col("high"), pl.col("low"), pl.col("open"), pl.col("close")
    rules = {
        "high_below_open_or_close": (high < open_) | (high < close),
        "low_above_open_or_close": (low > open_) | (low > close),
        "high_below_low": high < low,
    }
    if volume_column is not None:
        rules["negative_volume"] = pl.col(volume_column) < 0
        if taker_buy_column is not None:
            rules["taker_buy_above_volume"] = pl.col(taker_buy_column) > pl.col(volume_column)
    rules["open_time_not_increasing"] = opens.diff() <= 0
    rules["close_time_not_open_plus_interval"] = closes != opens + interval_ns(interval) - time_unit.nanos
    flagged = frame.with_row_index("row").with_columns(
        opens.alias("open_ns"), closes.alias("close_ns"),
        **{name: rule.fill_null(False) for name, rule in rules.items()})
    counts = {name: int(flagged[name].sum()) for name in rules}
    offending = flagged.filter(pl.any_horizontal(list(rules)))
    examples = [
        {"interval": interval, "line": first_line + r["row"], "open_time": utc_text(r["open_ns"]),
         "close_time": utc_text(r["close_ns"]), "violates": [name for name in rules if r[name]],
         **{c: _text(r[c]) for c in values}}
        for r in offending.head(MAX_EXAMPLES).iter_rows(named=True)
    ]
    broken = {name: n for name, n in counts.items() if n}
    return Verdict(
        "ohlcv_rules", offending.height == 0, Severity.ERROR,
        f"{offending.height} of {frame.height} {interval} bars break the OHLCV rules: "
        + ", ".join(f"{OHLCV_RULES[name]} ({n})" for name, n in broken.items())
        if broken else f"all {frame.height} {interval} bars obey the OHLCV rules",
        {"bars": frame.height, "violating_bars": offending.height, **counts, "first_violations": examples},
    )


def ohlcv_rules_of_files(verdicts: Sequence[Verdict]) -> Verdict:
    """One ``ohlcv_rules`` verdict for a day's several archive files: counts added, examples kept in file order."""
    if len(verdicts) == 1:
        return verdicts[0]
    counts: dict[str, int] = {}
    for verdict in verdicts:
        for key, value in verdict.metadata.items():
            if isinstance(value, int):
                counts[key] = counts.get(key, 0) + value
    examples = [e for v in verdicts for e in v.metadata["first_violations"]][:MAX_EXAMPLES]
    return Verdict(
        "ohlcv_rules", all(v.passed for v in verdicts), Severity.ERROR, "; ".join(v.summary for v in verdicts),
        {**counts, "first_violations": examples},
    )


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
