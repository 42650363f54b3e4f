"""The cross-venue check as a pure function: minute closes compared, diverging minutes listed, the limit taken
from the quality file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from hedgegrid_data.quality.cross_venue import CrossVenueThresholds, cross_venue_prices, minute_closes
from hedgegrid_data.quality.findings import Severity

MINUTE = 60 * 10**9
START = 1_709_510_400 * 10**9  # 2024-03-04T00:00Z


def _trades(rows: list[tuple[int, str]]) -> pa.Table:
    return pa.table({"ts_event": pa.array([START + t for t, _ in rows], pa.int64()),
                     "price": pa.array([Decimal(p) for _, p in rows], pa.decimal128(38, 2))})


def test_minute_closes_are_the_last_price_of_each_minute() -> None:
    closes = minute_closes(_trades([(1, "10.00"), (2, "11.00"), (MINUTE + 5, "12.50")]))
    assert closes["price"].to_list() == [11.0, 12.5]


def test_diverging_minutes_are_listed_with_both_prices() -> None:
    ours = _trades([(0, "100.00"), (MINUTE, "103.00"), (2 * MINUTE, "100.10"), (5 * MINUTE, "99.00")])
    theirs = _trades([(1, "100.00"), (MINUTE + 1, "100.00"), (2 * MINUTE + 7, "100.00")])
    verdict = cross_venue_prices(ours, theirs, "BTCUSDT-LINEAR.BYBIT", "BTCUSDT-PERP.BINANCE")
    assert (verdict.check, verdict.passed, verdict.severity) == ("cross_venue_prices", False, Severity.WARN)
    assert verdict.metadata["minutes_compared"] == 3 and verdict.metadata["minutes_over"] == 1
    assert verdict.metadata["minutes"] == [{"minute": "2024-03-04T00:01:00.000000000Z", "price": 103.0,
                                            "counterpart_price": 100.0, "divergence": 0.03}]
    assert cross_venue_prices(ours, theirs, "a", "b", CrossVenueThresholds(max_divergence=0.05)).passed


def test_the_limit_comes_from_the_quality_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quality = tmp_path / "quality.toml"
    quality.write_text("[bybit_spot.cross_venue]\nmax_divergence = 0.02\n")
    monkeypatch.setenv("HEDGEGRID_QUALITY_FILE", str(quality))
    assert CrossVenueThresholds.for_section("bybit_spot") == CrossVenueThresholds(0.02)
    assert CrossVenueThresholds.for_section("bybit_linear") == CrossVenueThresholds()
