"""Checks on a trades day: id continuity, silences, coverage of the day, price and volume spikes.

Binance trade ids are consecutive per symbol and market, so a jump is an exact count of missing
trades. Silences are measured against the day's own trade rate. Robust price outliers compare
each trade with the median and MAD of its UTC minute; volume
spikes compare a minute's volume with the mean of the preceding hour. The checker consumes the day batch by batch
(it rides along the normalization pass), so memory does not grow with the day.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl
import pyarrow as pa

from hedgegrid_data import settings
from hedgegrid_data.markets import Market, utc_text
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND


@dataclass(frozen=True)
class TradeCheckThresholds:
    """Defaults suit liquid Binance symbols; per-market values come from ``quality.toml`` (``for_market``)."""

    max_missing_ids: int = 0
    silence_factor: float = 50.0
    min_silence_seconds: float = 300.0
    coverage_seconds: float = 300.0
    jump_fraction: float = 0.05
    outlier_mads: float = 12.0
    outlier_min_fraction: float = 0.01
    volume_window_minutes: int = 60
    volume_factor: float = 100.0

    @classmethod
    def for_market(cls, market: Market) -> TradeCheckThresholds:
        """The configured thresholds of ``market`` (``HEDGEGRID_QUALITY_FILE`` or the checked-in file)."""
        return cls(**_quality_config(settings.quality_file()).get(market.value, {}).get("trades", {}))


@cache
def _quality_config(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


@dataclass
class _Findings:
    count: int = 0
    examples: list = field(default_factory=list)

    def add(self, rows: list) -> None:
        self.count += len(rows)
        self.examples.extend(rows[: MAX_EXAMPLES - len(self.examples)])


class TradesDayChecker:
    """Accumulates the trades checks of one day over time-ordered batches of the normalized table."""

    def __init__(self, day_bounds: tuple[int, int], thresholds: TradeCheckThresholds = TradeCheckThresholds()):
        self.bounds = day_bounds
        self.t = thresholds
        self.rows = 0
        self.first_id: int | None = None
        self.last_id: int | None = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.missing_ids = 0
        self.gaps = _Findings()
        self._long_spans: list[tuple[int, int]] = []
        self.longest_silence_ns = 0
        self.jumps = _Findings()
        self.outliers = _Findings()
        self.volume_spikes = _Findings()
        self._last_price: float | None = None
        self._open_minute = pl.DataFrame()
        self._recent_minute_volumes: list[float] = []

    def add(self, batch: pa.RecordBatch | pl.DataFrame) -> None:
        frame = batch if isinstance(batch, pl.DataFrame) else pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        if frame.height == 0:
            return
        frame = frame.select(
            pl.col("trade_id"),
            pl.col("ts_event").cast(pl.Int64).alias("ts"),
            pl.col("price"),
            pl.col("price").cast(pl.Float64).alias("p"),  # verdicts on relative moves; stored data stays exact
            pl.col("qty").cast(pl.Float64).alias("q"),
        )
        self._ids_and_silences(frame)
        self._jumps(frame)
        self._minutes(frame, final=False)
        self.rows += frame.height

    def _ids_and_silences(self, frame: pl.DataFrame) -> None:
        ids, ts = frame["trade_id"], frame["ts"]
        if self.first_id is None:
            self.first_id, self.first_ts = int(ids[0]), int(ts[0])
        prev_ids = ids.shift(1, fill_value=self.last_id if self.last_id is not None else ids[0] - 1)
        gaps = pl.DataFrame({"before": prev_ids, "after": ids}).filter(pl.col("after") - pl.col("before") > 1)
        self.missing_ids += int((gaps["after"] - gaps["before"] - 1).sum()) if gaps.height else 0
        self.gaps.add([[int(b) + 1, int(a) - 1] for b, a in gaps.iter_rows()])
        prev_ts = ts.shift(1, fill_value=self.last_ts if self.last_ts is not None else ts[0])
        spans = pl.DataFrame({"start": prev_ts, "end": ts}).with_columns(ns=pl.col("end") - pl.col("start"))
        self.longest_silence_ns = max(self.longest_silence_ns, int(spans["ns"].max()))
        limit = self.t.min_silence_seconds * NS_PER_SECOND
        long = spans.filter(pl.col("ns") > limit)
        self._long_spans.extend((int(s), int(e)) for s, e, _ in long.iter_rows())
        self.last_id, self.last_ts = int(ids[-1]), int(ts[-1])

    def _jumps(self, frame: pl.DataFrame) -> None:
        prev = frame["p"].shift(1, fill_value=self._last_price if self._last_price is not None else frame["p"][0])
        moved = frame.with_columns(prev=prev, jump=(frame["p"] / prev - 1).abs()).filter(
            pl.col("jump") > self.t.jump_fraction)
        self.jumps.add([{"trade_id": r["trade_id"], "time": utc_text(r["ts"]), "price": str(r["price"]),
                         "previous_price": repr(r["prev"]), "jump": round(r["jump"], 6)}
                        for r in moved.iter_rows(named=True)])
        self._last_price = float(frame["p"][-1])

    def _minutes(self, frame: pl.DataFrame, final: bool) -> None:
        frame = pl.concat([self._open_minute, frame]) if self._open_minute.height else frame
        minute = pl.col("ts") // NS_PER_MINUTE
        last_minute = frame["ts"][-1] // NS_PER_MINUTE
        if not final:
            self._open_minute = frame.filter(minute == last_minute)
            frame = frame.filter(minute < last_minute)
        if frame.height == 0:
            return
        stats = frame.with_row_index("row").with_columns(
            median=pl.col("p").median().over(minute),
        ).with_columns(mad=(pl.col("p") - pl.col("median")).abs().median().over(minute))
        deviation = (pl.col("p") - pl.col("median")).abs()
        found = stats.filter(
            (deviation > self.t.outlier_mads * 1.4826 * pl.col("mad"))
            & (deviation > self.t.outlier_min_fraction * pl.col("median"))
        )
        examples = []
        for r in found.head(MAX_EXAMPLES).iter_rows(named=True):
            lo, hi = max(r["row"] - 2, 0), min(r["row"] + 3, frame.height)
            examples.append({"trade_id": r["trade_id"], "time": utc_text(r["ts"]), "price": str(r["price"]),
                             "minute_median": round(r["median"], 8),
                             "neighbours": [str(p) for p in frame["price"][lo:hi].to_list()]})
        self.outliers.count += found.height
        self.outliers.examples.extend(examples[: MAX_EXAMPLES - len(self.outliers.examples)])
        volumes = frame.group_by(minute.alias("minute")).agg(pl.col("q").sum().alias("volume")).sort("minute")
        self._volume_spikes(volumes)

    def _volume_spikes(self, volumes: pl.DataFrame) -> None:
        """Minutes whose traded volume exceeds ``volume_factor`` × the mean of the preceding window."""
        history = self._recent_minute_volumes
        for minute, volume in volumes.iter_rows():
            if len(history) >= 10:
                mean = sum(history) / len(history)
                if volume > self.t.volume_factor * mean:
                    self.volume_spikes.add([{"minute": utc_text(minute * NS_PER_MINUTE), "volume": round(volume, 8),
                                             "rolling_mean_volume": round(mean, 8)}])
            history.append(volume)
            del history[: -self.t.volume_window_minutes]

    def verdicts(self) -> list[Verdict]:
        """The verdicts of the whole day; call once, after the last batch."""
        if self._open_minute.height:
            self._minutes(pl.DataFrame(schema=self._open_minute.schema), final=True)
            self._open_minute = pl.DataFrame()
        if self.rows == 0:
            return [Verdict("trades_present", False, Severity.ERROR, "no trades in the day")]
        start, end = self.bounds
        typical_ns = (end + 1 - start) / self.rows
        limit_ns = max(self.t.silence_factor * typical_ns, self.t.min_silence_seconds * NS_PER_SECOND)
        silences = sorted(((s, e) for s, e in self._long_spans if e - s > limit_ns), key=lambda w: w[0] - w[1])
        head = (self.first_ts - start) / NS_PER_SECOND
        tail = (end + 1 - self.last_ts) / NS_PER_SECOND
        return [
            Verdict(
                "trade_id_gaps", self.missing_ids <= self.t.max_missing_ids, Severity.ERROR,
                f"{self.missing_ids} missing trade ids in {self.gaps.count} gaps" if self.missing_ids
                else "trade ids are consecutive",
                {"missing_ids": self.missing_ids, "gaps": self.gaps.count, "missing_ranges": self.gaps.examples,
                 "first_id": self.first_id, "last_id": self.last_id, "tolerance": self.t.max_missing_ids},
            ),
            Verdict(
                "trade_silences", not silences, Severity.WARN,
                f"{len(silences)} silences over {limit_ns / NS_PER_SECOND:.0f} s, "
                f"longest {self.longest_silence_ns / NS_PER_SECOND:.0f} s",
                {"silences": len(silences), "longest_silence_seconds": round(self.longest_silence_ns / NS_PER_SECOND, 3),
                 "limit_seconds": round(limit_ns / NS_PER_SECOND, 3),
                 "windows": [{"from": utc_text(s), "to": utc_text(e), "seconds": (e - s) / NS_PER_SECOND}
                             for s, e in silences[:MAX_EXAMPLES]]},
            ),
            Verdict(
                "day_coverage", head <= self.t.coverage_seconds and tail <= self.t.coverage_seconds, Severity.WARN,
                f"first trade {head:.0f} s after the day starts, last {tail:.0f} s before it ends",
                {"first_trade": utc_text(self.first_ts), "last_trade": utc_text(self.last_ts),
                 "seconds_uncovered_at_start": head, "seconds_uncovered_at_end": tail,
                 "limit_seconds": self.t.coverage_seconds},
            ),
            Verdict(
                "price_spikes", self.outliers.count == 0 and self.jumps.count == 0, Severity.WARN,
                f"{self.outliers.count} robust price outliers, {self.jumps.count} jumps over "
                f"{self.t.jump_fraction:.0%}",
                {"outliers": self.outliers.count, "jumps": self.jumps.count,
                 "outlier_trades": self.outliers.examples, "jump_trades": self.jumps.examples},
            ),
            Verdict(
                "volume_spikes", self.volume_spikes.count == 0, Severity.WARN,
                f"{self.volume_spikes.count} minutes over {self.t.volume_factor:g}× the rolling mean minute volume",
                {"spikes": self.volume_spikes.count, "examples": self.volume_spikes.examples},
            ),
        ]


def check_trades(trades: pl.DataFrame, day_bounds: tuple[int, int],
                 thresholds: TradeCheckThresholds = TradeCheckThresholds()) -> list[Verdict]:
    """Every trades check on a whole (time-ordered) normalized day."""
    checker = TradesDayChecker(day_bounds, thresholds)
    checker.add(trades)
    return checker.verdicts()
