"""Reconciliation across sources of the same instrument and day (a vendor's copy against the venue's own archive),
exact, id by id or time by time; pure functions of normalized tables (polars) → verdicts with counts and the first
differing rows.

- ``trades_match``: trades by trade id — missing (the archive has them, the copy does not), extra (the other way)
  and differing (price, quantity, exchange time or aggressor side);
- ``mark_prices_match``: each mark price of the copy lies within its minute's mark-price kline (low…high) of the
  archive, and each minute's last mark price is compared with the kline's close (a stream may not carry the
  minute's very last computation: counted, not failed);
- ``funding_matches``: the settled rate of each archive funding event against the rate in force just before its
  boundary in the copy's funding updates (``tables/funding.settled_from_updates``).

A check whose counterpart is absent is not applicable (passed, ``applicable: False``). Verdicts are WARN: the copy
is not the declared publisher of these series; the findings say where the two sources disagree.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from hedgegrid_data.epochs import utc_text
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict
from hedgegrid_data.quality.reconciliation import NS_PER_MINUTE
from hedgegrid_data.tables.funding import settled_from_updates

TRADE_FIELDS = ("price", "qty", "ts_event", "aggressor_side")


def not_applicable(check: str, why: str) -> Verdict:
    return Verdict(check, True, Severity.WARN, f"not applicable: {why}", {"applicable": False})


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def _ns(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).dt.epoch("ns") for c in columns if c in frame.columns)


def trades_match(ours: pl.DataFrame, archive: pl.DataFrame, check: str = "trades_match_archive",
                 names: tuple[str, str] = ("tardis", "archive")) -> Verdict:
    """Trades by ``trade_id``: missing from ``ours``, extra in ``ours``, and differing in any of ``TRADE_FIELDS``."""
    a = _ns(ours.select("trade_id", *TRADE_FIELDS), "ts_event")
    b = _ns(archive.select("trade_id", *TRADE_FIELDS), "ts_event")
    a = a.with_columns(pl.col("trade_id").cast(pl.Int64)) if b.schema["trade_id"] == pl.Int64 else a
    joined = a.join(b, on="trade_id", how="full", suffix="_archive", coalesce=True)
    missing = joined.filter(pl.col("price").is_null()).sort("trade_id")
    extra = joined.filter(pl.col("price_archive").is_null()).sort("trade_id")
    both = joined.filter(pl.col("price").is_not_null() & pl.col("price_archive").is_not_null())
    differs = pl.any_horizontal([pl.col(f).cast(pl.String) != pl.col(f"{f}_archive").cast(pl.String)
                                 for f in TRADE_FIELDS])
    differing = both.filter(differs).sort("trade_id")
    passed = not (missing.height or extra.height or differing.height)

    def shown(row: dict) -> str:
        fields = [f"{f} {_text(row[f])} ≠ {_text(row[f + '_archive'])}" for f in TRADE_FIELDS
                  if _text(row[f]) != _text(row[f + "_archive"])]
        return f"trade {row['trade_id']}: " + ", ".join(fields)

    ours_name, theirs_name = names
    summary = (f"{both.height} trades compared: {missing.height} missing from {ours_name}, {extra.height} extra, "
               f"{differing.height} differing")
    return Verdict(check, passed, Severity.WARN, summary if not passed else f"{both.height} trades equal id by id", {
        "applicable": True, "compared": both.height, "missing": missing.height, "extra": extra.height,
        "differing": differing.height, f"{ours_name}_rows": a.height, f"{theirs_name}_rows": b.height,
        "first_missing": missing["trade_id"].head(MAX_EXAMPLES).cast(pl.String).to_list(),
        "first_extra": extra["trade_id"].head(MAX_EXAMPLES).cast(pl.String).to_list(),
        "first_differing": [shown(r) for r in differing.head(MAX_EXAMPLES).iter_rows(named=True)]})


def mark_prices_match(marks: pl.DataFrame, klines: pl.DataFrame, check: str = "mark_prices_match_archive") -> Verdict:
    """Every mark price within its minute's kline range; each minute's last mark against the kline's close."""
    m = _ns(marks.select("mark_price", "ts_event"), "ts_event").with_columns(
        (pl.col("ts_event") // NS_PER_MINUTE * NS_PER_MINUTE).alias("open_ns"))
    k = klines.select(pl.col("open_time").dt.epoch("ns").alias("open_ns"), "low", "high", "close")
    joined = m.join(k, on="open_ns", how="left")
    no_kline = joined.filter(pl.col("close").is_null())
    cmp = joined.filter(pl.col("close").is_not_null())
    value = pl.col("mark_price").cast(pl.String).str.to_decimal(scale=12)
    outside = cmp.filter((value < pl.col("low").cast(pl.Decimal(38, 12)))
                         | (value > pl.col("high").cast(pl.Decimal(38, 12))))
    last = cmp.group_by("open_ns", maintain_order=True).agg(pl.col("mark_price").last(), pl.col("close").last())
    closes_equal = last.filter(pl.col("mark_price").cast(pl.Decimal(38, 12)) == pl.col("close").cast(
        pl.Decimal(38, 12))).height
    passed = not (outside.height or no_kline.height)
    examples = [f"{utc_text(r['ts_event'])}: mark {_text(r['mark_price'])} outside [{_text(r['low'])}, "
                f"{_text(r['high'])}]" for r in outside.head(MAX_EXAMPLES).iter_rows(named=True)]
    summary = (f"{outside.height} of {cmp.height} mark prices outside their minute's archive kline, "
               f"{no_kline.height} in minutes without a kline" if not passed
               else f"{cmp.height} mark prices within their minute's archive kline")
    return Verdict(check, passed, Severity.WARN, summary, {
        "applicable": True, "compared": cmp.height, "outside_kline": outside.height,
        "without_kline": no_kline.height, "minutes": last.height, "minute_closes_equal": closes_equal,
        "first_outside": examples,
        "first_without_kline": [utc_text(t) for t in no_kline["ts_event"].head(MAX_EXAMPLES).to_list()]})


def funding_matches(updates: pl.DataFrame, archive: pl.DataFrame, check: str = "funding_matches_archive") -> Verdict:
    """Each archive funding event (``funding_time``, ``rate``) against the rate in force just before its boundary
    in the updates; an event whose boundary no update announced is missing."""
    settled = _ns(settled_from_updates(updates), "funding_time", "ts_event")
    events = _ns(archive.select("funding_time", "rate"), "funding_time")
    joined = events.join(settled, on="funding_time", how="left", suffix="_updates")
    missing = joined.filter(pl.col("rate_updates").is_null())
    both = joined.filter(pl.col("rate_updates").is_not_null())
    differing = both.filter(pl.col("rate").cast(pl.String) != pl.col("rate_updates").cast(pl.String))
    passed = not (missing.height or differing.height)
    summary = (f"{both.height} funding events compared: {differing.height} differing, {missing.height} without "
               "an update before their boundary" if not passed else f"{both.height} settled rates equal")
    return Verdict(check, passed, Severity.WARN, summary, {
        "applicable": True, "compared": both.height, "differing": differing.height, "missing": missing.height,
        "first_differing": [f"{utc_text(r['funding_time'])}: archive {_text(r['rate'])} ≠ updates "
                            f"{_text(r['rate_updates'])} (last update {utc_text(r['ts_event'])})"
                            for r in differing.head(MAX_EXAMPLES).iter_rows(named=True)],
        "first_missing": [utc_text(t) for t in missing["funding_time"].head(MAX_EXAMPLES).to_list()]})
