"""Checks on a trades day: id continuity, silences, coverage of the day, price and volume spikes.

Where a feed's trade ids are consecutive (Binance's are, per symbol and market), a jump is an exact count of
missing trades; other feeds (ids that are text, or integers with gaps) get no id check. A day passes the id check
when its missing ids are within ``max_missing_ids`` or within ``max_missing_share`` of the ids the day spans
(either tolerance suffices). Silences are measured against the day's own trade rate, capped at
``max_silence_seconds`` so that a sparse day's hole is still found. Robust price outliers compare each trade with
the median and MAD of its UTC minute; volume spikes compare a minute's volume with the mean of the preceding hour.
The checker consumes the day batch by batch (it rides along the normalization pass), so memory does not grow with
the day.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data import settings
from hedgegrid_data.epochs import utc_text
from hedgegrid_data.quality.findings import MAX_EXAMPLES, Severity, Verdict

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND


@dataclass(frozen=True)
class TradeCheckThresholds:
    """Defaults suit liquid Binance symbols; per-market values come from ``quality.toml`` (``for_market``)."""

    max_missing_ids: int = 0
    max_missing_share: float = 0.0
    silence_factor: float = 50.0
    min_silence_seconds: float = 300.0
    max_silence_seconds: float = 3600.0
    coverage_seconds: float = 300.0
    jump_fraction: float = 0.05
    outlier_mads: float = 12.0
    outlier_min_fraction: float = 0.01
    volume_window_minutes: int = 60
    volume_factor: float = 100.0

    @classmethod
    def for_market(cls, market: str) -> TradeCheckThresholds:
        """The configured thresholds of the ``market`` section (``HEDGEGRID_QUALITY_FILE`` or the checked-in file)."""
        return cls(**quality_config(market, "trades"))


def quality_config(section: str, table: str) -> dict:
    """The ``[<section>.<table>]`` thresholds of the quality file (``HEDGEGRID_QUALITY_FILE``); empty if absent."""
    return _quality_config(settings.quality_file()).get(section, {}).get(table, {})


def within_missing_tolerance(missing: int, spanned: int, thresholds: TradeCheckThresholds) -> bool:
    """Missing ids within ``max_missing_ids``, or within ``max_missing_share`` of the ``spanned`` ids."""
    return missing <= thresholds.max_missing_ids or missing <= thresholds.max_missing_share * spanned


@cache
def _quality_config(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


@dataclass
class _Findings:
    count: int = 0
    examples: list = field(default_factory=list)

    def add(self, count: int, examples: list) -> None:
        self.count += count
        self.examples.extend(examples[: MAX_EXAMPLES - len(self.examples)])


@dataclass(frozen=True)
class _Trades:
    """A time-ordered run of trades as arrays: ids (as the source types them), ns times, float prices and sizes,
    and the exact prices."""

    ids: pa.Array
    ts: np.ndarray
    p: np.ndarray  # verdicts on relative moves; the stored data stays exact
    q: np.ndarray
    prices: pa.Array

    @classmethod
    def of(cls, batch: pa.RecordBatch | pa.Table) -> _Trades:
        def column(name: str) -> pa.Array:
            values = batch.column(name)
            return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values

        prices = column("price")
        return cls(column("trade_id"), column("ts_event").cast(pa.int64()).to_numpy(),
                   pc.cast(prices, pa.float64()).to_numpy(), pc.cast(column("qty"), pa.float64()).to_numpy(), prices)

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, start: int, stop: int | None = None) -> _Trades:
        stop = len(self) if stop is None else stop
        return _Trades(self.ids.slice(start, stop - start), self.ts[start:stop], self.p[start:stop],
                       self.q[start:stop], self.prices.slice(start, stop - start))

    def after(self, earlier: _Trades) -> _Trades:
        """``earlier`` followed by these trades."""
        return _Trades(pa.concat_arrays([earlier.ids, self.ids]), *(np.concatenate([a, b]) for a, b in zip(
            (earlier.ts, earlier.p, earlier.q), (self.ts, self.p, self.q), strict=True)),
            pa.concat_arrays([earlier.prices, self.prices]))


def _previous(values: np.ndarray, before: float | None) -> np.ndarray:
    """Each value's predecessor; the first one's is ``before`` (or itself when there is none)."""
    return np.concatenate([[values[0] if before is None else before], values[:-1]])


def _median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty array without its per-call overhead (it runs once per minute)."""
    half = len(values) // 2
    if len(values) % 2:
        return float(np.partition(values, half)[half])
    low, high = np.partition(values, (half - 1, half))[half - 1:half + 1]
    return float((low + high) / 2)


