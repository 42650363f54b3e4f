"""The Dagster definitions load, and market identity is explicit in every group, asset key and partition set."""

from __future__ import annotations

import json
from pathlib import Path

from dagster import AssetKey

from hedgegrid_data.definitions import defs
from hedgegrid_data.sources.binance_archive.feeds import archive_partitions, price_index_feed
from hedgegrid_data.sources.binance_archive.universe import archive_root, archive_symbols, symbol_folder
from hedgegrid_data.venues.binance import Market


def test_every_name_is_the_one_users_know() -> None:
    """Asset keys, groups, checks (and which block), jobs, schedules and sensors, as before the restructure
    around feeds: ``definition_names.json`` was written from the definitions of d1a71ca, then regenerated when
    Bybit's feeds were registered, which only added the ``bybit_*`` names (every Binance name unchanged)."""
    repository = defs.get_repository_def()
    graph = repository.asset_graph
    names = {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "groups": sorted({f"{k.to_user_string()}:{graph.get(k).group_name}" for k in graph.get_all_asset_keys()}),
        "checks": sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys),
        "jobs": sorted(j.name for j in repository.get_all_jobs()),
        "schedules": sorted(s.name for s in repository.schedule_defs),
        "sensors": sorted(s.name for s in repository.sensor_defs),
        "blocking": sorted(f"{spec.asset_key.to_user_string()}:{spec.name}" for a in defs.assets
                           for spec in getattr(a, "check_specs", []) if spec.blocking),
    }
    assert names == json.loads((Path(__file__).parent / "definition_names.json").read_text())


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
    spot = archive_partitions(Market.SPOT)
    assert "2024-01-02|BTCUSDT" in spot.get_partition_keys()
    assert "2024-01-02|BTCUSD_PERP" in archive_partitions(Market.COINM).get_partition_keys()
    assert archive_partitions(Market.SPOT) is spot
    assert AssetKey("binance_spot_trades_catalog") != AssetKey("binance_um_trades_catalog")


def test_every_daily_dataset_is_automated() -> None:
    """Each group gets its job, availability and re-publication sensors; all but the month files run nightly."""
    repository = defs.get_repository_def()
    daily = [f"binance_{m}_{d}" for m in ("spot", "um", "cm") for d in ("trades", "agg_trades", "klines")] + [
        f"binance_{m}_{d}" for m in ("um", "cm")
        for d in ("mark_price_klines", "index_price_klines", "premium_index_klines")] + [
        f"bybit_{m}_trades" for m in ("linear", "inverse", "spot")]
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
    feed = price_index_feed(Market.COINM, "indexPriceKlines")
    assert feed.name == "binance_cm_index_price_klines"
    assert archive_root(feed) == "data/futures/cm/daily/indexPriceKlines/"
    assert symbol_folder(feed, "BTCUSD_PERP") == "data/futures/cm/daily/indexPriceKlines/BTCUSD/1m/"
    assert archive_symbols(feed) == sorted({s.split("_")[0] for s in feed.symbols})
