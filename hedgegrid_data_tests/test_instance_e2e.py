"""The embedded profile deployed as an operator would (the repository's ``dagster.yaml``, ``dagster-webserver`` +
``dagster-daemon run``), with credentials in its configuration: the archive mirror at
``http://user:<password>@…`` (it refuses requests without them) and a webhook whose path is its key, answering
500 so every alert POST fails.

One deployment serves every test: a run that succeeds, a run that fails (its day is not published), and a run
whose process is killed with SIGKILL while it downloads. Then neither secret may appear in the run storage, the
compute logs, the daemon's and webserver's logs, any file of the data directory, or what the webserver's GraphQL
API answers (resources page, launchpad defaults, runs, event logs, asset metadata, sensor ticks).

Waits are bounded and report the last state and the processes' logs; no assertion is about time.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hedgegrid_data.automation.alerts import read_alerts
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.testing.archive_server import ArchiveServer, Fault
from hedgegrid_data.testing.dagster_stack import DagsterStack
from hedgegrid_data.testing.webhook_receiver import WebhookReceiver
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import REPO_ROOT, generate_trades

PASSWORD = "s3cretpw"
WEBHOOK_KEY = "hk7Qz2Lm9Xv4Rt6Yp1Wd8Nc3"
SECRETS = {"archive password": PASSWORD, "webhook key": WEBHOOK_KEY,
           "basic-auth header": base64.b64encode(f"user:{PASSWORD}".encode()).decode()}
JOB = "binance_um_trades_daily"
SUCCEEDS, FAILS, KILLED = "2024-01-02|BTCUSDT", "2024-01-04|BTCUSDT", "2024-01-03|BTCUSDT"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
TIMEOUT = 300.0

@dataclass
class Deployment:
    stack: DagsterStack
    data_dir: Path
    server: ArchiveServer
    webhook: WebhookReceiver
    runs: dict[str, str] = field(default_factory=dict)  # partition → run id
    killed_messages: list[str] = field(default_factory=list)
    slots_held_when_killed: list[str] = field(default_factory=list)  # run ids holding a binance_http slot


def _pid_of_run(stack: DagsterStack, run_id: str) -> int | None:
    for message in stack.run_messages(run_id):
        if found := re.search(r"Executing steps in process \(pid: (\d+)\)", message):
            return int(found.group(1))
    return None


def _download_slot_holders(stack: DagsterStack) -> list[str]:
    data = stack.graphql("""{ instance { concurrencyLimit(concurrencyKey: "binance_http") {
        claimedSlots { runId } } } }""")
    return [slot["runId"] for slot in data["instance"]["concurrencyLimit"]["claimedSlots"]]


def _wait_finished(stack: DagsterStack, run_id: str) -> str:
    return stack.wait_for(lambda: (s := stack.run_status(run_id)) in FINISHED and s, TIMEOUT, f"run {run_id}",
                          interval=1.0)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("instance_e2e")
    archive = tmp / "archive"
    for partition in (SUCCEEDS, KILLED):
        generate_trades(archive, Market.USDM, "BTCUSDT", partition.split("|")[0], 2_000)
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    with ArchiveServer(archive, credentials=("user", PASSWORD)) as server, \
            WebhookReceiver(status=500, path=f"/services/T0HEDGE01/B0HEDGE02/{WEBHOOK_KEY}") as webhook:
        env = {"HEDGEGRID_DATA_DIR": str(tmp / "data"), "HEDGEGRID_BINANCE_URL": server.url_with_credentials,
               "HEDGEGRID_BINANCE_LISTING_URL": server.url_with_credentials, "HEDGEGRID_ALERT_WEBHOOK": webhook.url}
        stack = DagsterStack(home, "hedgegrid_data_tests.e2e_location", env, python_path=REPO_ROOT)
        try:
            stack.start()
            deployed = Deployment(stack, tmp / "data", server, webhook)
            for partition in (SUCCEEDS, FAILS):
                deployed.runs[partition] = stack.launch_job_run(JOB, partition)
            for partition in (SUCCEEDS, FAILS):
                _wait_finished(stack, deployed.runs[partition])

            # a run killed while it downloads: its CHECKSUM request hangs until the process is gone
            checksum_key = ArchiveFile(Market.USDM, "trades", "BTCUSDT", dt.date(2024, 1, 3)).checksum_key
            server.inject(checksum_key, Fault.delay(TIMEOUT))
            run_id = deployed.runs[KILLED] = stack.launch_job_run(JOB, KILLED)
            pid = stack.wait_for(lambda: any(path == f"/{checksum_key}" for _, path in server.requests)
                                 and _pid_of_run(stack, run_id), TIMEOUT, "the run downloading")
            deployed.slots_held_when_killed = _download_slot_holders(stack)
            os.kill(pid, signal.SIGKILL)
            _wait_finished(stack, run_id)
            deployed.killed_messages = stack.run_messages(run_id)

            def alerted() -> bool:  # every failed run alerted (and its webhook POST failed and was logged)
                alerts = read_alerts(deployed.data_dir / "alerts.jsonl")
                failed = {a["details"]["partition"] for a in alerts if a["kind"] == "run_failure"}
                return {FAILS, KILLED} <= failed and len(webhook.payloads) >= len(alerts)

            stack.wait_for(alerted, TIMEOUT, "the run failure alerts", interval=2.0)
            yield deployed
        finally:
            stack.stop()


def _files_containing_secrets(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        leaked = [name for name, secret in SECRETS.items() if secret.encode() in data]
        if leaked:
            found[str(path.relative_to(root))] = leaked
    return found


def _leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def test_the_runs_ran_authenticated_and_the_killed_run_is_marked_failed(deployment: Deployment) -> None:
    stack = deployment.stack
    assert stack.run_status(deployment.runs[SUCCEEDS]) == "SUCCESS", stack.logs()
    assert stack.run_status(deployment.runs[FAILS]) == "FAILURE"
    assert stack.run_status(deployment.runs[KILLED]) == "FAILURE"
    assert any("was terminated by signal 9" in m for m in deployment.killed_messages), deployment.killed_messages
    assert (stack.home / "history" / "runs.db").exists()


def test_a_killed_run_gives_its_download_slot_back(deployment: Deployment) -> None:
    """The killed run held a ``binance_http`` pool slot; run monitoring frees it once the run has ended."""
    stack = deployment.stack
    assert deployment.slots_held_when_killed == [deployment.runs[KILLED]]
    stack.wait_for(lambda: not _download_slot_holders(stack), TIMEOUT, "the killed run's pool slot to be freed",
                   interval=2.0)


def test_the_resources_page_shows_variable_names(deployment: Deployment) -> None:
    stack = deployment.stack
    data = stack.graphql("""query($r: RepositorySelector!) { allTopLevelResourceDetailsOrError(repositorySelector: $r) {
        ... on ResourceDetailsList { results { name configuredValues { key value type } } } } }""",
                         {"r": stack.repository_selector(JOB)})
    values = {(r["name"], v["key"]): (v["type"], v["value"])
              for r in data["allTopLevelResourceDetailsOrError"]["results"] for v in r["configuredValues"]}
    assert values[("binance_archive", "base_url")] == ("ENV_VAR", "HEDGEGRID_BINANCE_URL")
    assert values[("binance_listing", "listing_url")] == ("ENV_VAR", "HEDGEGRID_BINANCE_LISTING_URL")
    assert values[("hedgegrid_alerts", "webhook_url")] == ("ENV_VAR", "HEDGEGRID_ALERT_WEBHOOK")
    assert not _leaks(json.dumps(data))


def test_a_failed_webhook_post_is_logged_without_the_webhook_key(deployment: Deployment) -> None:
    host = deployment.webhook.url.split("/services/")[0]
    line = f"alert webhook {host}/*** failed: HTTP 500".encode()
    assert deployment.webhook.payloads
    logged = [p for p in deployment.stack.home.rglob("*") if p.is_file() and line in p.read_bytes()]
    assert logged, f"no file under DAGSTER_HOME logs {line!r}"


_EVENT_TEXT = """
    ... on MessageEvent { message }
    ... on ErrorEvent { error { message stack causes { message stack } } }
    ... on ExecutionStepFailureEvent { failureMetadata { metadataEntries { ...entry } } }
    ... on MaterializationEvent { metadataEntries { ...entry } }
