"""Cross-venue check: one instrument's minute prices on one venue against the same instrument on another.

For every UTC minute both venues traded in, the last trade price of the minute on each; a minute where they
diverge by more than ``max_divergence`` (|ours / theirs − 1|) is listed. The verdict is a WARN: venues do
drift apart for real (a depeg, a venue's own spike); it is a lead for a person, not a reason to withhold a day.
Prices are compared as floats (a verdict on relative moves; the data stays exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from hedgegrid_data.epochs import utc_text
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict
from hedgegrid_data.quality.trades import NS_PER_MINUTE, quality_config

CHECK = "cross_venue_prices"


@dataclass(frozen=True)
class CrossVenueThresholds:
    max_divergence: float = 0.005

    @classmethod
    def for_section(cls, section: str) -> CrossVenueThresholds:
        """``[<section>.cross_venue]`` of the quality file (``HEDGEGRID_QUALITY_FILE``)."""
        return cls(**quality_config(section, "cross_venue"))


def minute_closes(trades: pa.Table) -> pl.DataFrame:
    """The last price of every minute of a time-ordered table with ``ts_event`` and ``price``."""
    frame = pl.from_arrow(trades.select(["ts_event", "price"]))
    assert isinstance(frame, pl.DataFrame)
    return (frame.select((pl.col("ts_event").cast(pl.Int64) // NS_PER_MINUTE).alias("minute"),
                         pl.col("price").cast(pl.Float64))
            .group_by("minute", maintain_order=True).last())


def not_applicable(reason: str, counterpart: str | None) -> Verdict:
    return Verdict(CHECK, True, Severity.WARN, reason, {"applicable": False, "counterpart": counterpart or ""})


def cross_venue_prices(ours: pa.Table, theirs: pa.Table, ours_id: str, theirs_id: str,
                       thresholds: CrossVenueThresholds = CrossVenueThresholds()) -> Verdict:
    """Minute closes of ``ours`` (instrument ``ours_id``) against ``theirs`` (``theirs_id``): a WARN listing the
    minutes diverging by more than ``thresholds.max_divergence``."""
    both = minute_closes(ours).join(minute_closes(theirs), on="minute", suffix="_theirs").with_columns(
        divergence=(pl.col("price") / pl.col("price_theirs") - 1).abs()).sort("minute")
    over = both.filter(pl.col("divergence") > thresholds.max_divergence)
    largest = float(both["divergence"].max() or 0.0) if both.height else 0.0
    return Verdict(
        CHECK, over.height == 0, Severity.WARN,
        f"{over.height} of {both.height} common minutes diverge from {theirs_id} by more than "
        f"{thresholds.max_divergence:.2%} (largest {largest:.3%})",
        {"applicable": True, "counterpart": theirs_id, "instrument": ours_id, "minutes_compared": both.height,
         "minutes_over": over.height, "max_divergence": round(largest, 8),
         "limit": thresholds.max_divergence,
         "minutes": [{"minute": utc_text(m * NS_PER_MINUTE), "price": p, "counterpart_price": q,
                      "divergence": round(d, 8)}
                     for m, p, q, d in over.head(MAX_EXAMPLES).iter_rows()]},
    )
