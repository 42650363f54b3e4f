"""A published day whose re-published source fails (a parse error or a blocking check): one policy, kept or
withdrawn, stated by the failure, the checks and the reports; the failed version never publishes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, build_run_status_sensor_context, instance_for_test, materialize

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation.alerts import read_alerts
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.quality.report import read_day_report
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import agg_trades_feed, klines_feed, trades_feed
from hedgegrid_data.sources.binance_archive.klines_day import BarPlan
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import (
    inject_malformed_row,
    read_csv_text,
    replace_csv,
)
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades
from hedgegrid_data_tests.test_agg_trades import generate_agg_trades
from hedgegrid_data_tests.test_automation_sensors import _definitions, _evaluate
from hedgegrid_data_tests.test_automation_sensors import _resources as _alert_resources
from hedgegrid_data_tests.test_klines import DAY as KLINES_DAY
from hedgegrid_data_tests.test_klines import edit_bars, generate_klines, high_below_close, rising_lines

DAY = dt.date(2024, 1, 2)
PARTITION = "2024-01-02|BTCUSDT"
DAY_FILE = "data/trade_tick/BTCUSDT-PERP.BINANCE/2024-01-02T00-00-00-000000000Z_2024-01-02T23-59-59-999999999Z.parquet"


def _resources(server: ArchiveServer, store: DataStore) -> dict:
    return {"data_store": DataStoreResource(data_dir=str(store.root)),
            "binance_archive": BinanceArchiveResource(base_url=server.url, download_attempts=2)}


def _step_failure(result) -> tuple[str, dict]:
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    data = failure.event_specific_data.user_failure_data
    return data.description, {k: v.value for k, v in data.metadata.items()}


@pytest.mark.parametrize("policy", ["keep", "withdraw"])
def test_a_republished_file_that_does_not_parse_keeps_or_withdraws_the_published_day(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, policy: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEGRID_FAILED_REPUBLICATION", policy)
    monkeypatch.setenv("HEDGEGRID_DOWNLOAD_STEP_RETRIES", "0")
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 5_000)
    text = read_csv_text(day.zip_path)
    feed = trades_feed(Market.USDM)
    assets = build_feed_assets(feed)
    day_file, normalized = data_store.catalog / DAY_FILE, feed.normalized_file(data_store, DAY, "BTCUSDT")
    with instance_for_test() as instance:
        def run(selection=None):
            return materialize(assets, selection=selection, partition_key=PARTITION, instance=instance,
                               resources=_resources(archive_server, data_store), raise_on_error=False)

        assert run().success
        published_bytes, normalized_bytes = day_file.read_bytes(), normalized.read_bytes()
        inject_malformed_row(day, 777, "1000776,42000.1,0.001")  # the archive re-publishes a broken file
        result = run()
        assert not result.success
        description, metadata = _step_failure(result)
        kept = policy == "keep"
        outcome = f"the published day of 2024-01-02 (5,000 rows) was {'kept' if kept else 'withdrawn'}"
        assert "line 777: CSV parse error" in description and description.endswith(
            f"; {outcome} (HEDGEGRID_FAILED_REPUBLICATION={policy})")
        assert metadata["published_day"] == ("kept" if kept else "withdrawn") and metadata["line"] == 777
        if kept:  # the catalog and the normalized table still hold the same, published version
            assert day_file.read_bytes() == published_bytes and normalized.read_bytes() == normalized_bytes
        else:
            assert not day_file.exists() and not normalized.exists()
        report = read_day_report(feed.quality_file(data_store, DAY, "BTCUSDT"), DAY)
        assert report["blocked"] and report["findings"]["schema_valid"] == description
        assert report["published_day"]["note"].startswith(outcome) and report["completeness"] == 0.0
        # the gate refuses the catalog step alone: the latest source version failed
        alone = run([AssetKey("binance_um_trades_catalog")])
        assert not alone.success and "blocking checks failed: schema_valid" in _step_failure(alone)[0]
        assert day_file.exists() is kept
        replace_csv(day, text)  # fixed at the source
        assert run().success and day_file.read_bytes() == published_bytes


def test_a_day_never_published_is_simply_not_published(archive_root: Path, archive_server: ArchiveServer,
                                                       data_store: DataStore,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEGRID_DOWNLOAD_STEP_RETRIES", "0")
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 5_000)
    inject_malformed_row(day, 777, "1000776,42000.1,0.001")
    with instance_for_test() as instance:
        result = materialize(build_feed_assets(trades_feed(Market.USDM)), partition_key=PARTITION,
                             instance=instance, resources=_resources(archive_server, data_store),
                             raise_on_error=False)
    description, metadata = _step_failure(result)
    assert description.endswith("Expected 6 columns, got 3: 1000776,42000.1,0.001")
    assert "line 777: CSV parse error" in description and "published_day" not in metadata
    assert not (data_store.catalog / DAY_FILE).exists()


def test_a_table_feed_keeps_its_last_good_table(data_store: DataStore) -> None:
    """aggTrades, not the declared TradeTick publisher: its published day is its normalized table."""
    generated = generate_agg_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-03-04", 5_000, header=True)
    feed, day = agg_trades_feed(Market.USDM), dt.date(2024, 3, 4)
    text = read_csv_text(generated.zip_path)
    normalized = feed.normalized_file(data_store, day, "BTCUSDT")
    assert not normalize_day(feed, data_store, day, "BTCUSDT").report["blocked"]
    good = normalized.read_bytes()
    lines = text.splitlines(keepends=True)
    for _ in range(2):  # a second failed rebuild still finds the kept version
        replace_csv(generated, "".join(lines[:2_001] + lines[2_051:]))
        blocked = normalize_day(feed, data_store, day, "BTCUSDT")
        assert blocked.report["blocked"] and blocked.published_day is not None
        assert blocked.published_day.note.startswith("the published day of 2024-03-04 (5,000 rows) was kept")
        assert normalized.read_bytes() == good
    replace_csv(generated, "".join(lines[:10] + ["not,a,row\n"] + lines[11:]))
    with pytest.raises(ArchiveDataError) as failed:
        normalize_day(feed, data_store, day, "BTCUSDT")
    assert failed.value.published_day == "kept" and normalized.read_bytes() == good


def test_kept_bars_keep_every_normalized_interval(data_store: DataStore) -> None:
    """Klines write a table per archive interval: every one is put back with the published bars."""
    plan = BarPlan.of(["1m", "5m"], ["5m", "1h"])
    feed, day = klines_feed(Market.USDM, plan.intervals, plan.timeframes), KLINES_DAY
    minutes = generate_klines(data_store.raw, Market.USDM, "BTCUSDT", header=True)
    generate_klines(data_store.raw, Market.USDM, "BTCUSDT", interval="5m", header=True)
    assert not normalize_day(feed, data_store, day, "BTCUSDT").report["blocked"]
    published = publish_day(feed, data_store, day, "BTCUSDT")
    tables = feed.steps.normalized_files(feed, data_store, day, "BTCUSDT")
    good = [(t.read_bytes(), d.path.read_bytes()) for t, d in zip(tables, published.days.values(), strict=False)]
    assert len(tables) == 2 and len(published.days) == 3
    edit_bars(minutes, rising_lines(minutes, 3), high_below_close)
    blocked = normalize_day(feed, data_store, day, "BTCUSDT")
    assert blocked.report["blocked"] and blocked.published_day is not None
    assert blocked.published_day.note.startswith(
        f"the published day of {day} ({1_440 + 288 + 24:,} rows) was kept")
    assert [(t.read_bytes(), d.path.read_bytes())
            for t, d in zip(tables, published.days.values(), strict=False)] == good
    assert not list(feed.staging(data_store).rglob("*.parquet"))  # nothing of the failed version is staged


def test_the_alerts_say_the_published_day_was_kept(archive_root: Path, archive_server: ArchiveServer,
                                                   data_store: DataStore, tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 5_000)
    rows = read_csv_text(day.zip_path).splitlines()
    alerts = tmp_path / "alerts.jsonl"
    resources = _alert_resources(archive_server.url, data_store, alerts)
    defs = _definitions(resources)
    daily = defs.resolve_job_def("binance_um_trades_daily")
    kept = "the published day of 2024-01-02 (5,000 rows) was kept (HEDGEGRID_FAILED_REPUBLICATION=keep)"
    with instance_for_test() as instance:
        assert daily.execute_in_process(partition_key=PARTITION, instance=instance).success
        replace_csv(day, "\n".join(rows[:1000] + rows[1010:]) + "\n")  # re-published with 10 ids missing
        failed = daily.execute_in_process(partition_key=PARTITION, instance=instance, raise_on_error=False)
        assert not failed.success
        _evaluate(defs, "hedgegrid_check_failure_alerts", instance)
        sensor = defs.get_repository_def().get_sensor_def("hedgegrid_run_failure_alerts")
        sensor(build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=failed.get_run_failure_event(), dagster_instance=instance,
            dagster_run=failed.dagster_run, resources={"hedgegrid_alerts": resources["hedgegrid_alerts"]}))
    by_kind = {a["kind"]: a["summary"] for a in read_alerts(alerts)}
    assert by_kind["check_failure"] == ("check trade_id_gaps on binance_um_trades_normalized partition "
                                        f"{PARTITION} failed: 10 missing trade ids in 1 gaps; {kept}")
    assert by_kind["run_failure"].endswith(
        "binance_um_trades BTCUSDT 2024-01-02: not published to the catalog: blocking checks failed: trade_id_gaps")
    assert (data_store.catalog / DAY_FILE).exists()