class TradesDayChecker:
    """Accumulates the trades checks of one day over time-ordered batches of the normalized table."""

    def __init__(self, day_bounds: tuple[int, int], thresholds: TradeCheckThresholds = TradeCheckThresholds(),
                 consecutive_ids: bool = True):
        self.bounds = day_bounds
        self.t = thresholds
        self.consecutive_ids = consecutive_ids  # only then does a jump in ids count missing trades
        self.rows = 0
        self.first_id: int | str | None = None
        self.last_id: int | str | None = None
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
        self._open_minute: _Trades | None = None
        self._recent_minute_volumes: list[float] = []

    def add(self, batch: pa.RecordBatch | pa.Table | pl.DataFrame) -> None:
        if isinstance(batch, pl.DataFrame):
            batch = batch.to_arrow()
        if batch.num_rows == 0:
            return
        trades = _Trades.of(batch)
        self._ids_and_silences(trades)
        self._jumps(trades)
        self._minutes(trades, final=False)
        self.rows += len(trades)

    def _ids_and_silences(self, trades: _Trades) -> None:
        ts = trades.ts
        if self.first_id is None:
            self.first_id, self.first_ts = trades.ids[0].as_py(), int(ts[0])
        if self.consecutive_ids:
            ids = trades.ids.to_numpy()
            prev_ids = _previous(ids, ids[0] - 1 if self.last_id is None else self.last_id)
            gaps = np.flatnonzero(ids - prev_ids > 1)
            self.missing_ids += int((ids[gaps] - prev_ids[gaps] - 1).sum())
            self.gaps.add(len(gaps), [[int(prev_ids[i]) + 1, int(ids[i]) - 1] for i in gaps[:MAX_EXAMPLES]])
        prev_ts = _previous(ts, self.last_ts)
        spans = ts - prev_ts
        self.longest_silence_ns = max(self.longest_silence_ns, int(spans.max()))
        long = np.flatnonzero(spans > self.t.min_silence_seconds * NS_PER_SECOND)
        self._long_spans.extend((int(prev_ts[i]), int(ts[i])) for i in long)
        self.last_id, self.last_ts = trades.ids[-1].as_py(), int(ts[-1])

    def _jumps(self, trades: _Trades) -> None:
        prev = _previous(trades.p, self._last_price)
        jump = np.abs(trades.p / prev - 1)
        moved = np.flatnonzero(jump > self.t.jump_fraction)
        self.jumps.add(len(moved), [
            {"trade_id": trades.ids[int(i)].as_py(), "time": utc_text(int(trades.ts[i])),
             "price": str(trades.prices[i].as_py()), "previous_price": repr(float(prev[i])),
             "jump": round(float(jump[i]), 6)}
            for i in moved[:MAX_EXAMPLES]])
        self._last_price = float(trades.p[-1])

    def _minutes(self, trades: _Trades, final: bool) -> None:
        if self._open_minute is not None:
            trades = trades.after(self._open_minute)
            self._open_minute = None
        minute = trades.ts // NS_PER_MINUTE
        if not final:
            closed = int(np.searchsorted(minute, minute[-1]))
            self._open_minute = trades.slice(closed)
            trades, minute = trades.slice(0, closed), minute[:closed]
        if len(trades) == 0:
            return
        starts = np.concatenate([[0], np.flatnonzero(np.diff(minute)) + 1])
        for start, stop in zip(starts, [*starts[1:], len(trades)], strict=True):
            self._outliers(trades, int(start), int(stop))
        self._volume_spikes(zip(minute[starts].tolist(), np.add.reduceat(trades.q, starts).tolist(), strict=True))

    def _outliers(self, trades: _Trades, start: int, stop: int) -> None:
        """Trades of one minute far from its median price, in MADs and as a fraction of the price."""
        prices = trades.p[start:stop]
        median = _median(prices)
        deviation = np.abs(prices - median)
        mad = _median(deviation)
        found = np.flatnonzero((deviation > self.t.outlier_mads * 1.4826 * mad)
                               & (deviation > self.t.outlier_min_fraction * median)) + start
        examples = []
        for row in found[: MAX_EXAMPLES - len(self.outliers.examples)].tolist():
            neighbours = trades.prices.slice(max(row - 2, 0), min(row + 3, len(trades)) - max(row - 2, 0))
            examples.append({"trade_id": trades.ids[row].as_py(), "time": utc_text(int(trades.ts[row])),
                             "price": str(trades.prices[row].as_py()), "minute_median": round(median, 8),
                             "neighbours": [str(p) for p in neighbours.to_pylist()]})
        self.outliers.add(len(found), examples)

    def _volume_spikes(self, volumes: Iterable[tuple[int, float]]) -> None:
        """Minutes whose traded volume exceeds ``volume_factor`` × the mean of the preceding window."""
        history = self._recent_minute_volumes
        for minute, volume in volumes:
            if len(history) >= 10:
                mean = sum(history) / len(history)
                if volume > self.t.volume_factor * mean:
                    self.volume_spikes.add(1, [{"minute": utc_text(minute * NS_PER_MINUTE),
                                                "volume": round(volume, 8), "rolling_mean_volume": round(mean, 8)}])
            history.append(volume)
            del history[: -self.t.volume_window_minutes]

    def _ids_spanned(self) -> int:
        """How many ids lie from the day's first to its last (consecutive integer ids only)."""
        assert isinstance(self.first_id, int) and isinstance(self.last_id, int)
        return self.last_id - self.first_id + 1

    def verdicts(self) -> list[Verdict]:
        """The verdicts of the whole day; call once, after the last batch."""
        if self._open_minute is not None:
            self._minutes(self._open_minute.slice(0, 0), final=True)
        if self.rows == 0:
            return [Verdict("trades_present", False, Severity.ERROR, "no trades in the day")]
        start, end = self.bounds
        typical_ns = (end + 1 - start) / self.rows
        # on a sparse day factor × the mean spacing can exceed the day itself: the cap keeps a hole findable
        limit_ns = max(min(self.t.silence_factor * typical_ns, self.t.max_silence_seconds * NS_PER_SECOND),
                       self.t.min_silence_seconds * NS_PER_SECOND)
        silences = sorted(((s, e) for s, e in self._long_spans if e - s > limit_ns), key=lambda w: w[0] - w[1])
        head = (self.first_ts - start) / NS_PER_SECOND
        tail = (end + 1 - self.last_ts) / NS_PER_SECOND
        id_gaps = [
            Verdict(
                "trade_id_gaps", within_missing_tolerance(self.missing_ids, self._ids_spanned(), self.t),
                Severity.ERROR,
                f"{self.missing_ids} missing trade ids in {self.gaps.count} gaps" if self.missing_ids
                else "trade ids are consecutive",
                {"missing_ids": self.missing_ids, "gaps": self.gaps.count, "missing_ranges": self.gaps.examples,
                 "first_id": self.first_id, "last_id": self.last_id, "tolerance": self.t.max_missing_ids,
                 "missing_share": self.missing_ids / self._ids_spanned(),
                 "share_tolerance": self.t.max_missing_share,
                 "trades_checked": self.rows},
            ),
        ] if self.consecutive_ids else []
        return [
            *id_gaps,
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


class StreamCheck:
    """The trades checks of a streamed day, as a batch sink: every pass over the stream starts a fresh
    checker, so a file streamed again after an in-memory re-sort is judged once, on its sorted rows."""

    def __init__(self, day_bounds: tuple[int, int], thresholds: TradeCheckThresholds,
                 adapt: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None, consecutive_ids: bool = True):
        self.day_bounds, self.thresholds, self.adapt = day_bounds, thresholds, adapt
        self.consecutive_ids = consecutive_ids
        self._checker: TradesDayChecker | None = None

    def sink(self) -> AbstractContextManager[Callable[[pa.RecordBatch], None]]:
        checker = self._checker = TradesDayChecker(self.day_bounds, self.thresholds, self.consecutive_ids)
        adapt = self.adapt
        return nullcontext(checker.add if adapt is None else lambda batch: checker.add(adapt(batch)))

    def verdicts(self) -> list[Verdict]:
        """The verdicts of the last pass."""
        if self._checker is None:
            raise RuntimeError("no pass over the stream was checked")
        return self._checker.verdicts()


def check_trades(trades: pl.DataFrame, day_bounds: tuple[int, int],
                 thresholds: TradeCheckThresholds = TradeCheckThresholds()) -> list[Verdict]:
    """Every trades check on a whole (time-ordered) normalized day."""
    checker = TradesDayChecker(day_bounds, thresholds)
    checker.add(trades)
    return checker.verdicts()
