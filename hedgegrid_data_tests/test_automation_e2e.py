"""End to end as the UI does it: ``dagster-webserver`` + ``dagster-daemon run`` on 127.0.0.1, a backfill of
3 days × 2 symbols launched through the GraphQL mutation the UI sends, on the embedded SQLite profile and on
the PostgreSQL production profile; on the SQLite profile then a backfill of 3 days whose middle day is bad;
then a real headless Chromium renders the catalog asset's checks and a failed day's check.

Waits are bounded (the backfill gets 5 minutes) and report the last state and the processes' logs; no
assertion is about time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest

from hedgegrid_data.automation.alerts import read_alerts
from hedgegrid_data.testing.archive_generator import GeneratedDay, read_csv_text, replace_csv
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.testing.dagster_stack import DagsterStack
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import REPO_ROOT, generate_trades

GROUP = "binance_um_trades"
ASSETS = [f"{GROUP}_raw", f"{GROUP}_normalized", f"{GROUP}_catalog"]
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04"]
SYMBOLS = {"BTCUSDT": "BTCUSDT-PERP.BINANCE", "ETHUSDT": "ETHUSDT-PERP.BINANCE"}
PARTITIONS = [f"{day}|{symbol}" for day in DAYS for symbol in SYMBOLS]
CHECKS = {f"{GROUP}_raw": "checksum_verified", f"{GROUP}_normalized": "schema_valid",
          f"{GROUP}_catalog": "rows_in_equals_rows_out"}
# a second backfill (SQLite profile): one run of three days, the middle one missing 100 trade ids (blocking)
BAD_DAYS = ["2024-01-08", "2024-01-09", "2024-01-10"]
BAD = "2024-01-09|BTCUSDT"
BAD_PARTITIONS = [f"{day}|BTCUSDT" for day in BAD_DAYS]
YESTERDAY = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
BACKFILL_TIMEOUT = 300.0
ARTIFACTS = REPO_ROOT / "test-artifacts"
PG_ADMIN_URL = os.environ.get("HEDGEGRID_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@dataclass
class Deployment:
    stack: DagsterStack
    data_dir: Path
    backfill_id: str = ""
    status: str = ""
    availability_run: dict | None = None
    bad_backfill_id: str = ""
    bad_status: str = ""


@pytest.fixture(scope="module")
def e2e_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e_archive")
    for day in DAYS:
        for symbol in SYMBOLS:
            generate_trades(root, Market.USDM, symbol, day, 2_000)
    generate_trades(root, Market.USDM, "BTCUSDT", YESTERDAY, 2_000)  # for the availability sensor
    for day in BAD_DAYS:
        generated = generate_trades(root, Market.USDM, "BTCUSDT", day, 2_000)
        if f"{day}|BTCUSDT" == BAD:
            _bad_day[0] = (generated, read_csv_text(generated.zip_path))
            rows = _bad_day[0][1].splitlines()
            replace_csv(generated, "\n".join(rows[:500] + rows[600:]) + "\n")
    return root


_bad_day: list[tuple[GeneratedDay, str]] = [None]  # type: ignore[list-item]  # the bad day and its good text


def _postgres_database(stack: ExitStack) -> str:
    """A fresh database (or, without CREATEDB, a fresh schema) on the local PostgreSQL, dropped at the end;
    skips when dagster-postgres is missing or no server answers at ``HEDGEGRID_TEST_PG_URL``."""
    pytest.importorskip("dagster_postgres", reason="dagster-postgres is not installed (pip install "
                                                   "dagster-postgres==0.29.27 for the production profile)")
    import sqlalchemy

    admin = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    stack.callback(admin.dispose)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("select 1")
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL reachable at {PG_ADMIN_URL} ({str(exc).splitlines()[0]})")
    name = f"hedgegrid_e2e_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.DBAPIError:  # no CREATEDB privilege: a fresh schema in the given database instead
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')

        def drop_schema() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

        stack.callback(drop_schema)
        return admin.url.set(query={"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)

    def drop_database() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.callback(drop_database)
    return admin.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory, e2e_archive: Path) -> Iterator[dict[str, Deployment | str]]:
    """Both profiles deployed side by side, the same backfill launched on each, both awaited.

    Values are a ``Deployment``, or the reason the profile could not be deployed here (a skip).
    """
    profiles: dict[str, tuple[Path, dict[str, str]]] = {"sqlite": (REPO_ROOT / "dagster.yaml", {})}
    with ExitStack() as cleanup:
        result: dict[str, Deployment | str] = {}
        try:
            pg_url = _postgres_database(cleanup)
            profiles["postgres"] = (REPO_ROOT / "deploy" / "dagster.production.yaml", {"DAGSTER_PG_URL": pg_url})
        except pytest.skip.Exception as skip:
            result["postgres"] = str(skip)
        server = cleanup.enter_context(ArchiveServer(e2e_archive))
        for name, (profile, env) in profiles.items():
            tmp = tmp_path_factory.mktemp(f"e2e_{name}")
            home = tmp / "dagster_home"
            home.mkdir()
            shutil.copy(profile, home / "dagster.yaml")
            stack_env = {"HEDGEGRID_DATA_DIR": str(tmp / "data"), "HEDGEGRID_BINANCE_URL": server.url,
                         "HEDGEGRID_BINANCE_LISTING_URL": server.url, "HEDGEGRID_ALERT_WEBHOOK": "", **env}
            stack = DagsterStack(home, "hedgegrid_data_tests.e2e_location", stack_env, python_path=REPO_ROOT)
            cleanup.callback(stack.stop)
            result[name] = Deployment(stack.start_webserver(), tmp / "data")
        live = [d for d in result.values() if isinstance(d, Deployment)]
        for deployment in live:
            deployment.stack.wait_ready()
            deployment.backfill_id = deployment.stack.launch_partition_backfill(ASSETS, PARTITIONS)
            deployment.stack.start_daemon()
        for deployment in live:
            stack, backfill_id = deployment.stack, deployment.backfill_id

            def finished() -> str | None:
                status = stack.backfill_status(backfill_id)
                return status if status in TERMINAL else None

            deployment.status = stack.wait_for(finished, BACKFILL_TIMEOUT, f"backfill {backfill_id}", interval=2.0)
            deployment.availability_run = stack.wait_for(
                lambda: _finished_availability_run(stack), BACKFILL_TIMEOUT, "the availability sensor's run",
                interval=2.0)
        sqlite = result.get("sqlite")
        if isinstance(sqlite, Deployment):  # a bad day in a multi-day run
            stack = sqlite.stack
            sqlite.bad_backfill_id = stack.launch_partition_backfill(ASSETS, BAD_PARTITIONS)
            sqlite.bad_status = stack.wait_for(
                lambda: (s := stack.backfill_status(sqlite.bad_backfill_id)) in TERMINAL and s, BACKFILL_TIMEOUT,
                f"backfill {sqlite.bad_backfill_id}", interval=2.0)
        yield result


def _finished_availability_run(stack: DagsterStack) -> dict | None:
    runs = stack.runs_with_tag("hedgegrid/trigger", "availability")
    done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
    return done[0] if done and len(done) == len(runs) else None


def _deployment(deployments: dict[str, Deployment | str], name: str) -> Deployment:
    deployment = deployments[name]
    if not isinstance(deployment, Deployment):
        pytest.skip(deployment)
    return deployment


def _day_file(day: str | dt.date) -> str:
    return f"{day}T00-00-00-000000000Z_{day}T23-59-59-999999999Z.parquet"


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def _assert_backfill_succeeded(deployment: Deployment) -> None:
    stack = deployment.stack
    assert deployment.status == "COMPLETED_SUCCESS", stack.logs()
    runs = stack.runs_with_tag("dagster/backfill", deployment.backfill_id)
    # few runs: one per symbol, each a range of that symbol's days (BackfillPolicy.multi_run)
    assert len(runs) == len(SYMBOLS), runs
    ranges = sorted((_tags(r)["dagster/asset_partition_range_start"], _tags(r)["dagster/asset_partition_range_end"])
                    for r in runs)
    assert ranges == sorted((f"{DAYS[0]}|{symbol}", f"{DAYS[-1]}|{symbol}") for symbol in SYMBOLS)
    assert {r["status"] for r in runs} == {"SUCCESS"}, runs

    for instrument_id in SYMBOLS.values():
        day_files = {p.name for p in (deployment.data_dir / "catalog/data/trade_tick" / instrument_id).glob(
            "*.parquet")} - {_day_file(YESTERDAY)} - {_day_file(day) for day in BAD_DAYS}
        # yesterday's comes from the availability sensor's run, the BAD_DAYS from the second backfill
        assert sorted(day_files) == [_day_file(day) for day in DAYS]

    # every check of the three assets was evaluated for every partition, and each result is visible through
    # GraphQL with its partition; the pipeline's own blocking checks passed
    run_ids = {r["runId"] for r in runs}
    for asset_key, check_name in CHECKS.items():
        checks = {c["name"]: c for c in stack.asset_checks(asset_key)}
        assert check_name in checks and checks[check_name]["blocking"]
        for name in checks:
            executions = [e for e in stack.check_executions(asset_key, name) if e["runId"] in run_ids]
            assert sorted(e["partition"] for e in executions) == sorted(PARTITIONS), (asset_key, name, executions)
            assert {e["status"] for e in executions} <= {"SUCCEEDED", "FAILED"}, (asset_key, name, executions)
        own = stack.check_executions(asset_key, check_name)
        assert {e["status"] for e in own if e["runId"] in run_ids} == {"SUCCEEDED"}, (asset_key, check_name, own)


def _assert_automation_ran_in_the_daemon(deployment: Deployment) -> None:
    """Sensors start RUNNING: the availability sensor requested the published day, alerts were recorded."""
    run = deployment.availability_run
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert (run["jobName"], tags["dagster/partition"], run["status"]) == (
        f"{GROUP}_daily", f"{YESTERDAY}|BTCUSDT", "SUCCESS")
    alerts = read_alerts(deployment.data_dir / "alerts.jsonl")
    late = {a["details"]["dataset"] for a in alerts if a["kind"] == "late_day"}
    assert "binance_spot_trades" in late  # nothing spot is published in this archive


def test_ui_backfill_on_the_embedded_sqlite_profile(deployments: dict[str, Deployment | str]) -> None:
    deployment = _deployment(deployments, "sqlite")
    _assert_backfill_succeeded(deployment)
    _assert_automation_ran_in_the_daemon(deployment)
    assert (deployment.stack.home / "history" / "runs.db").exists()  # the repository's dagster.yaml: in DAGSTER_HOME


def test_ui_backfill_on_the_postgres_production_profile(deployments: dict[str, Deployment | str]) -> None:
    deployment = _deployment(deployments, "postgres")
    _assert_backfill_succeeded(deployment)
    _assert_automation_ran_in_the_daemon(deployment)
    assert not (deployment.stack.home / "history").exists()  # nothing went to SQLite
    import sqlalchemy

    engine = sqlalchemy.create_engine(deployment.stack.env["DAGSTER_PG_URL"])
    with engine.connect() as conn:
        backfill_runs = conn.exec_driver_sql(
            "select count(*) from run_tags where key = 'dagster/backfill' and value = %(id)s",
            {"id": deployment.backfill_id}).scalar_one()
    engine.dispose()
    assert backfill_runs == len(SYMBOLS)  # one run per symbol's range of days


def test_a_bad_day_in_a_multi_day_run_fails_alone(deployments: dict[str, Deployment | str]) -> None:
    deployment = _deployment(deployments, "sqlite")
    stack = deployment.stack
    assert deployment.bad_status in ("COMPLETED_FAILED", "FAILED"), (deployment.bad_status, stack.logs())
    [run] = stack.runs_with_tag("dagster/backfill", deployment.bad_backfill_id)  # the three days in one run
    assert run["status"] == "FAILURE"
    assert (_tags(run)["dagster/asset_partition_range_start"], _tags(run)["dagster/asset_partition_range_end"]) == (
        BAD_PARTITIONS[0], BAD_PARTITIONS[-1])
    # the good days are in the catalog, the bad one is not
    day_files = {p.name for p in (deployment.data_dir / "catalog/data/trade_tick/BTCUSDT-PERP.BINANCE").glob("*.parquet")}
    assert [_day_file(day) in day_files for day in BAD_DAYS] == [True, False, True]
    # the partition view: the good days materialized, the bad day failed
    assert _partition_states(stack, f"{GROUP}_catalog", BAD_PARTITIONS) == {
        BAD_PARTITIONS[0]: "SUCCESS", BAD: "FAILED", BAD_PARTITIONS[2]: "SUCCESS"}
    # the checks of each day, with their partition: trade_id_gaps failed on the bad day only
    gaps = {e["partition"]: e["status"] for e in stack.check_executions(f"{GROUP}_normalized", "trade_id_gaps")
            if e["runId"] == run["runId"]}
    assert gaps == {BAD_PARTITIONS[0]: "SUCCEEDED", BAD: "FAILED", BAD_PARTITIONS[2]: "SUCCEEDED"}
    integrity = {e["partition"]: e["status"] for e in stack.check_executions(f"{GROUP}_catalog", "catalog_integrity")
                 if e["runId"] == run["runId"]}
    assert {k: v for k, v in integrity.items() if v == "SUCCEEDED"} == {
        BAD_PARTITIONS[0]: "SUCCEEDED", BAD_PARTITIONS[2]: "SUCCEEDED"}
    # the failed-run alert names the range and the bad day
    alerts = stack.wait_for(lambda: [a for a in read_alerts(deployment.data_dir / "alerts.jsonl")
                                     if a["kind"] == "run_failure" and a["details"]["run_id"] == run["runId"]],
                            BACKFILL_TIMEOUT, "the run failure alert")
    assert alerts[0]["details"]["partition"] == f"{BAD_PARTITIONS[0]}...{BAD_PARTITIONS[-1]}"
    assert BAD in alerts[0]["summary"] and "1 of 3 partition(s) failed" in alerts[0]["summary"]
    assert "trade_id_gaps" in alerts[0]["details"]["steps"][0]["error"]


def _partition_states(stack: DagsterStack, asset_key: str, partitions: list[str]) -> dict[str, str]:
    """What the asset's partition view shows for ``partitions`` (GraphQL ``assetPartitionStatuses``)."""
    data = stack.graphql("""query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
        assetPartitionStatuses { __typename ... on MultiPartitionStatuses { ranges {
            primaryDimStartKey primaryDimEndKey
            secondaryDim { __typename ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } } } } } } } }""",
                         {"k": {"path": [asset_key]}})
    states: dict[str, str] = {}
    for r in data["assetNodeOrError"]["assetPartitionStatuses"]["ranges"]:
        secondary = r["secondaryDim"]
        for key in partitions:
            day, symbol = key.split("|")
            if r["primaryDimStartKey"] <= day <= r["primaryDimEndKey"]:
                if symbol in secondary.get("failedPartitions", []):
                    states[key] = "FAILED"
                elif symbol in secondary.get("materializedPartitions", []):
                    states[key] = "SUCCESS"
    return states


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium)")


