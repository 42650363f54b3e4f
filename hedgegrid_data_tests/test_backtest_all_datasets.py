"""Issue 3's acceptance run: one BacktestNode over a catalog holding spot trades and bars, USD-M trades, bars,
mark prices and funding updates receives every one of them, in time order, with the counts written."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from nautilus_trader.config import (
    BacktestDataConfig,
)
from nautilus_trader.model.data import (
    Bar,
    FundingRateUpdate,
    MarkPriceUpdate,
    TradeTick,
)

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.sources.binance_archive.feeds import (
    funding_feed,
    klines_feed,
    price_index_feed,
    trades_feed,
)
from hedgegrid_data.sources.binance_archive.klines_day import BarPlan
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.funding_generator import write_funding_month
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades
from hedgegrid_data_tests.recording_actor import record_backtest
from hedgegrid_data_tests.test_klines import generate_klines

DAY = dt.date(2024, 3, 4)
SPOT, PERP = "BTCUSDT.BINANCE", "BTCUSDT-PERP.BINANCE"
MINUTE_BARS = [f"{SPOT}-1-MINUTE-LAST-EXTERNAL", f"{PERP}-1-MINUTE-LAST-EXTERNAL"]


def _catalog_rows(store: DataStore, data_cls: type, identifier: str) -> int:
    return pq.ParquetFile(day_file_path(store.catalog, data_cls, identifier, DAY)).metadata.num_rows


def _ingest(feed: Feed, store: DataStore, symbol: str) -> None:
    normalize_day(feed, store, DAY, symbol)
    publish_day(feed, store, DAY, symbol)


def test_backtest_node_receives_trades_bars_mark_prices_and_funding_in_time_order(
        data_store: DataStore, tmp_path: Path) -> None:
    plan = BarPlan.of(["1m"], [])
    for market, n_trades in ((Market.SPOT, 12_000), (Market.USDM, 15_000)):
        trades = generate_trades(data_store.raw, market, "BTCUSDT", DAY, n_trades, seed=market is Market.USDM)
        _ingest(trades_feed(trades.archive_file.market), data_store, trades.archive_file.symbol)
        generate_klines(data_store.raw, market, "BTCUSDT", DAY, seed=5)
        _ingest(klines_feed(market, plan.intervals, plan.timeframes), data_store, "BTCUSDT")
    generate_klines(data_store.raw, Market.USDM, "BTCUSDT", DAY, data_type="markPriceKlines", seed=6)
    _ingest(price_index_feed(Market.USDM, "markPriceKlines"), data_store, "BTCUSDT")
    write_funding_month(data_store.raw, Market.USDM, "BTCUSDT", DAY.replace(day=1))
    _ingest(funding_feed(Market.USDM), data_store, "BTCUSDT")

    written = Counter({
        ("TradeTick", SPOT): _catalog_rows(data_store, TradeTick, SPOT),
        ("TradeTick", PERP): _catalog_rows(data_store, TradeTick, PERP),
        ("Bar", MINUTE_BARS[0]): _catalog_rows(data_store, Bar, MINUTE_BARS[0]),
        ("Bar", MINUTE_BARS[1]): _catalog_rows(data_store, Bar, MINUTE_BARS[1]),
        ("MarkPriceUpdate", PERP): _catalog_rows(data_store, MarkPriceUpdate, PERP),
        ("FundingRateUpdate", PERP): _catalog_rows(data_store, FundingRateUpdate, PERP),
    })
    assert written[("TradeTick", SPOT)] == 12_000 and written[("FundingRateUpdate", PERP)] == 3

    output = tmp_path / "received.jsonl"
    catalog = str(data_store.catalog)
    received = record_backtest(
        output,
        [BacktestDataConfig(catalog_path=catalog, data_cls=TradeTick, instrument_ids=[SPOT, PERP]),
         BacktestDataConfig(catalog_path=catalog, data_cls=Bar, bar_types=MINUTE_BARS),
         BacktestDataConfig(catalog_path=catalog, data_cls=MarkPriceUpdate, instrument_id=PERP),
         BacktestDataConfig(catalog_path=catalog, data_cls=FundingRateUpdate, instrument_id=PERP)],
        starting_balances=("1000000 USDT", "10 BTC"), trade_instruments=[SPOT, PERP], bar_types=MINUTE_BARS,
        mark_price_instruments=[PERP], funding_rate_instruments=[PERP])
    assert Counter((r[0], r[1]) for r in received) == written
    ts_init = [r[-1] for r in received]
    assert ts_init == sorted(ts_init)
