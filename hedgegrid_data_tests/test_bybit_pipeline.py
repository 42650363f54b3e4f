"""Bybit's trades groups in a real Dagster instance: every market and dialect from a loopback server (real httpx)
into the catalog, read back by Nautilus equal to the source text; the real spot day; a symbol whose dialect
changes within a range; the sensors; the cross-venue check against Binance; and one BacktestNode receiving
Binance's and Bybit's trades of one day in time order."""

from __future__ import annotations

import datetime as dt
import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, Definitions, build_sensor_context, in_process_executor, instance_for_test, materialize
from nautilus_trader.config import (
    BacktestDataConfig,
)
from nautilus_trader.model.data import TradeTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation import AutomationSettings, build_automation
from hedgegrid_data.automation.alerts import AlertsResource
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.bybit_archive.dialects import Dialect
from hedgegrid_data.sources.bybit_archive.feeds import bybit_trades_feed
from hedgegrid_data.sources.bybit_archive.layout import BybitFile
from hedgegrid_data.sources.bybit_archive.resources import BybitArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.trades import BUYER, SELLER
from hedgegrid_data.testing.archive_generator import read_csv_rows
from hedgegrid_data.testing.bybit_generator import (
    BybitTrade,
    GeneratedBybitDay,
    write_day,
    write_gzip,
    write_spot_day,
    write_trading_day,
)
from hedgegrid_data.testing.bybit_server import BybitArchiveServer
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.bybit import BybitMarket, BybitSymbolSpec, BybitUniverse
from hedgegrid_data_tests.conftest import generate_trades
from hedgegrid_data_tests.recording_actor import record_backtest

UNIVERSE: BybitUniverse = {
    BybitMarket.LINEAR: {"BTCUSDT": BybitSymbolSpec(BybitMarket.LINEAR, "BTCUSDT", "BTC", "USDT", "0.10", "0.001")},
    BybitMarket.INVERSE: {"BTCUSD": BybitSymbolSpec(BybitMarket.INVERSE, "BTCUSD", "BTC", "USD", "0.50", "1")},
    BybitMarket.SPOT: {"ETHUSDT": BybitSymbolSpec(BybitMarket.SPOT, "ETHUSDT", "ETH", "USDT", "0.01", "0.00001"),
                       "UNIUSDC": BybitSymbolSpec(BybitMarket.SPOT, "UNIUSDC", "UNI", "USDC", "0.001", "0.01")},
}


def _resources(base: str, store: DataStore) -> dict:
    return {"data_store": DataStoreResource(data_dir=str(store.root)),
            "bybit_archive": BybitArchiveResource(base_url=base, download_attempts=2)}


def _ticks(store: DataStore, instrument_id: str) -> list[tuple]:
    ticks = ParquetDataCatalog(str(store.catalog)).trade_ticks(instrument_ids=[instrument_id])
    return [(t.trade_id.value, t.price.as_decimal(), t.size.as_decimal(), int(t.aggressor_side), t.ts_event)
            for t in ticks if t.ts_event == t.ts_init]


def _materialize(feed: Feed, base: str, store: DataStore, partition: str) -> dict:
    with instance_for_test() as instance:
        result = materialize(build_feed_assets(feed), partition_key=partition, resources=_resources(base, store),
                             instance=instance)
        assert result.success
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        normalized = instance.get_latest_materialization_event(AssetKey(f"{feed.name}_normalized"))
        return {"checks": checks, "normalized": normalized.asset_materialization.metadata}


