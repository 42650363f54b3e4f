"""Schedules and sensors against a real Dagster instance, the loopback archive and real materializations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    StaticPartitionsDefinition,
    asset,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    in_process_executor,
    instance_for_test,
    materialize,
)

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation import AutomationSettings, build_automation
from hedgegrid_data.automation.alerts import AlertsResource, read_alerts
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import funding_feed, klines_feed, trades_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource, BinanceListingResource
from hedgegrid_data.sources.binance_archive.universe import archive_root as listing_root
from hedgegrid_data.sources.binance_archive.universe import symbol_folder, universe_path
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import write_trades_day
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.testing.funding_generator import write_funding_month
from hedgegrid_data.testing.kline_generator import write_kline_day
from hedgegrid_data.testing.webhook_receiver import WebhookReceiver
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import generate_trades

MARKET = Market.USDM
GROUP = "binance_um_trades"


def _resources(base: str, store: DataStore, alerts: Path, webhook: str | None = None) -> dict:
    return {
        "data_store": DataStoreResource(data_dir=str(store.root)),
        "binance_archive": BinanceArchiveResource(base_url=base, download_attempts=2),
        "binance_listing": BinanceListingResource(listing_url=base),
        "hedgegrid_alerts": AlertsResource(alerts_file=str(alerts), webhook_url=webhook),
    }


def _definitions(resources: dict, settings: AutomationSettings = AutomationSettings(), extra_assets=()) -> Definitions:
    feed = trades_feed(MARKET)
    assets = build_feed_assets(feed)
    automation = build_automation([feed], settings, resources=resources)
    return Definitions(
        assets=[*assets, *automation["assets"], *extra_assets],
        resources=automation["resources"],
        jobs=automation["jobs"],
        schedules=automation["schedules"],
        sensors=automation["sensors"],
        executor=in_process_executor,
    )


def _evaluate(defs: Definitions, name: str, instance, cursor: str | None = None):
    sensor = defs.get_repository_def().get_sensor_def(name)
    context = build_sensor_context(instance=instance, cursor=cursor, definitions=defs, sensor_name=name,
                                   resources=defs.resources)
    return sensor.evaluate_tick(context)


def _materialize(defs: Definitions, partition_key: str, instance) -> None:
    job = defs.resolve_job_def(f"{GROUP}_daily")
    result = job.execute_in_process(partition_key=partition_key, instance=instance)
    assert result.success


def test_definitions_with_automation_resolve(tmp_path: Path) -> None:
    defs = _definitions(_resources("http://127.0.0.1:9", DataStore(tmp_path), tmp_path / "alerts.jsonl"))
    repository = defs.get_repository_def()
    job = repository.get_job(f"{GROUP}_daily")
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
        f"{GROUP}_raw", f"{GROUP}_normalized", f"{GROUP}_catalog"}
    assert {s.name: s.default_status for s in repository.schedule_defs} == {
        f"{GROUP}_nightly": DefaultScheduleStatus.RUNNING}
    assert {s.name for s in repository.sensor_defs} == {
        f"{GROUP}_availability", f"{GROUP}_republication", "hedgegrid_run_failure_alerts",
        "hedgegrid_check_failure_alerts"}
    assert all(s.default_status is DefaultSensorStatus.RUNNING for s in repository.sensor_defs)
    assert AssetKey(f"{GROUP}_universe") in repository.asset_graph.get_all_asset_keys()


def test_nightly_schedule_requests_the_last_complete_day_for_every_symbol(tmp_path: Path) -> None:
    defs = _definitions(_resources("http://127.0.0.1:9", DataStore(tmp_path), tmp_path / "alerts.jsonl"))
    schedule = defs.get_repository_def().get_schedule_def(f"{GROUP}_nightly")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 9 * * *", "UTC")
    with instance_for_test() as instance:
        tick = dt.datetime(2024, 1, 3, 9, 30, tzinfo=dt.timezone.utc)
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert sorted(r.partition_key for r in requests) == ["2024-01-02|BTCUSDT", "2024-01-02|ETHUSDT"]
    assert {r.tags["hedgegrid/trigger"] for r in requests} == {"nightly"}


@pytest.mark.parametrize("mirror", ["loopback http", "local directory"])
def test_availability_requests_only_published_unmaterialized_days(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, tmp_path: Path, mirror: str) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    d1, d2, d3 = (today - dt.timedelta(days=n) for n in (1, 2, 3))
    for symbol, day in [("BTCUSDT", d1), ("BTCUSDT", d2), ("BTCUSDT", d3), ("ETHUSDT", d2)]:
        generate_trades(archive_root, MARKET, symbol, day, 200)
    base = archive_server.url if mirror == "loopback http" else str(archive_root)
    alerts = tmp_path / "alerts.jsonl"
    defs = _definitions(_resources(base, data_store, alerts), AutomationSettings(availability_window_days=3))
    name = f"{GROUP}_availability"
    with instance_for_test() as instance:
        _materialize(defs, f"{d3}|BTCUSDT", instance)

        first = _evaluate(defs, name, instance)
        assert sorted(r.partition_key for r in first.run_requests) == sorted(
            [f"{d1}|BTCUSDT", f"{d2}|BTCUSDT", f"{d2}|ETHUSDT"])
        assert all(r.run_key == r.partition_key for r in first.run_requests)
        assert all(r.job_name in (None, f"{GROUP}_daily") for r in first.run_requests)
        late = read_alerts(alerts)  # d3 ETHUSDT: still unpublished 36 h after it ended; d1 ETHUSDT is not late yet
        assert [(a["kind"], a["details"]["partitions"]) for a in late] == [("late_day", [f"{d3}|ETHUSDT"])]

        second = _evaluate(defs, name, instance, first.cursor)
        assert second.run_requests == [] and len(read_alerts(alerts)) == 1

        generate_trades(archive_root, MARKET, "ETHUSDT", d1, 200)  # published later
        third = _evaluate(defs, name, instance, second.cursor)
        assert [r.partition_key for r in third.run_requests] == [f"{d1}|ETHUSDT"]
    if mirror == "loopback http":
        heads = [path for method, path in archive_server.requests if method == "HEAD"]
        assert heads and all(path.endswith(".CHECKSUM") for path in heads)
        assert not any(f"{d3}.zip.CHECKSUM" in p and "BTCUSDT" in p for p in heads)  # materialized: not probed


def test_availability_is_bounded_per_tick(archive_root: Path, archive_server: ArchiveServer, data_store: DataStore,
                                          tmp_path: Path) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    for n in (1, 2, 3):
        for symbol in ("BTCUSDT", "ETHUSDT"):
            generate_trades(archive_root, MARKET, symbol, today - dt.timedelta(days=n), 50)
    settings = AutomationSettings(availability_window_days=3, max_requests_per_tick=2)
    defs = _definitions(_resources(archive_server.url, data_store, tmp_path / "a.jsonl"), settings)
    with instance_for_test() as instance:
        result = _evaluate(defs, f"{GROUP}_availability", instance)
        oldest = today - dt.timedelta(days=3)
        assert [r.partition_key for r in result.run_requests] == [f"{oldest}|BTCUSDT", f"{oldest}|ETHUSDT"]
        nxt = _evaluate(defs, f"{GROUP}_availability", instance, result.cursor)
        assert len(nxt.run_requests) == 2 and oldest.isoformat() not in nxt.run_requests[0].partition_key


def test_republication_rebuilds_a_swapped_file_and_nothing_else(archive_root: Path, data_store: DataStore,
                                                                tmp_path: Path) -> None:
    for day in ("2024-01-02", "2024-01-03", "2024-01-04"):
        generate_trades(archive_root, MARKET, "BTCUSDT", day, 300)
    generate_trades(archive_root, MARKET, "ETHUSDT", "2024-01-03", 300)
    name = f"{GROUP}_republication"
    with ArchiveServer(archive_root, page_size=3) as server, instance_for_test() as instance:
        defs = _definitions(_resources(server.url, data_store, tmp_path / "alerts.jsonl"))
        for key in ("2024-01-02|BTCUSDT", "2024-01-03|BTCUSDT", "2024-01-03|ETHUSDT"):
            _materialize(defs, key, instance)

        quiet = _evaluate(defs, name, instance)
        assert quiet.run_requests == [] and "no re-published files among 3 compared" in quiet.skip_message

        old = (archive_root / "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2024-01-03.zip.CHECKSUM").read_text()
        generate_trades(archive_root, MARKET, "BTCUSDT", "2024-01-03", 310, seed=7)  # Binance re-uploads the day
        assert (archive_root / "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2024-01-03.zip.CHECKSUM"
                ).read_text() != old
        changed = _evaluate(defs, name, instance, quiet.cursor)
        assert [r.partition_key for r in changed.run_requests] == ["2024-01-03|BTCUSDT"]
        request = changed.run_requests[0]
        assert request.tags["hedgegrid/trigger"] == "republication"
        assert request.tags["hedgegrid/change"].startswith(("size", "ETag"))
        assert request.job_name in (None, f"{GROUP}_daily")
        # the listing was paged from the first materialized day on, not from the symbol's first file
        assert any("marker=" in path for _, path in server.requests)

        _materialize(defs, request.partition_key, instance)  # what the daemon would launch: the whole group
        rows = instance.get_latest_materialization_event(AssetKey(f"{GROUP}_catalog")).asset_materialization
        assert rows.metadata["rows"].value == 310
        after = _evaluate(defs, name, instance, changed.cursor)
        assert after.run_requests == []


def test_round_robin_over_symbols(archive_root: Path, archive_server: ArchiveServer, data_store: DataStore,
                                  tmp_path: Path) -> None:
    for symbol in ("BTCUSDT", "ETHUSDT"):
        generate_trades(archive_root, MARKET, symbol, "2024-01-02", 100)
    settings = AutomationSettings(republication_symbols_per_tick=1)
    defs = _definitions(_resources(archive_server.url, data_store, tmp_path / "a.jsonl"), settings)
    with instance_for_test() as instance:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            _materialize(defs, f"2024-01-02|{symbol}", instance)
        seen = []
        cursor = None
        for _ in range(3):
            result = _evaluate(defs, f"{GROUP}_republication", instance, cursor)
            seen.append(result.skip_message.rsplit("(", 1)[1].rstrip(")"))
            cursor = result.cursor
    assert seen == ["BTCUSDT", "ETHUSDT", "BTCUSDT"]


def test_run_failure_sensor_records_and_posts_the_alert(archive_root: Path, archive_server: ArchiveServer,
                                                        data_store: DataStore, tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    with WebhookReceiver() as hook, instance_for_test() as instance:
        resources = _resources(archive_server.url, data_store, alerts, hook.url)
        defs = _definitions(resources)
        result = defs.resolve_job_def(f"{GROUP}_daily").execute_in_process(
            partition_key="2024-01-02|BTCUSDT", instance=instance, raise_on_error=False)  # not published: 404
        assert not result.success
        sensor = defs.get_repository_def().get_sensor_def("hedgegrid_run_failure_alerts")
        context = build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=result.get_run_failure_event(), dagster_instance=instance,
            dagster_run=result.dagster_run, resources={"hedgegrid_alerts": resources["hedgegrid_alerts"]})
        sensor(context)
        payloads = hook.payloads
    [alert] = read_alerts(alerts)
    assert payloads == [alert]
    assert alert["kind"] == "run_failure" and alert["details"]["partition"] == "2024-01-02|BTCUSDT"
    assert alert["details"]["steps"][0]["step"] == f"{GROUP}_days"  # the group's one step
    assert "BTCUSDT-trades-2024-01-02.zip.CHECKSUM: HTTP 404, not published (yet)" in alert["summary"]


def test_check_failure_sensor_alerts_once_per_failed_evaluation(data_store: DataStore, tmp_path: Path) -> None:
    @asset(check_specs=[AssetCheckSpec("values_positive", asset="demo_prices")],
           partitions_def=StaticPartitionsDefinition(["2024-01-02|BTCUSDT", "2024-01-03|BTCUSDT"]))
    def demo_prices() -> MaterializeResult:
        return MaterializeResult(check_results=[AssetCheckResult(
            check_name="values_positive", passed=False, description="3 prices ≤ 0", metadata={"bad_rows": 3})])

    alerts = tmp_path / "alerts.jsonl"
    defs = _definitions(_resources("http://127.0.0.1:9", data_store, alerts), extra_assets=[demo_prices])
    name = "hedgegrid_check_failure_alerts"
    with instance_for_test() as instance:
        assert materialize([demo_prices], instance=instance,  # a non-blocking check: the run succeeds
                           partition_key="2024-01-02|BTCUSDT").success
        first = _evaluate(defs, name, instance)
        assert first.cursor is not None
        second = _evaluate(defs, name, instance, first.cursor)
        assert "no new failed check evaluations" in second.skip_message
        assert materialize([demo_prices], instance=instance, partition_key="2024-01-03|BTCUSDT").success
        third = _evaluate(defs, name, instance, second.cursor)
    kinds = [(a["kind"], a["details"]["check"], [f["metadata"] for f in a["details"]["failures"]])
             for a in read_alerts(alerts)]
    assert kinds == [("check_failure", "values_positive", [{"bad_rows": 3}])] * 2
    assert third.cursor != first.cursor
    assert [a["summary"] for a in read_alerts(alerts)] == [
        f"check values_positive on demo_prices partition 2024-01-0{d}|BTCUSDT failed: 3 prices ≤ 0" for d in (2, 3)]


def test_universe_asset_lists_symbols_and_checks_the_configured_ones(archive_root: Path,
                                                                    archive_server: ArchiveServer,
                                                                    data_store: DataStore, tmp_path: Path) -> None:
    generate_trades(archive_root, MARKET, "BTCUSDT", "2024-01-03", 20)
    generate_trades(archive_root, MARKET, "BTCUSDT", "2024-01-02", 20)
    write_trades_day(archive_root, MARKET, "SOLUSDT", dt.date(2024, 2, 1), 20, price_precision=3, size_precision=0,
                     start_price="100")  # listed, not configured
    defs = _definitions(_resources(archive_server.url, data_store, tmp_path / "a.jsonl"))
    universe = defs.get_assets_def(AssetKey(f"{GROUP}_universe"))
    with instance_for_test() as instance:
        result = materialize([universe], instance=instance, resources=_resources(
            archive_server.url, data_store, tmp_path / "a.jsonl"))
        [check] = result.get_asset_check_evaluations()
        metadata = result.asset_materializations_for_node(f"{GROUP}_universe")[0].metadata
    assert metadata["symbols"].value == 2 and metadata["not_configured"].value == 1
    assert not check.passed and check.metadata["missing"].value == "ETHUSDT"
    listed = json.loads(universe_path(data_store.root, trades_feed(MARKET)).read_text())
    assert [(r["symbol"], r["first_date"]) for r in listed] == [("BTCUSDT", "2024-01-02"), ("SOLUSDT", "2024-02-01")]


def test_a_dataset_of_several_files_per_day(archive_root: Path, archive_server: ArchiveServer, data_store: DataStore,
                                            tmp_path: Path) -> None:
    """Klines with two archive intervals: published when both files are, rebuilt when either changes."""
    intervals = ("1m", "5m")
    feed = klines_feed(MARKET, intervals)
    assets = build_feed_assets(feed)
    assert (listing_root(feed), symbol_folder(feed, "BTCUSDT")) == (
        "data/futures/um/daily/klines/", "data/futures/um/daily/klines/BTCUSDT/1m/")
    resources = _resources(archive_server.url, data_store, tmp_path / "alerts.jsonl")
    automation = build_automation([feed], AutomationSettings(availability_window_days=2), resources=resources,
                                  alert_sensors=False)
    defs = Definitions(assets=[*assets, *automation["assets"]], resources=automation["resources"],
                       jobs=automation["jobs"], sensors=automation["sensors"], schedules=automation["schedules"],
                       executor=in_process_executor)

    def write(symbol: str, day: dt.date, interval: str, seed: int = 0) -> None:
        spec = symbol_spec(MARKET, symbol)
        write_kline_day(archive_root, MARKET, "klines", symbol, day, interval, seed=seed,
                        price_precision=spec.price_precision, volume_precision=spec.size_precision)

    yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    write("BTCUSDT", yesterday, "1m")
    write("BTCUSDT", yesterday, "5m")
    write("ETHUSDT", yesterday, "1m")  # its 5m file is not out yet
    with instance_for_test() as instance:
        available = _evaluate(defs, "binance_um_klines_availability", instance)
        assert [r.partition_key for r in available.run_requests] == [f"{yesterday}|BTCUSDT"]

        day = dt.date(2024, 1, 2)
        write("BTCUSDT", day, "1m")
        write("BTCUSDT", day, "5m")
        result = defs.resolve_job_def("binance_um_klines_daily").execute_in_process(
            partition_key=f"{day}|BTCUSDT", instance=instance)
        assert result.success
        assert _evaluate(defs, "binance_um_klines_republication", instance).run_requests == []
        write("BTCUSDT", day, "5m", seed=3)  # only the 5m file is re-published
        [request] = _evaluate(defs, "binance_um_klines_republication", instance).run_requests
    assert request.partition_key == f"{day}|BTCUSDT"
    assert "BTCUSDT-5m-2024-01-02.zip" not in request.tags["hedgegrid/change"]  # the reason, not the key
    assert request.run_key.count(":") == 1  # one changed file in the run key


def test_funding_month_files(archive_root: Path, archive_server: ArchiveServer, data_store: DataStore,
                             tmp_path: Path) -> None:
    """Funding days are due when their month ends: the days of a published month file are requested together,
    this month's days are not watched, and a re-published month file rebuilds every day built from it."""
    feed = funding_feed(MARKET)
    assets = build_feed_assets(feed)
    resources = _resources(archive_server.url, data_store, tmp_path / "alerts.jsonl")
    automation = build_automation([feed], AutomationSettings(max_requests_per_tick=40), resources=resources,
                                  alert_sensors=False)
    assert automation["schedules"] == []  # no nightly run: the file of the day just ended is not out for weeks
    defs = Definitions(assets=[*assets, *automation["assets"]], resources=automation["resources"],
                       jobs=automation["jobs"], sensors=automation["sensors"], executor=in_process_executor)

    this_month = dt.datetime.now(dt.timezone.utc).date().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    write_funding_month(archive_root, MARKET, "BTCUSDT", last_month)
    with instance_for_test() as instance:
        available = _evaluate(defs, "binance_um_funding_rate_availability", instance)
        days = [last_month + dt.timedelta(days=n) for n in range((this_month - last_month).days)]
        assert [r.partition_key for r in available.run_requests] == [f"{day}|BTCUSDT" for day in days]

        month = dt.date(2024, 2, 1)
        write_funding_month(archive_root, MARKET, "BTCUSDT", month)
        job = defs.resolve_job_def("binance_um_funding_rate_daily")
        for day in (dt.date(2024, 2, 10), dt.date(2024, 2, 11)):
            assert job.execute_in_process(partition_key=f"{day}|BTCUSDT", instance=instance).success
        assert _evaluate(defs, "binance_um_funding_rate_republication", instance).run_requests == []
        write_funding_month(archive_root, MARKET, "BTCUSDT", month, seed=3)
        rebuilt = _evaluate(defs, "binance_um_funding_rate_republication", instance).run_requests
    assert [r.partition_key for r in rebuilt] == ["2024-02-10|BTCUSDT", "2024-02-11|BTCUSDT"]
