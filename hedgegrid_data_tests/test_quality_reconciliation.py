"""Reconciliation verdicts: bars from trades vs archive klines, aggTrades vs trades, funding vs mark prices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from hedgegrid_data.quality.bars import bar_gaps
from hedgegrid_data.quality.reconciliation import (
    bars_from_trades,
    funding_has_mark_price,
    mark_price_times,
    reconcile_agg_trades,
    reconcile_bars,
)
from hedgegrid_data.sources.binance_archive.trades import write_normalized_trades
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import generate_trades

DAY_START = int(dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc).timestamp()) * 10**9


@pytest.fixture(scope="module")
def trades(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    root = tmp_path_factory.mktemp("reconcile")
    day = generate_trades(root, Market.SPOT, "BTCUSDT", "2024-01-02", 30_000)
    out = root / "trades.parquet"
    write_normalized_trades(day.zip_path, day.archive_file, symbol_spec(Market.SPOT, "BTCUSDT"), out)
    return pl.read_parquet(out)


def _archive_klines(bars: pl.DataFrame) -> pl.DataFrame:
    """Klines as the archive would publish them for these bars, plus one empty minute (count 0)."""
    klines = bars.select(pl.col("open_ns").cast(pl.Datetime("ns", "UTC")).alias("open_time"),
                         "open", "high", "low", "close", "volume", "count")
    empty = klines.tail(1).with_columns(open_time=pl.col("open_time") + pl.duration(minutes=1, time_unit="ns"),
                                        volume=pl.lit(Decimal(0), klines["volume"].dtype), count=pl.lit(0, pl.Int64))
    return pl.concat([klines, empty])


def test_bars_from_trades_are_exact(trades: pl.DataFrame) -> None:
    bars = bars_from_trades(trades)
    assert int(bars["count"].sum()) == trades.height
    assert bars["volume"].sum() == trades["qty"].sum()
    first_minute = trades.filter(pl.col("ts_event").cast(pl.Int64) < DAY_START + 60 * 10**9)
    assert bars.row(0, named=True)["open"] == first_minute["price"][0]
    assert bars.row(0, named=True)["close"] == first_minute["price"][-1]


def test_klines_equal_to_trades_pass_and_one_changed_kline_is_found(trades: pl.DataFrame) -> None:
    bars = bars_from_trades(trades)
    klines = _archive_klines(bars)
    assert reconcile_bars(bars, klines).passed
    minute = klines["open_time"][100]
    changed = klines.with_columns(close=pl.when(pl.col("open_time") == minute)
                                  .then(pl.col("close") + Decimal("0.01")).otherwise(pl.col("close")))
    verdict = reconcile_bars(bars, changed)
    assert not verdict.passed and verdict.blocks
    assert verdict.metadata["mismatched_minutes"] == 1
    [finding] = verdict.metadata["first_mismatches"]
    assert finding["minute"].startswith(minute.strftime("%Y-%m-%dT%H:%M"))
    assert list(finding["archive_vs_trades"]) == ["close"]


def test_agg_trades_chain_and_sums() -> None:
    trades = pl.DataFrame({"trade_id": [1, 2, 3, 4, 5], "price": [Decimal("10.0")] * 3 + [Decimal("11.0")] * 2,
                           "qty": [Decimal("0.001"), Decimal("0.002"), Decimal("0.003"), Decimal("1"), Decimal("2")]},
                          schema={"trade_id": pl.Int64, "price": pl.Decimal(38, 1), "qty": pl.Decimal(38, 3)})
    aggs = pl.DataFrame({"agg_trade_id": [7, 8], "first_trade_id": [1, 4], "last_trade_id": [3, 5],
                         "price": [Decimal("10.0"), Decimal("11.0")], "quantity": [Decimal("0.006"), Decimal("3")]},
                        schema={"agg_trade_id": pl.Int64, "first_trade_id": pl.Int64, "last_trade_id": pl.Int64,
                                "price": pl.Decimal(38, 1), "quantity": pl.Decimal(38, 3)})
    assert reconcile_agg_trades(aggs, trades, "quantity").passed
    wrong = reconcile_agg_trades(aggs.with_columns(quantity=pl.lit(Decimal("3.5"), pl.Decimal(38, 3))), trades,
                                 "quantity")
    assert not wrong.passed and wrong.metadata["mismatched"] == 2


def test_funding_event_without_mark_price() -> None:
    hour = 3600 * 10**9
    funding = pl.DataFrame({"ts_event": [DAY_START + 5, DAY_START + 8 * hour + 7, DAY_START + 16 * hour + 3]})
    minutes = [DAY_START + m * 60 * 10**9 - 1 for m in range(1, 24 * 60 + 1)]
    marks = pl.DataFrame({"ts_event": [t for t in minutes if not (7 * hour < t - DAY_START < 8 * hour + 30 * 60 * 10**9)]})
    verdict = funding_has_mark_price(funding, marks)
    assert not verdict.passed
    assert verdict.metadata["without_mark_price"] == 2  # the first (no earlier mark) and the 08:00 one
    assert verdict.metadata["events_without_mark_price"][1] == "2024-01-02T08:00:00.000000007Z"


def test_the_midnight_funding_event_is_priced_by_the_first_bars_open() -> None:
    minute = 60 * 10**9
    opens = [DAY_START + m * minute for m in range(24 * 60)]
    klines = pl.DataFrame({"open_time": opens, "close_time": [t + minute - 1 for t in opens]})
    funding = pl.DataFrame({"ts_event": [DAY_START, DAY_START + 8 * 60 * minute]})
    assert funding_has_mark_price(funding, mark_price_times(klines)).passed
    assert not funding_has_mark_price(funding, klines.select(pl.col("close_time").alias("ts_event"))).passed


def test_bar_gaps_are_listed_as_windows() -> None:
    minute = 60 * 10**9
    present = [DAY_START + m * minute for m in range(1_440) if not (300 <= m < 315 or m == 1_439)]
    verdict = bar_gaps(pl.Series(present).cast(pl.Datetime("ns", "UTC")), minute, dt.date(2024, 1, 2))
    assert not verdict.passed and verdict.severity.value == "WARN"
    assert verdict.metadata["missing_bars"] == 16 and verdict.metadata["expected_bars"] == 1_440
    assert verdict.metadata["windows"] == [
        {"from": "2024-01-02T05:00:00.000000000Z", "to": "2024-01-02T05:15:00.000000000Z", "missing_bars": 15},
        {"from": "2024-01-02T23:59:00.000000000Z", "to": "2024-01-03T00:00:00.000000000Z", "missing_bars": 1}]
    assert bar_gaps(pl.Series([DAY_START + m * minute for m in range(1_440)]), minute, dt.date(2024, 1, 2)).passed
