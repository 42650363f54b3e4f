"""The Dagster definitions load, and market identity is explicit in every group, asset key and partition set."""

from __future__ import annotations

from dagster import AssetKey

from hedgegrid_data.definitions import defs
from hedgegrid_data.markets import Market
from hedgegrid_data.partitions import daily_symbol_partitions


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