"""
_METADATA_ENTRY = """fragment entry on MetadataEntry { label description
    ... on TextMetadataEntry { text } ... on UrlMetadataEntry { url } ... on PathMetadataEntry { path }
    ... on JsonMetadataEntry { jsonString } ... on MarkdownMetadataEntry { mdStr } }"""


def _graphql_answers(stack: DagsterStack, run_ids: list[str]) -> dict[str, str]:
    """What the UI's pages load: resources, the launchpad's defaults, runs with their config and events, asset
    materializations' metadata, sensor ticks, the instance page."""
    repository = stack.repository_selector(JOB)
    answers = {
        "resources": stack.graphql("""query($r: RepositorySelector!) {
            allTopLevelResourceDetailsOrError(repositorySelector: $r) { ... on ResourceDetailsList { results {
                name configFields { name defaultValueAsJson } configuredValues { key value } } } }
            utilizedEnvVarsOrError(repositorySelector: $r) { ... on EnvVarWithConsumersList { results { envVarName } } }
        }""", {"r": repository}),
        "launchpad": stack.graphql("""query($s: PipelineSelector!) { runConfigSchemaOrError(selector: $s) {
            ... on RunConfigSchema { rootDefaultYaml } } }""", {"s": {**repository, "pipelineName": JOB}}),
        "runs": stack.graphql("""{ runsOrError { ... on Runs { results { runId status runConfigYaml
            tags { key value } } } } }"""),
        "instance": stack.graphql("{ instance { info } }"),
        "assets": stack.graphql("""{ assetNodes { assetKey { path } assetMaterializations(limit: 10) {
            metadataEntries { ...entry } } } }""" + _METADATA_ENTRY),
        "sensors": stack.graphql("""query($r: RepositorySelector!) { sensorsOrError(repositorySelector: $r) {
            ... on Sensors { results { name sensorState { ticks(limit: 10) { status skipReason
                error { message stack } } } } } } }""", {"r": repository}),
    }
    for run_id in run_ids:
        answers[f"events of {run_id}"] = stack.graphql(
            "query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {" + _EVENT_TEXT
            + "} } } }" + _METADATA_ENTRY, {"id": run_id})
    return {name: json.dumps(answer) for name, answer in answers.items()}


def test_no_secret_in_the_webservers_graphql_answers(deployment: Deployment) -> None:
    answers = _graphql_answers(deployment.stack, list(deployment.runs.values()))
    assert deployment.runs[SUCCEEDS] in answers["runs"]
    assert "127.0.0.1" in answers["assets"]  # the raw asset's url metadata is there, redacted
    leaks = {name: _leaks(text) for name, text in answers.items() if _leaks(text)}
    assert leaks == {}


def test_no_secret_in_the_run_storage_compute_logs_or_process_logs(deployment: Deployment) -> None:
    assert _files_containing_secrets(deployment.stack.home) == {}


def test_no_secret_in_the_data_directory(deployment: Deployment) -> None:
    assert list(deployment.data_dir.rglob("*.provenance.json"))
    assert _files_containing_secrets(deployment.data_dir) == {}
