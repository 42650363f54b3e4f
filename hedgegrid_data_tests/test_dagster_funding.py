"""The funding-rate asset groups in a real Dagster instance, against the loopback archive server."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test, materialize
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.catalog.funding_rates import register_funding_rate_codec
from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import funding_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.testing.funding_generator import (
    write_funding_month,
    write_interval_change_month,
)
from hedgegrid_data.venues.binance import Market

HOUR_NS = 3_600 * 10**9
SAMPLE_KEY = "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2026-04.zip"
CHECKS = {("checksum_verified", True), ("schema_valid", True), ("day_has_funding_events", True),
          ("funding_schedule", True), ("rows_in_equals_rows_out", True), ("catalog_integrity", True)}


def _resources(server: ArchiveServer, store: DataStore) -> dict:
    return {
        "data_store": DataStoreResource(data_dir=str(store.root)),
        "binance_archive": BinanceArchiveResource(base_url=server.url, download_attempts=2),
    }


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def _metadata(instance, key: str) -> dict:
    return {k: v.value for k, v in instance.get_latest_materialization_event(AssetKey(key))
            .asset_materialization.metadata.items()}


def _day_updates(store: DataStore, instrument_id: str, day: dt.date) -> list[FundingRateUpdate]:
    register_funding_rate_codec()
    start, end = day_bounds_ns(day)
    return ParquetDataCatalog(str(store.catalog)).query(FundingRateUpdate, identifiers=[instrument_id],
                                                         start=start, end=end)


def test_real_sample_day_through_the_loopback_archive(archive_with_samples: Path, archive_server: ArchiveServer,
                                                      data_store: DataStore) -> None:
    assets = build_feed_assets(funding_feed(Market.USDM))
    with instance_for_test() as instance:
        for day in ("2026-04-15", "2026-04-16", "2026-04-15"):
            result = materialize(assets, partition_key=f"{day}|BTCUSDT",
                                 resources=_resources(archive_server, data_store), instance=instance)
            assert result.success
            assert {(c.check_name, c.passed) for c in result.get_asset_check_evaluations()} == CHECKS
        raw = _metadata(instance, "binance_um_funding_rate_raw")
        assert (raw["period"], raw["reused_local_copy"]) == ("2026-04", True)
        normalized = _metadata(instance, "binance_um_funding_rate_normalized")
        assert (normalized["rows"], normalized["month_rows"], normalized["header"]) == (3, 90, True)
        assert (normalized["quality_score"], normalized["completeness"]) == (1.0, 1.0)
    # the month file is downloaded once and shared by the month's days; a re-run replaces its day only
    assert sum(1 for method, path in archive_server.requests if method == "GET" and path == f"/{SAMPLE_KEY}") == 1
    directory = data_store.catalog / "data" / "funding_rate_update" / "BTCUSDT-PERP.BINANCE"
    assert sorted(p.name[:10] for p in directory.glob("*.parquet")) == ["2026-04-15", "2026-04-16"]

    with zipfile.ZipFile(archive_with_samples / SAMPLE_KEY) as archive:
        rows = [line.split(",") for line in archive.read(archive.namelist()[0]).decode().splitlines()[1:]]
    start, _ = day_bounds_ns(dt.date(2026, 4, 15))
    day_rows = [r for r in rows if start <= int(r[0]) * 10**6 < start + 86_400 * 10**9]
    updates = _day_updates(data_store, "BTCUSDT-PERP.BINANCE", dt.date(2026, 4, 15))
    assert [str(u.rate) for u in updates] == [r[2] for r in day_rows] and len(updates) == 3
    assert [u.ts_event for u in updates] == [int(r[0]) * 10**6 for r in day_rows]
    assert [u.next_funding_ns for u in updates] == [start + h * HOUR_NS for h in (8, 16, 24)]


def test_interval_change_month(archive_root: Path, archive_server: ArchiveServer, data_store: DataStore) -> None:
    generated = write_interval_change_month(archive_root, Market.COINM, "BTCUSD_PERP", seed=11)
    assets = build_feed_assets(funding_feed(Market.COINM))
    days = [dt.date(2024, 3, 11), dt.date(2024, 3, 21)]
    with instance_for_test() as instance:
        for day in days:
            result = materialize(assets, partition_key=f"{day}|BTCUSD_PERP",
                                 resources=_resources(archive_server, data_store), instance=instance)
            assert result.success
        normalized = _metadata(instance, "binance_cm_funding_rate_normalized")
        assert (normalized["rows"], normalized["intervals_hours"]) == (15, "[1, 4]")
        assert (normalized["month_intervals_hours"], normalized["month_schedule_breaks"]) == ("[1, 4, 8]", 0)
    directory = data_store.catalog / "data" / "funding_rate_update" / "BTCUSD-PERP.BINANCE"
    assert sorted(p.name[:10] for p in directory.glob("*.parquet")) == ["2024-03-11", "2024-03-21"]
    for day in days:
        updates = _day_updates(data_store, "BTCUSD-PERP.BINANCE", day)
        expected = generated.events_on(day)
        assert [(str(u.rate), u.ts_event, u.next_funding_ns) for u in updates] == [
            (e.rate, e.ts_event_ns, e.next_funding_ns) for e in expected]
    switch_day = [u.next_funding_ns for u in _day_updates(data_store, "BTCUSD-PERP.BINANCE", days[0])]
    eleventh = day_bounds_ns(days[0])[0]
    assert switch_day == [eleventh + h * HOUR_NS for h in (8, 16, 20, 24)]


def test_day_without_events_warns_publishes_nothing_and_is_listed_missing(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore) -> None:
    gap = dt.date(2024, 5, 7)
    write_funding_month(archive_root, Market.USDM, "ETHUSDT", gap, skip_days={gap})
    assets = build_feed_assets(funding_feed(Market.USDM))
    with instance_for_test() as instance:
        result = materialize(assets, partition_key=f"{gap}|ETHUSDT",
                             resources=_resources(archive_server, data_store), instance=instance)
        assert result.success
        checks = {(c.check_name, c.passed, c.severity.value) for c in result.get_asset_check_evaluations()}
        assert ("day_has_funding_events", False, "WARN") in checks
        assert ("rows_in_equals_rows_out", True, "ERROR") in checks and ("catalog_integrity", True, "ERROR") in checks
        assert _metadata(instance, "binance_um_funding_rate_catalog")["rows"] == 0
        assert _metadata(instance, "binance_um_funding_rate_normalized")["completeness"] == 0.0
        for day in ("2024-05-05", "2024-05-08"):
            assert materialize(assets, partition_key=f"{day}|ETHUSDT", instance=instance,
                               resources=_resources(archive_server, data_store)).success
        report = _metadata(instance, "binance_um_funding_rate_quality_report")
        assert report["ETHUSDT_missing_days"] == ["2024-05-06", "2024-05-07"]
        assert "days without a report: 2024-05-06" in report["summary"]
        assert "days missing from the catalog: 2024-05-06, 2024-05-07" in report["summary"]
    assert [p.name[:10] for p in _files(data_store.catalog / "data" / "funding_rate_update")] == [
        "2024-05-05", "2024-05-08"]


def _failure_message(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    return failure.event_specific_data.error.message


def test_wrong_checksum_and_unpublished_month_fail_closed(archive_root: Path, archive_server: ArchiveServer,
                                                          data_store: DataStore) -> None:
    generated = write_funding_month(archive_root, Market.USDM, "BTCUSDT", dt.date(2024, 2, 1))
    wrong = hashlib.sha256(generated.zip_path.read_bytes() + b"wrong").hexdigest()
    generated.checksum_path.write_text(f"{wrong}  {generated.archive_file.file_name}\n")
    with instance_for_test() as instance:
        wrong_checksum = materialize(build_feed_assets(funding_feed(Market.USDM)), partition_key="2024-02-10|BTCUSDT",
                                     resources=_resources(archive_server, data_store), instance=instance,
                                     raise_on_error=False)
        assert not wrong_checksum.success
        message = _failure_message(wrong_checksum)
        assert "does not match the published CHECKSUM" in message and "BTCUSDT-fundingRate-2024-02.zip" in message

        unpublished = materialize(build_feed_assets(funding_feed(Market.COINM)), partition_key="2024-06-03|BTCUSD_PERP",
                                  resources=_resources(archive_server, data_store), instance=instance,
                                  raise_on_error=False)
        assert not unpublished.success
        assert "BTCUSD_PERP-fundingRate-2024-06.zip.CHECKSUM: HTTP 404, not published" in _failure_message(unpublished)
        for market in ("um", "cm"):
            assert instance.get_latest_materialization_event(AssetKey(f"binance_{market}_funding_rate_raw")) is None
    assert _files(data_store.root) == []


def test_spot_has_no_funding_group() -> None:
    with pytest.raises(ValueError, match="spot has no funding rates"):
        build_feed_assets(funding_feed(Market.SPOT))
