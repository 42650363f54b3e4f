"""Reconciliation of a day across datasets: agreement passes; a kline that disagrees with the trades withholds the
day's trades and bars from the catalog until the source is fixed; a funding event without a mark price withholds
the day's funding and mark prices (and nothing else) until the mark prices are complete."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from dagster import instance_for_test, materialize

from hedgegrid_data.assets.binance_reconciliation import (
    build_binance_reconciliation_asset,
)
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.quality.reconciliation import bars_from_trades
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import (
    agg_trades_feed,
    funding_feed,
    klines_feed,
    price_index_feed,
    trades_feed,
)
from hedgegrid_data.sources.binance_archive.klines_day import (
    BarPlan,
    kline_archive_file,
)
from hedgegrid_data.sources.binance_archive.layout import SOURCE
from hedgegrid_data.sources.binance_archive.reconciliation_day import reconcile_day
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import write_archive_csv
from hedgegrid_data.testing.funding_generator import write_funding_month
from hedgegrid_data.testing.kline_generator import write_kline_day
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import generate_trades

DAY = dt.date(2024, 1, 2)
PLAN = BarPlan.of(["1m"], ["1h"])
TRADES = trades_feed(Market.USDM)
KLINES = klines_feed(Market.USDM, PLAN.intervals, PLAN.timeframes)
MARKS = price_index_feed(Market.USDM, "markPriceKlines")
FUNDING = funding_feed(Market.USDM)
FEEDS = [TRADES, agg_trades_feed(Market.USDM), KLINES, MARKS, FUNDING]
TRADES_DAY_FILE = "data/trade_tick/BTCUSDT-PERP.BINANCE/2024-01-02T00-00-00-000000000Z_2024-01-02T23-59-59-999999999Z.parquet"


def _klines_text(store: DataStore, changed_minute: int | None = None) -> str:
    """The 1m klines the archive would publish for the day's trades (every minute of the day has trades here)."""
    bars = bars_from_trades(pl.read_parquet(store.normalized_file(SOURCE, Market.USDM.value, "trades", "BTCUSDT", DAY)))
    lines = []
    for i, b in enumerate(bars.iter_rows(named=True)):
        open_ms = b["open_ns"] // 10**6
        close = b["close"] + (b["close"].__class__("0.1") if i == changed_minute else 0)
        high = max(b["high"], close)
        lines.append(f"{open_ms},{b['open']},{high},{b['low']},{close},{b['volume']},{open_ms + 59_999},0,"
                     f"{b['count']},0,0,0")
    return "\n".join(lines) + "\n"


def _ingest(store: DataStore, changed_minute: int | None = None) -> None:
    write_archive_csv(store.raw, kline_archive_file(Market.USDM, "klines", "BTCUSDT", DAY, "1m"),
                      _klines_text(store, changed_minute))
    normalize_day(KLINES, store, DAY, "BTCUSDT")


@pytest.fixture
def store_with_trades(data_store: DataStore) -> DataStore:
    trades = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", DAY, 30_000)
    normalize_day(TRADES, data_store, trades.archive_file.day, trades.archive_file.symbol)
    publish_day(TRADES, data_store, trades.archive_file.day, trades.archive_file.symbol)
    return data_store


def test_agreeing_klines_pass_and_a_changed_kline_withholds_the_day(store_with_trades: DataStore) -> None:
    store = store_with_trades
    _ingest(store)
    publish_day(KLINES, store, DAY, "BTCUSDT")
    verdicts = {v.check: v for v in reconcile_day(store, Market.USDM, "BTCUSDT", DAY, FEEDS)}
    assert verdicts["klines_match_trades"].passed and verdicts["klines_match_trades"].metadata["klines"] == 1_440
    assert verdicts["agg_trades_match_trades"].metadata == {"applicable": False}
    assert (store.catalog / TRADES_DAY_FILE).exists()

    _ingest(store, changed_minute=600)  # the archive re-publishes a kline that the trades contradict
    verdicts = {v.check: v for v in reconcile_day(store, Market.USDM, "BTCUSDT", DAY, FEEDS)}
    mismatch = verdicts["klines_match_trades"]
    assert not mismatch.passed and mismatch.metadata["mismatched_minutes"] == 1
    assert mismatch.metadata["first_mismatches"][0]["minute"] == "2024-01-02T10:00:00.000000000Z"
    assert not (store.catalog / TRADES_DAY_FILE).exists()
    assert not list((store.catalog / "data" / "bar").rglob("2024-01-02T*.parquet"))
    with pytest.raises(HedgegridDataError, match="klines_match_trades: 1 minutes"):
        publish_day(TRADES, store, DAY, "BTCUSDT")
    with pytest.raises(HedgegridDataError, match="not published to the catalog"):
        publish_day(KLINES, store, DAY, "BTCUSDT")

    _ingest(store)  # fixed at the source
    assert all(v.passed for v in reconcile_day(store, Market.USDM, "BTCUSDT", DAY, FEEDS))
    publish_day(TRADES, store, DAY, "BTCUSDT")
    assert (store.catalog / TRADES_DAY_FILE).exists()


