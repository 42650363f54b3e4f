"""The aggTrades asset groups in a real Dagster instance, against the loopback archive server: the real COIN-M
sample end to end, excluded rows in the metadata, the trade-source choice, failures and re-runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    Definitions,
    instance_for_test,
    materialize,
)
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.feeds.registry import FeedRegistry
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import agg_trades_feed, trades_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import inject_malformed_row, read_csv_rows
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades
from hedgegrid_data_tests.test_agg_trades import (
    csv_rows,
    exclude_rows,
    expected_ticks,
    generate_agg_trades,
    tick_tuples,
)

SAMPLE_KEY = "data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip"


def _resources(server: ArchiveServer, store: DataStore) -> dict:
    return {
        "data_store": DataStoreResource(data_dir=str(store.root)),
        "binance_archive": BinanceArchiveResource(base_url=server.url, download_attempts=2),
    }


def _agg_trades_assets(market: Market, publisher: bool = True) -> list:
    return build_feed_assets(agg_trades_feed(market, publisher=publisher))


def _metadata(instance, key: str) -> dict:
    return {k: v.value for k, v in
            instance.get_latest_materialization_event(AssetKey(key)).asset_materialization.metadata.items()}


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_real_coin_m_sample_lands_in_the_catalog_as_its_csv_text(archive_with_samples: Path,
                                                                  archive_server: ArchiveServer,
                                                                  data_store: DataStore) -> None:
    assets = _agg_trades_assets(Market.COINM)
    with instance_for_test() as instance:
        for run in range(2):  # the second run re-uses the verified zip and replaces the day by identical bytes
            result = materialize(assets, partition_key="2026-05-08|BTCUSD_PERP", instance=instance,
                                 resources=_resources(archive_server, data_store))
            assert result.success
            assert {(c.check_name, c.passed) for c in result.get_asset_check_evaluations()} == {
                ("checksum_verified", True), ("schema_valid", True), ("rows_in_equals_rows_out", True),
                ("agg_trade_id_gaps", True), ("trade_silences", True), ("day_coverage", True),
                ("price_spikes", True), ("volume_spikes", True), ("catalog_integrity", True)}
            raw = _metadata(instance, "binance_cm_agg_trades_raw")
            assert raw["reused_local_copy"] is bool(run)
            normalized = _metadata(instance, "binance_cm_agg_trades_normalized")
            assert (normalized["rows"], normalized["source_rows"], normalized["placeholder_rows_excluded"],
                    normalized["zero_quantity_rows_excluded"]) == (105_280, 105_280, 0, 0)
            assert (normalized["header"], normalized["time_unit"], normalized["resorted"]) == (True, "ms", False)
            assert (normalized["first_agg_trade_id"], normalized["last_agg_trade_id"]) == (480_537_903, 480_643_182)
            assert normalized["trades_covered"] == 1_123_714_357 - 1_123_474_160 + 1
            assert normalized["quality_score"] == 1.0
            published = _metadata(instance, "binance_cm_agg_trades_catalog")
            assert (published["published"], published["rows"], published["instrument_id"]) == (
                True, 105_280, "BTCUSD-PERP.BINANCE")
            if run == 0:
                first_bytes = Path(published["path"]).read_bytes()
    day_files = _files(data_store.catalog / "data" / "trade_tick")
    assert [p.name for p in day_files] == ["2026-05-08T00-00-00-000000000Z_2026-05-08T23-59-59-999999999Z.parquet"]
    assert day_files[0].read_bytes() == first_bytes

    rows = csv_rows(archive_with_samples / SAMPLE_KEY)
    assert read_csv_rows(archive_with_samples / SAMPLE_KEY)[0][0] == "agg_trade_id"
    assert len(rows) == 105_280
    catalog = ParquetDataCatalog(str(data_store.catalog))
    [instrument] = catalog.instruments()
    assert (instrument.price_precision, instrument.size_precision, str(instrument.multiplier)) == (1, 0, "100")
    got = tick_tuples(catalog.trade_ticks(instrument_ids=["BTCUSD-PERP.BINANCE"]))
    assert got == expected_ticks(rows, Market.COINM, "BTCUSD_PERP", TimeUnit.MILLISECONDS)
    # the sample's text itself (79972.8, 542.0) fits tick 0.1 and step 1 exactly
    assert (got[0][1], got[0][2], rows[0][1], rows[0][2]) == ("79972.8", "542", "79972.8", "542.0")


def test_trade_source_decides_which_dataset_fills_the_trade_ticks(archive_root: Path, archive_server: ArchiveServer,
                                                                  data_store: DataStore) -> None:
    trades = generate_trades(archive_root, Market.SPOT, "BTCUSDT", "2025-03-04", 4_000, first_id=9_000_000)
    agg = exclude_rows(generate_agg_trades(archive_root, Market.SPOT, "BTCUSDT", "2025-03-04", 2_000),
                       placeholder_lines=[1, 700, 701], zero_quantity_lines=[5, 2_000])
    partition = "2025-03-04|BTCUSDT"
    both = [*build_feed_assets(trades_feed(Market.SPOT)), *_agg_trades_assets(Market.SPOT, publisher=False)]

    def ticks() -> list[tuple]:
        return tick_tuples(ParquetDataCatalog(str(data_store.catalog)).trade_ticks(instrument_ids=["BTCUSDT.BINANCE"]))

    with instance_for_test() as instance:
        assert materialize(both, partition_key=partition, instance=instance,
                           resources=_resources(archive_server, data_store)).success
        normalized = _metadata(instance, "binance_spot_agg_trades_normalized")
        assert (normalized["rows"], normalized["source_rows"], normalized["placeholder_rows_excluded"],
                normalized["zero_quantity_rows_excluded"]) == (1_995, 2_000, 3, 2)
        assert _metadata(instance, "binance_spot_agg_trades_catalog") == {
            "published": False, "reason": "another feed is the declared publisher of TradeTick"}
        assert [t[0] for t in ticks()] == [str(i) for i in range(trades.first_id, trades.last_id + 1)]

        result = materialize(_agg_trades_assets(Market.SPOT), partition_key=partition,
                             instance=instance, resources=_resources(archive_server, data_store))
        assert result.success
        assert _metadata(instance, "binance_spot_agg_trades_catalog")["rows"] == 1_995
    expected = expected_ticks(csv_rows(agg.zip_path), Market.SPOT, "BTCUSDT", TimeUnit.MICROSECONDS)
    assert len(expected) == 1_995
    assert ticks() == expected
    assert len(_files(data_store.catalog / "data" / "trade_tick")) == 1


def test_malformed_row_fails_the_run_naming_file_and_line(archive_root: Path, archive_server: ArchiveServer,
                                                          data_store: DataStore) -> None:
    day = generate_agg_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 5_000, header=True)
    inject_malformed_row(day, 777, "1000775,42000.1,0.001")
    with instance_for_test() as instance:
        result = materialize(_agg_trades_assets(Market.USDM), partition_key="2024-01-02|BTCUSDT",
                             resources=_resources(archive_server, data_store), instance=instance,
                             raise_on_error=False)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        message = failure.event_specific_data.error.message
        assert "BTCUSDT-aggTrades-2024-01-02.zip, line 777: CSV parse error" in message
        assert failure.event_specific_data.user_failure_data.metadata["line"].value == 777
        assert instance.get_latest_materialization_event(AssetKey("binance_um_agg_trades_catalog")) is None
    assert _files(data_store.catalog) == []
    assert _files(data_store.root / "normalized") == []
    assert _files(agg_trades_feed(Market.USDM).staging(data_store)) == []


def test_groups_keys_and_checks_per_market() -> None:
    defs = Definitions(
        assets=[a for market in Market for a in _agg_trades_assets(market)],
        resources={"data_store": DataStoreResource(data_dir="unused"), "binance_archive": BinanceArchiveResource()},
    )
    graph = defs.get_repository_def().asset_graph
    for market in Market:
        group = f"binance_{market.value}_agg_trades"
        members = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == group}
        assert members == {f"{group}_raw", f"{group}_normalized", f"{group}_catalog", f"{group}_quality_report"}
        checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
        assert {(f"{group}_raw", "checksum_verified"), (f"{group}_normalized", "schema_valid"),
                (f"{group}_normalized", "agg_trade_id_gaps"), (f"{group}_catalog", "rows_in_equals_rows_out"),
                (f"{group}_catalog", "catalog_integrity")} <= checks
    FeedRegistry([trades_feed(Market.SPOT), agg_trades_feed(Market.SPOT)])  # aggTrades do not publish by default
    with pytest.raises(ValueError, match="binance_spot_trades and binance_spot_agg_trades would both publish TradeTick"
                                         " for BTCUSDT.BINANCE"):
        FeedRegistry([trades_feed(Market.SPOT), agg_trades_feed(Market.SPOT, publisher=True)])
