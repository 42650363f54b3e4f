"""Reconciliation across datasets of one day: 1m bars rebuilt from trades against the archive's 1m klines,
aggTrades against trades, funding events against mark prices. Exact decimals throughout.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from hedgegrid_data.epochs import utc_text
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict

NS_PER_MINUTE = 60 * 10**9
BAR_FIELDS = ("open", "high", "low", "close", "volume", "count")


def bars_from_trades(trades: pl.LazyFrame | pl.DataFrame, interval_ns: int = NS_PER_MINUTE) -> pl.DataFrame:
    """OHLCV + trade count per interval from time-ordered trades (price, qty exact)."""
    frame = trades.lazy().select(
        (pl.col("ts_event").cast(pl.Int64) // interval_ns * interval_ns).alias("open_ns"),
        pl.col("price"), pl.col("qty"))
    return (
        frame.group_by("open_ns", maintain_order=True)
        .agg(open=pl.col("price").first(), high=pl.col("price").max(), low=pl.col("price").min(),
             close=pl.col("price").last(), volume=pl.col("qty").sum(), count=pl.len().cast(pl.Int64))
        .sort("open_ns")
        .collect()
    )


def _text(value: object) -> str:
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def reconcile_bars(from_trades: pl.DataFrame, klines: pl.DataFrame, volume_column: str = "volume") -> Verdict:
    """Every archive 1m kline with trades equals the bar rebuilt from the trades (open…close, volume, count).

    Minutes where the archive has no trades (``count == 0``) must have no trades either.
    """
    archive = klines.select(
        pl.col("open_time").cast(pl.Int64).alias("open_ns"), *(pl.col(c) for c in ("open", "high", "low", "close")),
        pl.col(volume_column).alias("volume"), pl.col("count").cast(pl.Int64))
    joined = archive.join(from_trades, on="open_ns", how="full", suffix="_trades", coalesce=True).sort("open_ns")
    mismatches = []
    for row in joined.iter_rows(named=True):
        if row["count"] in (None, 0) and row["count_trades"] is None:
            continue
        differing = {f: [_text(row[f]), _text(row[f"{f}_trades"])] for f in BAR_FIELDS
                     if row[f] is None or row[f"{f}_trades"] is None
                     or (Decimal(str(row[f])) != Decimal(str(row[f"{f}_trades"])))}
        if differing:
            mismatches.append({"minute": utc_text(row["open_ns"]), "archive_vs_trades": differing})
    return Verdict(
        "klines_match_trades", not mismatches, Severity.ERROR,
        f"{len(mismatches)} minutes where the archive's klines disagree with the trades" if mismatches
        else f"{archive.height} archive klines equal the bars rebuilt from trades",
        {"mismatched_minutes": len(mismatches), "first_mismatches": mismatches[:MAX_EXAMPLES],
         "klines": archive.height, "minutes_with_trades": from_trades.height},
    )


def reconcile_agg_trades(agg_trades: pl.DataFrame, trades: pl.DataFrame, quantity_column: str = "qty") -> Verdict:
    """Each aggregate covers trades ``first_trade_id..last_trade_id`` at its price and its quantity is their sum;
    consecutive aggregates chain (last + 1 = next first). Aggregates reaching outside the day's trade ids
    (the archive splits days by time, not by id) are counted, not judged."""
    lo, hi = int(trades["trade_id"].min()), int(trades["trade_id"].max())
    aggs = agg_trades.select("agg_trade_id", "first_trade_id", "last_trade_id", "price",
                             pl.col(quantity_column).alias("agg_qty")).sort("first_trade_id")
    chain_breaks = int((aggs["first_trade_id"].tail(-1) != aggs["last_trade_id"].head(-1) + 1).sum())
    inside = aggs.filter((pl.col("first_trade_id") >= lo) & (pl.col("last_trade_id") <= hi))
    owner = inside["first_trade_id"].search_sorted(trades["trade_id"], side="right") - 1
    covered = trades.select("trade_id", "price", "qty").with_columns(row=owner).filter(pl.col("row") >= 0)
    covered = covered.join(inside.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64)),
                           on=pl.col("row").cast(pl.Int64), how="inner", suffix="_agg")
    covered = covered.filter(pl.col("trade_id") <= pl.col("last_trade_id"))
    sums = covered.group_by("agg_trade_id").agg(
        qty=pl.col("qty").sum(), prices_differ=(pl.col("price") != pl.col("price_agg")).any(), n=pl.len())
    checked = inside.join(sums, on="agg_trade_id", how="left")
    bad = checked.filter(
        pl.col("qty").is_null()
        | (pl.col("qty").cast(pl.Decimal(38, 12)) != pl.col("agg_qty").cast(pl.Decimal(38, 12)))
        | pl.col("prices_differ")
        | (pl.col("n") != pl.col("last_trade_id") - pl.col("first_trade_id") + 1))
    examples = [{"agg_trade_id": r["agg_trade_id"], "agg_quantity": _text(r["agg_qty"]),
                 "trades_quantity": _text(r["qty"]), "trades_found": r["n"]}
                for r in bad.head(MAX_EXAMPLES).iter_rows(named=True)]
    passed = bad.height == 0 and chain_breaks == 0
    return Verdict(
        "agg_trades_match_trades", passed, Severity.ERROR,
        f"{bad.height} aggregates disagree with trades, {chain_breaks} breaks in the id chain" if not passed
        else f"{inside.height} aggregates equal the sums of their trades",
        {"aggregates": aggs.height, "checked": inside.height, "outside_the_days_trades": aggs.height - inside.height,
         "mismatched": bad.height, "chain_breaks": chain_breaks, "examples": examples},
    )


def mark_price_times(mark_klines: pl.DataFrame) -> pl.DataFrame:
    """When mark-price klines tell the mark price: at each bar's open (its open) and its close (its close).

    The open matters at midnight: the 00:00 funding event's last close is in the previous day's file, but
    the day's first bar opens at the event.
    """
    return pl.concat([mark_klines.select(pl.col(c).alias("ts_event")) for c in ("open_time", "close_time")]).sort(
        "ts_event")


def funding_has_mark_price(funding: pl.DataFrame, marks: pl.DataFrame, tolerance_ns: int = 60 * 10**9) -> Verdict:
    """Every funding event has a mark price no older than ``tolerance_ns`` before it."""
    events = funding.select(pl.col("ts_event").cast(pl.Int64).alias("event_ns")).sort("event_ns")
    mark_times = marks.select(pl.col("ts_event").cast(pl.Int64).alias("mark_ns")).sort("mark_ns")
    matched = events.join_asof(mark_times, left_on="event_ns", right_on="mark_ns", strategy="backward")
    missing = matched.filter(pl.col("mark_ns").is_null() | (pl.col("event_ns") - pl.col("mark_ns") > tolerance_ns))
    return Verdict(
        "funding_has_mark_price", missing.height == 0, Severity.ERROR,
        f"{missing.height} funding events without a mark price within {tolerance_ns / 1e9:g} s before them"
        if missing.height else f"{events.height} funding events each have a recent mark price",
        {"events": events.height, "without_mark_price": missing.height,
         "events_without_mark_price": [utc_text(t) for t in missing["event_ns"].head(MAX_EXAMPLES)]},
    )