@pytest.mark.parametrize(("market", "symbol", "make", "dialect", "resolution"), [
    (BybitMarket.LINEAR, "BTCUSDT", lambda root, day: write_trading_day(
        root, BybitMarket.LINEAR, "BTCUSDT", day, 4_000, dialect=Dialect.TRADING_RPI, decimals=4), "trading_rpi",
     "100us"),
    (BybitMarket.INVERSE, "BTCUSD", lambda root, day: write_trading_day(
        root, BybitMarket.INVERSE, "BTCUSD", day, 4_000, dialect=Dialect.TRADING, decimals=0, size_precision=0,
        tick_units=5), "trading", "1s"),
    (BybitMarket.SPOT, "ETHUSDT", lambda root, day: write_spot_day(root, "ETHUSDT", day, 4_000), "spot_daily",
     "1ms"),
])
def test_each_market_from_the_loopback_archive_into_the_catalog(tmp_path: Path, data_store: DataStore,
                                                                market: BybitMarket, symbol: str, make, dialect: str,
                                                                resolution: str) -> None:
    day = make(tmp_path / "bybit", dt.date(2025, 9, 2))
    feed = bybit_trades_feed(market, UNIVERSE)
    with BybitArchiveServer(tmp_path / "bybit") as server:
        done = _materialize(feed, server.url, data_store, f"2025-09-02|{symbol}")
    assert done["normalized"]["dialect"].value == dialect
    assert done["normalized"]["timestamp_resolution"].value == resolution
    assert done["normalized"]["rows"].value == 4_000
    assert set(done["checks"]) == {"gzip_verified", "schema_valid", "trade_silences", "day_coverage", "price_spikes",
                                   "volume_spikes", "rows_in_equals_rows_out", "catalog_integrity",
                                   "cross_venue_prices"}  # no trade_id_gaps: Bybit's ids are not consecutive
    assert all(done["checks"][c].passed for c in ("gzip_verified", "schema_valid", "rows_in_equals_rows_out",
                                                  "catalog_integrity", "cross_venue_prices"))
    assert done["checks"]["cross_venue_prices"].metadata["applicable"].value is False  # no Binance day here
    assert _ticks(data_store, f"{symbol}-{market.value.upper()}.BYBIT") == day.expected()
    assert (data_store.root / f"normalized/bybit/{market.value}/trades/{symbol}/2025-09-02.parquet").is_file()
    assert (data_store.raw / "bybit" / day.file.key).is_file()


def test_the_real_spot_day_into_the_catalog(tmp_path: Path, data_store: DataStore, bybit_samples: Path) -> None:
    feed = bybit_trades_feed(BybitMarket.SPOT, UNIVERSE)
    with BybitArchiveServer(bybit_samples) as server:
        done = _materialize(feed, server.url, data_store, "2025-05-17|UNIUSDC")
    assert done["checks"]["gzip_verified"].metadata["UNIUSDC_2025-05-17.csv.gz"].value["csv_sha256"].startswith(
        "8c616b8f")
    assert done["checks"]["day_coverage"].passed is False  # 219 trades: a quiet pair, a WARN and not an error
    text = gzip.decompress((bybit_samples / "spot/UNIUSDC/UNIUSDC_2025-05-17.csv.gz").read_bytes()).decode()
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert _ticks(data_store, "UNIUSDC-SPOT.BYBIT") == [
        (f"20250517-{i}", Decimal(price), Decimal(volume), BUYER if side == "buy" else SELLER, int(ms) * 10**6)
        for i, ms, price, volume, side, _ in rows]


def test_a_symbol_with_two_dialects_in_one_range(tmp_path: Path, data_store: DataStore) -> None:
    """BTCUSDT's files gained the RPI column (and 100 µs timestamps) between two days: both days build."""
    root = tmp_path / "bybit"
    older = write_trading_day(root, BybitMarket.LINEAR, "BTCUSDT", dt.date(2025, 8, 31), 2_000,
                              dialect=Dialect.TRADING, decimals=3)
    newer = write_trading_day(root, BybitMarket.LINEAR, "BTCUSDT", dt.date(2025, 9, 1), 2_000,
                              dialect=Dialect.TRADING_RPI, decimals=4, seed=1)
    feed = bybit_trades_feed(BybitMarket.LINEAR, UNIVERSE)
    with BybitArchiveServer(root) as server:
        found = [_materialize(feed, server.url, data_store, f"{d}|BTCUSDT")["normalized"]
                 for d in ("2025-08-31", "2025-09-01")]
    assert [(m["dialect"].value, m["timestamp_resolution"].value) for m in found] == [
        ("trading", "1ms"), ("trading_rpi", "100us")]
    assert _ticks(data_store, "BTCUSDT-LINEAR.BYBIT") == older.expected() + newer.expected()