def test_a_kline_mismatch_leaves_the_trade_ticks_of_another_declared_trade_source(
        store_with_trades: DataStore) -> None:
    """With aggTrades the declared trade source, the trades never publish the TradeTick day: it stays."""
    store = store_with_trades
    _ingest(store)
    publish_day(KLINES, store, DAY, "BTCUSDT")
    _ingest(store, changed_minute=600)
    verdicts = {v.check: v for v in reconcile_day(store, Market.USDM, "BTCUSDT", DAY, [trades_feed(Market.USDM, publisher=False), agg_trades_feed(Market.USDM, publisher=True), KLINES])}
    assert not verdicts["klines_match_trades"].passed
    assert (store.catalog / TRADES_DAY_FILE).exists()
    assert not list((store.catalog / "data" / "bar").rglob("2024-01-02T*.parquet"))


def test_reconciliation_asset_reports_checks(store_with_trades: DataStore) -> None:
    _ingest(store_with_trades, changed_minute=5)
    with instance_for_test() as instance:
        result = materialize([build_binance_reconciliation_asset(Market.USDM, FEEDS)], partition_key="2024-01-02|BTCUSDT",
                             resources={"data_store": DataStoreResource(data_dir=str(store_with_trades.root))},
                             instance=instance, raise_on_error=False)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {"klines_match_trades", "agg_trades_match_trades", "funding_has_mark_price"}
    assert not checks["klines_match_trades"].passed and checks["klines_match_trades"].severity.value == "ERROR"
    assert checks["funding_has_mark_price"].passed


def test_a_funding_event_without_a_mark_price_withholds_funding_and_mark_prices_only(
        store_with_trades: DataStore) -> None:
    store = store_with_trades
    write_funding_month(store.raw, Market.USDM, "BTCUSDT", DAY)
    normalize_day(FUNDING, store, DAY, "BTCUSDT")
    publish_day(FUNDING, store, DAY, "BTCUSDT")

    def ingest_marks(missing_minutes: range | tuple = ()) -> None:
        spec = symbol_spec(Market.USDM, "BTCUSDT")
        write_kline_day(store.raw, Market.USDM, "markPriceKlines", "BTCUSDT", DAY, price_precision=spec.price_precision,
                        volume_precision=spec.size_precision, missing_minutes=missing_minutes)
        normalize_day(MARKS, store, DAY, "BTCUSDT")

    ingest_marks(missing_minutes=range(7 * 60 + 50, 8 * 60 + 1))  # 07:50 to 08:00 inclusive
    publish_day(MARKS, store, DAY, "BTCUSDT")
    verdicts = {v.check: v for v in reconcile_day(store, Market.USDM, "BTCUSDT", DAY, FEEDS)}
    assert not verdicts["funding_has_mark_price"].passed
    assert verdicts["funding_has_mark_price"].metadata["events_without_mark_price"] == ["2024-01-02T08:00:00.007000000Z"]
    days = {p.relative_to(store.catalog).parts[1] for p in store.catalog.glob("data/*/*/2024-01-02*.parquet")}
    assert days == {"trade_tick"}  # funding and mark prices left, the trades stay
    with pytest.raises(HedgegridDataError, match="binance_um_funding_rate BTCUSDT 2024-01-02: not published to the "
                                                 "catalog, blocking checks failed: funding_has_mark_price"):
        publish_day(FUNDING, store, DAY, "BTCUSDT")
    with pytest.raises(HedgegridDataError, match="blocking checks failed: funding_has_mark_price"):
        publish_day(MARKS, store, DAY, "BTCUSDT")
    assert publish_day(TRADES, store, DAY, "BTCUSDT").day.rows_out == 30_000

    ingest_marks()
    assert all(v.passed for v in reconcile_day(store, Market.USDM, "BTCUSDT", DAY, FEEDS))
    publish_day(MARKS, store, DAY, "BTCUSDT")
    publish_day(FUNDING, store, DAY, "BTCUSDT")
    days = {p.relative_to(store.catalog).parts[1] for p in store.catalog.glob("data/*/*/2024-01-02*.parquet")}
    assert days == {"trade_tick", "mark_price_update", "funding_rate_update"}