def _chromium_run(url: str, profile_dir: Path, *action: str) -> subprocess.CompletedProcess[str]:
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile_dir}", "--window-size=1600,1000",
            "--virtual-time-budget=15000", *action, url]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _visible_text(html: str) -> list[str]:
    """The page's text nodes in document order (scripts and styles dropped)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return [line.strip() for line in unescape(re.sub(r"<[^>]+>", "\n", html)).splitlines() if line.strip()]


def test_browser_renders_the_catalog_checks(deployments: dict[str, Deployment | str], tmp_path: Path) -> None:
    sqlite_deployment = _deployment(deployments, "sqlite")
    chromium = _chromium()
    assert chromium
    stack = sqlite_deployment.stack
    # Runs ran concurrently, so "the latest materialization" and "the latest check evaluation" may belong to
    # different runs (the UI then shows the check as not evaluated). Rebuild one day alone, as a user would
    # from the job's launchpad, so the page's latest state is that run's.
    run_id = stack.launch_job_run(f"{GROUP}_daily", PARTITIONS[0])
    status = stack.wait_for(lambda: (s := stack.run_status(run_id)) in ("SUCCESS", "FAILURE", "CANCELED") and s,
                            BACKFILL_TIMEOUT, f"run {run_id}")
    assert status == "SUCCESS", stack.logs()
    # what clicking "Skip" on the UI's first-visit community dialog sends, so the page is unobstructed
    stack.graphql("mutation { setNuxSeen }")
    url = f"{sqlite_deployment.stack.url}/assets/{GROUP}_catalog?view=checks&checkDetail=rows_in_equals_rows_out"
    dom = _chromium_run(url, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    text = _visible_text(html)
    # the check list: every check of the catalog asset with its latest status, then the selected check's detail
    checks = {c["name"]: c for c in sqlite_deployment.stack.asset_checks(f"{GROUP}_catalog")}
    assert f"Checks ({len(checks)})" in text, text
    for name, check in checks.items():  # each check listed with the status GraphQL reports for it
        assert name in text, (name, text)
        status = next(item for item in text[text.index(name):] if item != name)
        # partitioned checks: FAILED while any day's evaluation failed (the second backfill's bad day)
        assert status.upper() == stack.check_list_status(check), (name, status, check, text)
    assert checks["rows_in_equals_rows_out"]["executionForLatestMaterialization"]["status"] == "SUCCEEDED"
    assert "Evaluation result" in text and text[text.index("Evaluation result") + 1] == "Passed", text
    assert "Join the Dagster community" not in text

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "catalog_checks.png"
    screenshot.unlink(missing_ok=True)
    shot = _chromium_run(url, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    assert shot.returncode == 0 and screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]


def test_browser_shows_a_failed_days_check(deployments: dict[str, Deployment | str], tmp_path: Path) -> None:
    """The bad day of the multi-day run, re-run alone from the launchpad (still bad): its check shows failed with
    its partition on the Checks tab; fixed at the source, it re-runs alone into the catalog."""
    deployment = _deployment(deployments, "sqlite")
    _chromium()
    stack = deployment.stack
    run_id = stack.launch_job_run(f"{GROUP}_daily", BAD)
    status = stack.wait_for(lambda: (s := stack.run_status(run_id)) in ("SUCCESS", "FAILURE", "CANCELED") and s,
                            BACKFILL_TIMEOUT, f"run {run_id}")
    assert status == "FAILURE", stack.logs()
    stack.graphql("mutation { setNuxSeen }")
    url = f"{stack.url}/assets/{GROUP}_normalized?view=checks&checkDetail=trade_id_gaps"
    dom = _chromium_run(url, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = _visible_text(dom.stdout)
    listed = text.index("trade_id_gaps")
    assert text[listed + 2] == "Failed", text  # the check list: name (icon label), name, latest status
    assert "Latest execution" in text, text
    latest = text[text.index("Latest execution"):]
    assert "100 missing trade ids in 1 gaps" in latest, latest
    assert latest[latest.index("Evaluation result") + 1] == "Failed", latest
    assert latest[latest.index("Partition") + 1] == BAD, latest
    assert latest[latest.index("missing_ids") + 1] == "100", latest

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "failed_day_check.png"
    screenshot.unlink(missing_ok=True)
    shot = _chromium_run(url, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    assert shot.returncode == 0 and screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]

    # fixed at the source, the day re-runs alone and joins the catalog
    generated, good_text = _bad_day[0]
    replace_csv(generated, good_text)
    run_id = stack.launch_job_run(f"{GROUP}_daily", BAD)
    status = stack.wait_for(lambda: (s := stack.run_status(run_id)) in ("SUCCESS", "FAILURE", "CANCELED") and s,
                            BACKFILL_TIMEOUT, f"run {run_id}")
    assert status == "SUCCESS", stack.logs()
    assert _partition_states(stack, f"{GROUP}_catalog", [BAD]) == {BAD: "SUCCESS"}