def test_sensors_request_published_and_republished_days(tmp_path: Path, data_store: DataStore) -> None:
    root = tmp_path / "bybit"
    day = dt.date(2025, 9, 2)
    write_trading_day(root, BybitMarket.LINEAR, "BTCUSDT", day, 500)
    feed = bybit_trades_feed(BybitMarket.LINEAR, UNIVERSE)
    with BybitArchiveServer(root) as server, instance_for_test() as instance:
        resources = {**_resources(server.url, data_store),
                     "hedgegrid_alerts": AlertsResource(alerts_file=str(tmp_path / "alerts.jsonl"))}
        automation = build_automation([feed], AutomationSettings(availability_window_days=3), resources=resources,
                                      alert_sensors=False)
        defs = Definitions(assets=build_feed_assets(feed), resources=automation["resources"], jobs=automation["jobs"],
                           schedules=automation["schedules"], sensors=automation["sensors"],
                           executor=in_process_executor)
        repository = defs.get_repository_def()
        assert {s.name for s in repository.schedule_defs} == {"bybit_linear_trades_nightly"}

        def evaluate(name: str):
            context = build_sensor_context(instance=instance, definitions=defs, sensor_name=name,
                                           resources=defs.resources)
            return repository.get_sensor_def(name).evaluate_tick(context)

        assert repository.get_job("bybit_linear_trades_daily").execute_in_process(
            partition_key=f"{day}|BTCUSDT", instance=instance).success
        assert evaluate("bybit_linear_trades_republication").run_requests == []
        write_trading_day(root, BybitMarket.LINEAR, "BTCUSDT", day, 501)  # Bybit re-publishes the day
        [rebuild] = evaluate("bybit_linear_trades_republication").run_requests
        assert rebuild.partition_key == f"{day}|BTCUSDT" and rebuild.tags["hedgegrid/trigger"] == "republication"

        yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
        write_trading_day(root, BybitMarket.LINEAR, "BTCUSDT", yesterday, 10)
        available = evaluate("bybit_linear_trades_availability")
        assert [r.partition_key for r in available.run_requests] == [f"{yesterday}|BTCUSDT"]


def test_a_day_out_of_order_is_sorted_by_time_then_line_and_repeated_ids_judged(data_store: DataStore) -> None:
    """Times going back: the day is sorted by time, trades of one time keeping their line order; a row repeated
    whole is dropped (and counted), one UUID with two different trades is an error."""
    day = dt.date(2022, 5, 2)
    generated = write_trading_day(data_store.raw / "bybit", BybitMarket.LINEAR, "BTCUSDT", day, 3_000,
                                  dialect=Dialect.TRADING, decimals=0)
    lines = gzip.decompress(generated.path.read_bytes()).decode().splitlines()
    header, rows = lines[0], lines[1:]
    shuffled = rows[1500:] + rows[:1500] + [rows[10]]
    write_gzip(generated.path, "\n".join([header, *shuffled]) + "\n")
    feed = bybit_trades_feed(BybitMarket.LINEAR, UNIVERSE)
    done = normalize_day(feed, data_store, day, "BTCUSDT")
    assert (done.metadata["resorted"], done.metadata["duplicates_dropped"], done.metadata["rows"]) == (True, 1, 3_000)
    table = pq.read_table(feed.normalized_file(data_store, day, "BTCUSDT"))
    assert table.column("trade_id").to_pylist() == [t.trade_id for t in generated.trades]

    repeated_in_order = rows[:11] + [rows[10]] + rows[11:]  # in time order: only the ids tell
    write_gzip(generated.path, "\n".join([header, *repeated_in_order]) + "\n")
    done = normalize_day(feed, data_store, day, "BTCUSDT")
    assert (done.metadata["resorted"], done.metadata["duplicates_dropped"], done.metadata["rows"]) == (True, 1, 3_000)
    assert pq.read_table(feed.normalized_file(data_store, day, "BTCUSDT")).column("trade_id").to_pylist() == [
        t.trade_id for t in generated.trades]

    conflicting = rows[:20] + [rows[20].replace(",Buy,", ",Sell,") if ",Buy," in rows[20]
                               else rows[20].replace(",Sell,", ",Buy,")] + rows[20:]
    write_gzip(generated.path, "\n".join([header, *conflicting]) + "\n")
    with pytest.raises(ArchiveDataError, match="trade ids appear more than once with different values"):
        normalize_day(feed, data_store, day, "BTCUSDT")


