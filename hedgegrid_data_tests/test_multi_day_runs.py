"""Many days per run: a backfill range run of the trades group in a real Dagster instance, one day bad.

The run is what the backfill daemon launches for a ``BackfillPolicy.multi_run`` range (the
``dagster/asset_partition_range_start/end`` tags); the good days are published and materialized per
partition, the bad day's partitions show failed and re-run alone, every check result belongs to its day.
"""

from __future__ import annotations

from pathlib import Path

from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    MultiPartitionKey,
    instance_for_test,
    materialize,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.assets.policies import days_per_run_policy
from hedgegrid_data.automation.alerts import partition_of_run
from hedgegrid_data.automation.schedules import build_daily_job
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import read_csv_text, replace_csv
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades

GROUP = "binance_um_trades"
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]
BAD = "2024-01-03"
KEYS = [f"{day}|BTCUSDT" for day in DAYS]


def _definitions(server: ArchiveServer, store: DataStore) -> Definitions:
    feed = trades_feed(Market.USDM)
    return Definitions(assets=build_feed_assets(feed), jobs=[build_daily_job(feed)], resources={
        "data_store": DataStoreResource(data_dir=str(store.root)),
        "binance_archive": BinanceArchiveResource(base_url=server.url, download_attempts=2)})


def _day_file(store: DataStore, day: str) -> Path:
    return (store.catalog / "data/trade_tick/BTCUSDT-PERP.BINANCE"
            / f"{day}T00-00-00-000000000Z_{day}T23-59-59-999999999Z.parquet")


def _statuses(instance: DagsterInstance, asset: str) -> dict[str, str]:
    feed = trades_feed(Market.USDM)
    keys = [feed.partition_key(__import__("datetime").date.fromisoformat(d), "BTCUSDT") for d in DAYS]
    found = instance.get_status_by_partition(AssetKey(f"{GROUP}_{asset}"), keys, feed.partitions_def) or {}
    return {k: (s.value if s is not None else None) for k, s in found.items()}


def test_a_range_run_publishes_the_good_days_and_fails_only_the_bad_one(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore) -> None:
    assert days_per_run_policy().max_partitions_per_run == 12
    days = {day: generate_trades(archive_root, Market.USDM, "BTCUSDT", day, 5_000) for day in DAYS}
    rows = read_csv_text(days[BAD].zip_path).splitlines()
    replace_csv(days[BAD], "\n".join(rows[:1000] + rows[1100:]) + "\n")  # 100 trade ids missing: blocking
    defs = _definitions(archive_server, data_store)
    job = defs.get_job_def(f"{GROUP}_daily")
    with instance_for_test() as instance:
        tags = {ASSET_PARTITION_RANGE_START_TAG: KEYS[0], ASSET_PARTITION_RANGE_END_TAG: KEYS[-1]}
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        assert not result.success
        assert partition_of_run(result.dagster_run.tags) == f"{KEYS[0]}...{KEYS[-1]}"
        failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
        text = str(failure.event_specific_data.user_failure_data.description)
        assert "1 of 3 partition(s) failed" in text and f"{BAD}|BTCUSDT" in text and "trade_id_gaps" in text

        # the good days are in the catalog and read back; the bad one is not
        assert [_day_file(data_store, d).exists() for d in DAYS] == [True, False, True]
        assert len(ParquetDataCatalog(str(data_store.catalog)).trade_ticks()) == 10_000
        # one materialization per asset and good day, with the day's own metadata and partition tags
        for asset in ("raw", "normalized", "catalog"):
            events = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(
                f"{GROUP}_{asset}")]
            expected = KEYS if asset in ("raw", "normalized") else [KEYS[0], KEYS[2]]
            assert sorted(e.partition for e in events) == expected, asset
            for event in events:
                tags = event.step_materialization_data.materialization.tags
                day, symbol = event.partition.split("|")
                assert (tags["dagster/partition/date"], tags["dagster/partition/symbol"]) == (day, symbol)
        catalog_rows = {e.partition: e.step_materialization_data.materialization.metadata["rows"].value
                        for e in result.get_asset_materialization_events()
                        if e.asset_key == AssetKey(f"{GROUP}_catalog")}
        assert catalog_rows == {KEYS[0]: 5_000, KEYS[2]: 5_000}
        # partition statuses, as the UI's partition view shows them
        assert _statuses(instance, "catalog") == {KEYS[0]: "MATERIALIZED", KEYS[1]: "FAILED",
                                                  KEYS[2]: "MATERIALIZED"}
        assert set(_statuses(instance, "normalized").values()) == {"MATERIALIZED"}
        # every check evaluation belongs to its partition
        gaps = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey(f"{GROUP}_normalized"), "trade_id_gaps"), limit=10)
        assert sorted((r.partition, r.status.value) for r in gaps) == [
            (KEYS[0], "SUCCEEDED"), (KEYS[1], "FAILED"), (KEYS[2], "SUCCEEDED")]
        integrity = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey(f"{GROUP}_catalog"), "catalog_integrity"), limit=10)
        assert sorted(r.partition for r in integrity if r.status.value == "SUCCEEDED") == [KEYS[0], KEYS[2]]
        # the quality report was rewritten by the run itself: no run of its own
        [report] = [e for e in result.get_asset_materialization_events()
                    if e.asset_key == AssetKey(f"{GROUP}_quality_report")]
        assert report.step_materialization_data.materialization.metadata["BTCUSDT_blocked_days"].value == 1

        # fixed at the source, the bad day re-runs alone (what the UI's "materialize failed" launches)
        replace_csv(days[BAD], "\n".join(rows) + "\n")
        again = materialize(build_feed_assets(trades_feed(Market.USDM)),
                            partition_key=str(MultiPartitionKey({"date": BAD, "symbol": "BTCUSDT"})),
                            instance=instance, resources=defs.resources)
        assert again.success
        assert set(_statuses(instance, "catalog").values()) == {"MATERIALIZED"}
        assert all(_day_file(data_store, d).exists() for d in DAYS)
