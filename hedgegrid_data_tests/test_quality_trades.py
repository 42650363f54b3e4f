"""Trades quality checks on generated days with injected faults: each found with its exact count and place."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.feeds.recipe import normalize_day
from hedgegrid_data.quality.findings import Severity
from hedgegrid_data.quality.trades import (
    TradeCheckThresholds,
    TradesDayChecker,
    check_trades,
)
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.binance_archive.trades import write_normalized_trades
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import read_csv_text, replace_csv
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import generate_trades

DAY = dt.date(2024, 1, 2)
BOUNDS = day_bounds_ns(DAY)


@pytest.fixture(scope="module")
def clean_day(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    root = tmp_path_factory.mktemp("quality")
    day = generate_trades(root, Market.USDM, "BTCUSDT", DAY, 50_000)
    out = root / "normalized.parquet"
    write_normalized_trades(day.zip_path, day.archive_file, symbol_spec(Market.USDM, "BTCUSDT"), out)
    return pl.read_parquet(out)


def _by_check(trades: pl.DataFrame) -> dict:
    return {v.check: v for v in check_trades(trades, BOUNDS)}


def test_clean_day_passes_every_check(clean_day: pl.DataFrame) -> None:
    verdicts = _by_check(clean_day)
    assert {name: v.passed for name, v in verdicts.items()} == {
        "trade_id_gaps": True, "trade_silences": True, "day_coverage": True, "price_spikes": True,
        "volume_spikes": True}


def test_streaming_equals_whole_day(clean_day: pl.DataFrame) -> None:
    broken = clean_day.filter(~pl.col("trade_id").is_between(1_010_000, 1_010_009))
    checker = TradesDayChecker(BOUNDS)
    for chunk in broken.iter_slices(7_777):
        checker.add(chunk)
    assert [v.metadata for v in checker.verdicts()] == [v.metadata for v in check_trades(broken, BOUNDS)]


def test_removed_id_ranges_are_counted_exactly(clean_day: pl.DataFrame) -> None:
    broken = clean_day.filter(~pl.col("trade_id").is_between(1_010_000, 1_010_009)
                              & ~pl.col("trade_id").is_between(1_030_500, 1_030_500))
    verdict = _by_check(broken)["trade_id_gaps"]
    assert not verdict.passed and verdict.blocks and verdict.severity is Severity.ERROR
    assert verdict.metadata["missing_ids"] == 11
    assert verdict.metadata["missing_ranges"] == [[1_010_000, 1_010_009], [1_030_500, 1_030_500]]


def test_fifteen_minute_silence_is_reported_with_its_window(clean_day: pl.DataFrame) -> None:
    start = BOUNDS[0] + 10 * 3600 * 10**9
    ts = pl.col("ts_event").cast(pl.Int64)
    broken = clean_day.filter(~ts.is_between(start, start + 15 * 60 * 10**9))
    before = int(broken.filter(ts < start)["ts_event"].cast(pl.Int64).max())
    after = int(broken.filter(ts > start)["ts_event"].cast(pl.Int64).min())
    verdict = _by_check(broken)["trade_silences"]
    assert not verdict.passed and verdict.severity is Severity.WARN and not verdict.blocks
    assert verdict.metadata["silences"] == 1
    [window] = verdict.metadata["windows"]
    assert window["seconds"] == (after - before) / 1e9 >= 900


def test_thirty_percent_spike_is_one_outlier_and_two_jumps(clean_day: pl.DataFrame) -> None:
    spike_id = 1_025_000
    original = clean_day.filter(pl.col("trade_id") == spike_id)["price"][0]
    spiked_price = (original * Decimal("1.3")).quantize(Decimal("0.1"))
    broken = clean_day.with_columns(
        price=pl.when(pl.col("trade_id") == spike_id).then(pl.lit(spiked_price, pl.Decimal(38, 1)))
        .otherwise(pl.col("price")))
    verdict = _by_check(broken)["price_spikes"]
    assert not verdict.passed and verdict.severity is Severity.WARN
    assert verdict.metadata["outliers"] == 1 and verdict.metadata["jumps"] == 2
    [outlier] = verdict.metadata["outlier_trades"]
    assert outlier["trade_id"] == spike_id and outlier["price"] == str(spiked_price)
    assert str(spiked_price) in outlier["neighbours"] and len(outlier["neighbours"]) == 5
    assert [j["trade_id"] for j in verdict.metadata["jump_trades"]] == [spike_id, spike_id + 1]


def test_volume_spike_and_uncovered_day(clean_day: pl.DataFrame) -> None:
    whale = 1_040_000
    broken = clean_day.with_columns(
        qty=pl.when(pl.col("trade_id") == whale).then(pl.lit(Decimal("5000.000"), pl.Decimal(38, 3)))
        .otherwise(pl.col("qty")))
    volume = _by_check(broken)["volume_spikes"]
    whale_minute = clean_day.filter(pl.col("trade_id") == whale)["ts_event"][0].replace(second=0, microsecond=0)
    assert volume.metadata["spikes"] == 1
    assert volume.metadata["examples"][0]["minute"] == whale_minute.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
    late_start = clean_day.filter(pl.col("ts_event").cast(pl.Int64) > BOUNDS[0] + 3600 * 10**9)
    coverage = _by_check(late_start)["day_coverage"]
    assert not coverage.passed and coverage.metadata["seconds_uncovered_at_start"] > 3600


def test_thresholds_are_configuration_per_market(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert TradeCheckThresholds.for_market(Market.COINM.value).min_silence_seconds == 600.0
    assert TradeCheckThresholds.for_market(Market.USDM.value).min_silence_seconds == 300.0
    override = tmp_path / "quality.toml"
    override.write_text("[um.trades]\nmax_missing_ids = 25\n")
    monkeypatch.setenv("HEDGEGRID_QUALITY_FILE", str(override))
    assert TradeCheckThresholds.for_market(Market.USDM.value).max_missing_ids == 25


def test_a_day_re_sorted_in_memory_is_checked_once(data_store: DataStore) -> None:
    """Out-of-order rows after the first streamed block: the day is streamed again, sorted, and judged on that pass."""
    day = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-02", 200_000)
    lines = read_csv_text(day.zip_path).splitlines(keepends=True)
    lines[150_000], lines[150_001] = lines[150_001], lines[150_000]
    replace_csv(day, "".join(lines))
    result = normalize_day(trades_feed(Market.USDM), data_store, day.archive_file.day, day.archive_file.symbol)
    assert result.metadata["resorted"] and result.metadata["rows"] == 200_000
    gaps = {v.check: v for v in result.verdicts}["trade_id_gaps"]
    assert gaps.passed and gaps.metadata["trades_checked"] == 200_000
    assert (gaps.metadata["first_id"], gaps.metadata["last_id"]) == (result.metadata["first_trade_id"],
                                                                      result.metadata["last_trade_id"])


def _sparse_day(times_s: list[int]) -> pl.DataFrame:
    return pl.DataFrame({
        "trade_id": list(range(1, len(times_s) + 1)),
        "ts_event": pl.Series([BOUNDS[0] + t * 10**9 for t in times_s]).cast(pl.Datetime("ns", "UTC")),
        "price": [Decimal("100.0")] * len(times_s), "qty": [Decimal("1.000")] * len(times_s)})


def test_a_sparse_day_with_a_hole_is_flagged() -> None:
    # 40 trades: 50 × the mean spacing (36 min) is more than the whole day, yet the day is empty for 20 hours
    times = [t * 180 for t in range(20)] + [86_399 - t * 180 for t in range(20)][::-1]
    verdict = _by_check(_sparse_day(times))["trade_silences"]
    assert not verdict.passed and verdict.metadata["limit_seconds"] == 3600
    [window] = verdict.metadata["windows"]
    assert window["seconds"] == 86_399 - 19 * 180 - 19 * 180
    evenly = _by_check(_sparse_day(list(range(0, 86_400, 1_800))))["trade_silences"]
    assert evenly.passed  # 48 trades half an hour apart: sparse, but no hole


def test_missing_ids_may_be_tolerated_as_a_share_of_the_day(clean_day: pl.DataFrame) -> None:
    broken = clean_day.filter(~pl.col("trade_id").is_between(1_010_000, 1_010_009))  # 10 of 50,000 ids
    for share, passed in ((0.0, False), (0.0001, False), (0.0002, True)):
        [gaps] = [v for v in check_trades(broken, BOUNDS, TradeCheckThresholds(max_missing_share=share))
                  if v.check == "trade_id_gaps"]
        assert gaps.passed is passed and gaps.metadata["missing_share"] == 10 / 50_000
    [by_count] = [v for v in check_trades(broken, BOUNDS, TradeCheckThresholds(max_missing_ids=10))
                  if v.check == "trade_id_gaps"]
    assert by_count.passed