DAY = dt.date(2024, 3, 4)


def _bybit_copy_of_binance(binance_zip: Path, root: Path, diverging_minutes: set[int]) -> GeneratedBybitDay:
    """Every third Binance USD-M trade as a Bybit linear trade (ms timestamps), 2 % off in ``diverging_minutes``."""
    trades = []
    for i, (trade_id, price, qty, _, ms, is_buyer_maker) in enumerate(read_csv_rows(binance_zip)):
        if i % 3:
            continue
        minute = (int(ms) // 60_000) % 1_440
        if minute in diverging_minutes:
            price = str((Decimal(price) * Decimal("1.02")).quantize(Decimal("0.1")))
        seconds, fraction = divmod(int(ms), 1000)
        trades.append(BybitTrade(f"{seconds}.{fraction:03d}".rstrip("0").rstrip("."),
                                 "Sell" if is_buyer_maker == "true" else "Buy", qty, price,
                                 f"00000000-0000-5000-8000-{int(trade_id):012d}"))
    return write_day(root, BybitFile(BybitMarket.LINEAR, "BTCUSDT", DAY), Dialect.TRADING_RPI, trades)


def _publish_binance_day(store: DataStore) -> Path:
    generated = generate_trades(store.raw, Market.USDM, "BTCUSDT", DAY, 12_000, seed=3)
    feed = trades_feed(Market.USDM)
    normalize_day(feed, store, DAY, "BTCUSDT")
    publish_day(feed, store, DAY, "BTCUSDT")
    return generated.zip_path


def test_cross_venue_check_lists_the_diverging_minutes(tmp_path: Path, data_store: DataStore) -> None:
    binance_zip = _publish_binance_day(data_store)
    mirror = tmp_path / "bybit"
    _bybit_copy_of_binance(binance_zip, mirror, {100, 700})
    feed = bybit_trades_feed(BybitMarket.LINEAR, UNIVERSE)
    done = _materialize(feed, str(mirror), data_store, f"{DAY}|BTCUSDT")  # a local mirror as the base
    check = done["checks"]["cross_venue_prices"]
    assert check.passed is False and check.severity.value == "WARN"
    assert check.metadata["counterpart"].value == "BTCUSDT-PERP.BINANCE"
    listed = [m["minute"] for m in check.metadata["minutes"].value]
    assert listed == [f"{DAY}T01:40:00.000000000Z", f"{DAY}T11:40:00.000000000Z"]
    assert check.metadata["minutes_compared"].value > 1_000
    assert _ticks(data_store, "BTCUSDT-LINEAR.BYBIT")  # a WARN: the day is published


def test_backtest_node_receives_binance_and_bybit_trades_in_time_order(tmp_path: Path,
                                                                       data_store: DataStore) -> None:
    binance_zip = _publish_binance_day(data_store)
    _bybit_copy_of_binance(binance_zip, data_store.raw / "bybit", set())
    feed = bybit_trades_feed(BybitMarket.LINEAR, UNIVERSE)
    normalize_day(feed, data_store, DAY, "BTCUSDT")
    published = publish_day(feed, data_store, DAY, "BTCUSDT")
    assert published.extra_checks["cross_venue_prices"][0] is True

    instruments = ["BTCUSDT-PERP.BINANCE", "BTCUSDT-LINEAR.BYBIT"]
    received = record_backtest(
        tmp_path / "received.jsonl",
        [BacktestDataConfig(catalog_path=str(data_store.catalog), data_cls=TradeTick, instrument_ids=instruments)],
        venues=("BINANCE", "BYBIT"), trade_instruments=instruments)
    assert Counter(r[1] for r in received) == {"BTCUSDT-PERP.BINANCE": 12_000, "BTCUSDT-LINEAR.BYBIT": 4_000}
    ts_init = [r[-1] for r in received]
    assert ts_init == sorted(ts_init)
    bybit = [(r[2], Decimal(r[3]), Decimal(r[4]), r[5], r[6]) for r in received if r[1].endswith("BYBIT")]
    assert bybit == _ticks(data_store, "BTCUSDT-LINEAR.BYBIT")
