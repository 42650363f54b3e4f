"""The Dagster definitions load, and market identity is explicit in every group, asset key and partition set."""

from __future__ import annotations

from dagster import AssetKey

from hedgegrid_data.assets.binance_klines import build_binance_price_index_groups
from hedgegrid_data.automation import binance_price_index_dataset
from hedgegrid_data.definitions import defs
from hedgegrid_data.partitions import daily_symbol_partitions
from hedgegrid_data.venues.binance import Market


def test_definitions_resolve() -> None:
    repository = defs.get_repository_def()
    assert repository.get_all_jobs()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    for market in ("spot", "um", "cm"):
        for layer in ("raw", "normalized", "catalog"):
            assert f"binance_{market}_trades_{layer}" in keys


def test_groups_and_checks_per_market() -> None:
    graph = defs.get_repository_def().asset_graph
    for market in Market:
        group = f"binance_{market.value}_trades"
        members = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == group}
        assert members == {f"{group}_raw", f"{group}_normalized", f"{group}_catalog", f"{group}_quality_report"}
    groups = [f"binance_{m}_{d}" for m in ("um", "cm") for d in ("funding_rate", "mark_price_klines")] + [
        f"binance_{m}_{d}" for m in ("spot", "um", "cm") for d in ("agg_trades", "klines")]
    for group in groups:
        members = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == group}
        assert members == {f"{group}_raw", f"{group}_normalized", f"{group}_catalog", f"{group}_quality_report"}
    for market in ("um", "cm"):
        for dataset in ("index_price_klines", "premium_index_klines"):
            group = f"binance_{market}_{dataset}"
            members = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == group}
            assert members == {f"{group}_raw", f"{group}_normalized", f"{group}_quality_report"}
    check_names = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("binance_spot_trades_raw", "checksum_verified") in check_names
    assert ("binance_um_trades_normalized", "schema_valid") in check_names
    assert ("binance_cm_trades_catalog", "rows_in_equals_rows_out") in check_names
    for group in groups:
        assert (f"{group}_catalog", "catalog_integrity") in check_names
    for market in ("spot", "um", "cm"):
        assert (f"binance_{market}_klines_normalized", "ohlcv_rules") in check_names
        assert (f"binance_{market}_agg_trades_normalized", "agg_trade_id_gaps") in check_names
    assert ("binance_cm_premium_index_klines_normalized", "ohlcv_rules") in check_names
    assert ("binance_um_funding_rate_normalized", "funding_schedule") in check_names


def test_partition_keys_are_date_and_symbol() -> None:
    spot = daily_symbol_partitions(Market.SPOT)
    assert "2024-01-02|BTCUSDT" in spot.get_partition_keys()
    assert "2024-01-02|BTCUSD_PERP" in daily_symbol_partitions(Market.COINM).get_partition_keys()
    assert daily_symbol_partitions(Market.SPOT) is spot
    assert AssetKey("binance_spot_trades_catalog") != AssetKey("binance_um_trades_catalog")


def test_every_daily_dataset_is_automated() -> None:
    """Each group gets its job, availability and re-publication sensors; all but the month files run nightly."""
    repository = defs.get_repository_def()
    daily = [f"binance_{m}_{d}" for m in ("spot", "um", "cm") for d in ("trades", "agg_trades", "klines")] + [
        f"binance_{m}_{d}" for m in ("um", "cm")
        for d in ("mark_price_klines", "index_price_klines", "premium_index_klines")]
    monthly = ["binance_um_funding_rate", "binance_cm_funding_rate"]
    for group in daily + monthly:
        job = repository.get_job(f"{group}_daily")
        assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} >= {f"{group}_raw",
                                                                                      f"{group}_normalized"}
        assert repository.has_sensor_def(f"{group}_availability")
        assert repository.has_sensor_def(f"{group}_republication")
    assert {s.name for s in repository.schedule_defs} == {f"{group}_nightly" for group in daily}
    assert repository.has_sensor_def("hedgegrid_run_failure_alerts")
    assert repository.has_sensor_def("hedgegrid_check_failure_alerts")


def test_coin_m_index_klines_are_found_under_the_pair() -> None:
    groups = build_binance_price_index_groups(Market.COINM)
    assets = groups[("indexPriceKlines", "binance_cm_index_price_klines")]
    dataset = binance_price_index_dataset(Market.COINM, "indexPriceKlines", "binance_cm_index_price_klines", assets)
    assert dataset.archive_root == "data/futures/cm/daily/indexPriceKlines/"
    assert dataset.symbol_folder("BTCUSD_PERP") == "data/futures/cm/daily/indexPriceKlines/BTCUSD/1m/"
    assert dataset.archive_symbols == sorted({s.split("_")[0] for s in dataset.symbols})
