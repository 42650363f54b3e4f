"""The trades asset groups in a real Dagster instance, against the loopback archive server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, instance_for_test, materialize
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import (
    inject_malformed_row,
    read_csv_text,
    replace_csv,
    rewrite_checksum_wrong,
    truncate_zip_with_matching_checksum,
)
from hedgegrid_data.testing.archive_server import ArchiveServer, Fault
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import REPO_ROOT, generate_trades, materializations


def _resources(server: ArchiveServer, store: DataStore) -> dict:
    return {
        "data_store": DataStoreResource(data_dir=str(store.root)),
        "binance_archive": BinanceArchiveResource(base_url=server.url, download_attempts=2),
    }


def _failure_description(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    return failure.event_specific_data.user_failure_data.description


def _report(result) -> dict:
    """The quality report the run wrote, as its reported materialization's metadata."""
    [report] = [e for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string().endswith("_quality_report")]
    return report.step_materialization_data.materialization.metadata


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.mark.parametrize(("market", "symbol", "instrument_id"), [
    (Market.SPOT, "BTCUSDT", "BTCUSDT.BINANCE"),
    (Market.USDM, "BTCUSDT", "BTCUSDT-PERP.BINANCE"),
    (Market.COINM, "BTCUSD_PERP", "BTCUSD-PERP.BINANCE"),
])
def test_materialize_trades_group(archive_root: Path, archive_server: ArchiveServer, data_store: DataStore,
                                  market: Market, symbol: str, instrument_id: str) -> None:
    day = generate_trades(archive_root, market, symbol, "2024-01-02", 10_000)
    with instance_for_test() as instance:
        result = materialize(build_feed_assets(trades_feed(market)), partition_key=f"2024-01-02|{symbol}",
                             resources=_resources(archive_server, data_store), instance=instance)
        assert result.success
        prefix = f"binance_{market.value}_trades"
        normalized = instance.get_latest_materialization_event(AssetKey(f"{prefix}_normalized"))
        metadata = normalized.asset_materialization.metadata
        assert metadata["rows"].value == 10_000
        assert metadata["time_unit"].value == "ms"
        assert (metadata["first_trade_id"].value, metadata["last_trade_id"].value) == (day.first_id, day.last_id)
        raw = instance.get_latest_materialization_event(AssetKey(f"{prefix}_raw")).asset_materialization.metadata
        assert len(raw["sha256"].value) == 64
        checks = result.get_asset_check_evaluations()
        assert {(c.check_name, c.passed) for c in checks} == {
            ("checksum_verified", True), ("schema_valid", True), ("rows_in_equals_rows_out", True),
            ("trade_id_gaps", True), ("trade_silences", True), ("day_coverage", True), ("price_spikes", True),
            ("volume_spikes", True), ("catalog_integrity", True)}
    ticks = ParquetDataCatalog(str(data_store.catalog)).trade_ticks(instrument_ids=[instrument_id])
    assert len(ticks) == 10_000


def _break_checksum(day, server):
    rewrite_checksum_wrong(day)


def _corrupt_zip(day, server):
    truncate_zip_with_matching_checksum(day)


def _truncate_download(day, server):
    server.inject(day.archive_file.key, Fault.truncate(0.5), Fault.truncate(0.5))


def _malformed_row(day, server):
    inject_malformed_row(day, 777, "1000776,42000.1,0.001")


def _wrong_time_unit(day, server):
    return "time_unit"


FAULTS = {
    "wrong CHECKSUM": (_break_checksum, "does not match the published CHECKSUM"),
    "corrupted zip": (_corrupt_zip, "corrupt or truncated zip"),
    "truncated download": (_truncate_download, "gave up after 2 attempts"),
    "malformed row": (_malformed_row, "line 777: CSV parse error"),
    "wrong time unit": (_wrong_time_unit, "timestamps are in microseconds"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_faults_fail_the_run_and_leave_nothing(archive_root: Path, archive_server: ArchiveServer,
                                               data_store: DataStore, fault: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the step-level retry would try a DownloadError again a minute later: here the failure itself is tested
    monkeypatch.setenv("HEDGEGRID_DOWNLOAD_STEP_RETRIES", "0")
    inject, message = FAULTS[fault]
    unit = TimeUnit.MICROSECONDS if fault == "wrong time unit" else None
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 5_000, time_unit=unit)
    inject(day, archive_server)
    with instance_for_test() as instance:
        result = materialize(build_feed_assets(trades_feed(Market.USDM)), partition_key="2024-01-02|BTCUSDT",
                             resources=_resources(archive_server, data_store), instance=instance,
                             raise_on_error=False)
        assert not result.success
        failures = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        description = failures[0].event_specific_data.error.message + str(
            failures[0].event_specific_data.user_failure_data)
        assert message in description
        assert "BTCUSDT-trades-2024-01-02.zip" in description
        assert instance.get_latest_materialization_event(AssetKey("binance_um_trades_catalog")) is None
    assert _files(data_store.catalog) == []
    assert _files(data_store.root / "normalized") == []
    assert _files(data_store.staging) == []


@pytest.mark.parametrize("policy", ["keep", "withdraw"])
def test_blocking_check_keeps_the_day_out_until_the_source_is_fixed(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, policy: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEGRID_FAILED_REPUBLICATION", policy)
    kept = policy == "keep"
    outcome = f"the published day of 2024-01-02 (20,000 rows) was {'kept' if kept else 'withdrawn'}"
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 20_000)
    rows = read_csv_text(day.zip_path).splitlines()
    day_file = (data_store.catalog / "data/trade_tick/BTCUSDT-PERP.BINANCE/"
                "2024-01-02T00-00-00-000000000Z_2024-01-02T23-59-59-999999999Z.parquet")
    assets = build_feed_assets(trades_feed(Market.USDM))
    with instance_for_test() as instance:
        def run():
            return materialize(assets, partition_key="2024-01-02|BTCUSDT", instance=instance,
                               resources=_resources(archive_server, data_store), raise_on_error=False)

        assert run().success and day_file.exists()
        # the archive re-publishes the day with 300 trades missing (ids 1005000..1005299)
        replace_csv(day, "\n".join(rows[:5000] + rows[5300:]) + "\n")
        result = run()
        [gaps] = [c for c in result.get_asset_check_evaluations() if c.check_name == "trade_id_gaps"]
        assert not gaps.passed and gaps.severity.value == "ERROR"
        assert gaps.metadata["missing_ids"].value == 300
        assert gaps.metadata["missing_ranges"].value == [[1_005_000, 1_005_299]]
        assert outcome in gaps.description
        assert gaps.metadata["published_day"].value == ("kept" if kept else "withdrawn")
        assert day_file.exists() is kept
        assert materializations(result, "binance_um_trades_catalog") == []
        # publishing alone is refused too: the gate is on the write, not only on Dagster's blocking check
        alone = materialize(assets, selection=[AssetKey("binance_um_trades_catalog")],
                            partition_key="2024-01-02|BTCUSDT", instance=instance,
                            resources=_resources(archive_server, data_store), raise_on_error=False)
        assert not alone.success and day_file.exists() is kept
        assert outcome in _failure_description(alone)
        # the run rewrote the group's rolling report itself (no run of its own)
        summary = _report(result)
        assert summary["BTCUSDT_blocked_days"].value == 1
        assert "| 2024-01-02|BTCUSDT | 0.00 |" in summary["summary"].value
        day_markdown = (data_store.root / "quality/binance/um/trades/BTCUSDT/2024-01-02.report.md").read_text()
        assert f"| trade_id_gaps | ERROR | FAIL | 300 missing trade ids in 1 gaps; {outcome} " in day_markdown
        assert summary[f"BTCUSDT_{'kept' if kept else 'withdrawn'}_days"].value == ["2024-01-02|BTCUSDT"]
        # fixed at the source: the day comes back
        replace_csv(day, "\n".join(rows) + "\n")
        assert run().success and day_file.exists()
        score = instance.get_latest_materialization_event(AssetKey("binance_um_trades_normalized"))
        assert score.asset_materialization.metadata["quality_score"].value == 1.0
    assert len(ParquetDataCatalog(str(data_store.catalog)).trade_ticks()) == 20_000


def test_dagster_cli_materializes_the_day_with_its_storage_in_dagster_home(archive_root: Path, tmp_path: Path) -> None:
    """The README's command with a copied ``dagster.yaml``, run from another working directory."""
    generate_trades(archive_root, Market.SPOT, "BTCUSDT", "2024-01-02", 20_000)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data_dir = tmp_path / "data"
    with ArchiveServer(archive_root) as server:
        env = {**os.environ, "DAGSTER_HOME": str(home), "HEDGEGRID_DATA_DIR": str(data_dir),
               "HEDGEGRID_BINANCE_URL": server.url}
        completed = subprocess.run(
            [str(Path(sys.executable).with_name("dagster")), "asset", "materialize",
             "-m", "hedgegrid_data.definitions", "--select", "group:binance_spot_trades",
             "--partition", "2024-01-02|BTCUSDT"],
            cwd=elsewhere, env=env, capture_output=True, text=True, check=False,
        )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "RUN_SUCCESS" in completed.stdout + completed.stderr
    assert (home / "history" / "runs.db").exists() and (home / "schedules").is_dir()
    assert list(elsewhere.iterdir()) == []  # nothing resolved against the working directory
    day_file = (data_dir / "catalog/data/trade_tick/BTCUSDT.BINANCE/"
                "2024-01-02T00-00-00-000000000Z_2024-01-02T23-59-59-999999999Z.parquet")
    assert day_file.exists()
    assert len(ParquetDataCatalog(str(data_dir / "catalog")).trade_ticks()) == 20_000
