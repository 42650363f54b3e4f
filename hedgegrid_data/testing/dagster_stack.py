"""A real Dagster deployment on 127.0.0.1 for tests: ``dagster-webserver`` + ``dagster-daemon run``.

``DagsterStack`` starts both against one ``DAGSTER_HOME`` (the caller's ``dagster.yaml``), waits until the
code location is loaded, and talks to the webserver's GraphQL API the way the UI does. Processes run in
their own session and are stopped by process group on exit (the webserver and daemon spawn code servers
and run workers).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StackError(AssertionError):
    """The deployment did not reach the expected state; carries the logs' tails."""


class DagsterStack:
    def __init__(self, home: Path, module: str, env: Mapping[str, str], *, python_path: Path | None = None):
        self.home = home
        self.module = module
        self.port = free_port()
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
        if python_path is not None:
            self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python_path), self.env.get("PYTHONPATH")]))
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._client = httpx.Client(timeout=60.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _start(self, name: str, args: list[str]) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self._processes[name] = subprocess.Popen(
            args, cwd=self.home, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_webserver(self) -> DagsterStack:
        self._start("webserver", [str(Path(sys.executable).parent / "dagster-webserver"), "-m", self.module,
                                  "-h", "127.0.0.1", "-p", str(self.port)])
        return self

    def start_daemon(self) -> DagsterStack:
        """The daemon runs schedules, sensors, backfills and the run queue. Its backfill loop ticks every 30 s
        from its start: started right after a backfill is launched, it picks that backfill up at once."""
        self._start("daemon", [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m", self.module])
        return self

    def wait_ready(self, timeout: float = 180.0) -> DagsterStack:
        self.wait_for(self._location_loaded, timeout, "code location loaded in the webserver")
        return self

    def start(self, timeout: float = 180.0) -> DagsterStack:
        """The webserver first: it creates a fresh instance's storage, which two processes creating it at once can
        leave with two schema heads; then the daemon."""
        return self.start_webserver().wait_ready(timeout).start_daemon()

    def stop(self) -> None:
        self._client.close()
        for process in self._processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def __enter__(self) -> DagsterStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def logs(self, chars: int = 3000) -> str:
        parts = []
        for name in self._processes:
            path = self.home / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {name} (exit {self._processes[name].poll()}) ---\n{text[-chars:]}")
        return "\n".join(parts)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._client.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}})
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise StackError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def wait_for(self, probe: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
        """Poll ``probe`` until it returns a truthy value; fail with its last answer and the logs' tails."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise StackError(f"{name} exited with {process.returncode} while waiting for {what}\n"
                                     + self.logs())
            try:
                last = probe()
            except (httpx.HTTPError, StackError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if last:
                    return last
            time.sleep(interval)
        raise StackError(f"timed out after {timeout:.0f} s waiting for {what}; last state: {last!r}\n" + self.logs())

    def _location_loaded(self) -> bool:
        data = self.graphql("""{ workspaceOrError { __typename ... on Workspace {
            locationEntries { name loadStatus
                locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
        entries = data["workspaceOrError"].get("locationEntries") or []
        errors = [e["locationOrLoadError"] for e in entries
                  if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"]
        if errors:
            raise StackError(f"code location failed to load: {errors[0]['message']}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)

    # ---- what the UI sends ----------------------------------------------------------------------------------

    def launch_partition_backfill(self, asset_keys: list[str], partition_names: list[str]) -> str:
        data = self.graphql(
            """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
                __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
            {"p": {"assetSelection": [{"path": [k]} for k in asset_keys], "partitionNames": partition_names}},
        )
        result = data["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise StackError(f"launchPartitionBackfill: {result}")
        return result["backfillId"]

    def repository_selector(self, job_name: str | None = None) -> dict[str, str]:
        """``repositoryLocationName`` and ``repositoryName`` of the repository holding ``job_name`` (else the first)."""
        repos = self.graphql("""{ repositoriesOrError { ... on RepositoryConnection {
            nodes { name location { name } pipelines { name } } } } }""")["repositoriesOrError"]["nodes"]
        repo = next(r for r in repos if job_name is None or any(p["name"] == job_name for p in r["pipelines"]))
        return {"repositoryLocationName": repo["location"]["name"], "repositoryName": repo["name"]}

    def launch_job_run(self, job_name: str, partition_key: str) -> str:
        """What the UI's launchpad sends to run a job for one partition; returns the run id."""
        data = self.graphql(
            """mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) { __typename
                ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
                ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }""",
            {"p": {"selector": {**self.repository_selector(job_name), "jobName": job_name},
                   "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition_key}]},
                   "mode": "default"}},
        )
        result = data["launchPipelineExecution"]
        if result["__typename"] != "LaunchRunSuccess":
            raise StackError(f"launchPipelineExecution: {result}")
        return result["run"]["runId"]

    def run_status(self, run_id: str) -> str:
        data = self.graphql("""query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }""",
                            {"id": run_id})
        return data["runOrError"]["status"]

    def run_messages(self, run_id: str) -> list[str]:
        """The messages of a run's event log, as the UI's run page lists them."""
        data = self.graphql("""query($id: ID!) { logsForRun(runId: $id) { __typename
            ... on EventConnection { events { ... on MessageEvent { message } } } ... on PythonError { message } } }""",
                            {"id": run_id})["logsForRun"]
        if data["__typename"] != "EventConnection":
            raise StackError(f"logsForRun: {data}")
        return [event["message"] for event in data["events"] if event]

    def backfill_status(self, backfill_id: str) -> str:
        data = self.graphql("""query($id: String!) { partitionBackfillOrError(backfillId: $id) {
            __typename ... on PartitionBackfill { status } ... on PythonError { message } } }""", {"id": backfill_id})
        result = data["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise StackError(f"partitionBackfillOrError: {result}")
        return result["status"]

    def runs_with_tag(self, key: str, value: str) -> list[dict[str, Any]]:
        data = self.graphql("""query($f: RunsFilter) { runsOrError(filter: $f) { __typename ... on Runs {
            results { runId status jobName tags { key value } } } } }""",
                            {"f": {"tags": [{"key": key, "value": value}]}})
        return data["runsOrError"]["results"]

    def check_executions(self, asset_key: str, check_name: str, limit: int = 50) -> list[dict[str, Any]]:
        data = self.graphql("""query($k: AssetKeyInput!, $c: String!, $n: Int!) {
            assetCheckExecutions(assetKey: $k, checkName: $c, limit: $n) {
                runId status partition evaluation { severity } } }""",
                            {"k": {"path": [asset_key]}, "c": check_name, "n": limit})
        return data["assetCheckExecutions"]

    def asset_checks(self, asset_key: str) -> list[dict[str, Any]]:
        """Each check with its latest execution and, for a partitioned check, ``partitions``: partition →
        status (SUCCEEDED, FAILED, EXECUTION_FAILED, IN_PROGRESS, SKIPPED) from ``partitionStatuses``."""
        statuses = "succeededPartitions failedPartitions executionFailedPartitions inProgressPartitions skippedPartitions"
        data = self.graphql("""query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { __typename
            ... on AssetNode { assetChecksOrError { __typename ... on AssetChecks {
                checks { name blocking executionForLatestMaterialization { status partition }
                    partitionStatuses { __typename
                        ... on AssetCheckDefaultPartitionStatuses { %s }
                        ... on AssetCheckMultiPartitionStatuses { ranges { primaryDimStartKey primaryDimEndKey
                            secondaryDim { __typename ... on AssetCheckDefaultPartitionStatuses { %s } } } } }
                } } } } } }""" % (statuses, statuses), {"k": {"path": [asset_key]}})
        checks = data["assetNodeOrError"]["assetChecksOrError"]["checks"]
        for check in checks:
            found = check.pop("partitionStatuses")
            if found is None:
                continue
            partitions: dict[str, str] = {}
            for part in ([("", "", found)] if found["__typename"] == "AssetCheckDefaultPartitionStatuses" else
                         [(r["primaryDimStartKey"], r["primaryDimEndKey"], r["secondaryDim"]) for r in found["ranges"]]):
                start, end, secondary = part
                for field, status in (("succeededPartitions", "SUCCEEDED"), ("failedPartitions", "FAILED"),
                                      ("executionFailedPartitions", "EXECUTION_FAILED"),
                                      ("inProgressPartitions", "IN_PROGRESS"), ("skippedPartitions", "SKIPPED")):
                    for key in secondary.get(field) or []:
                        # a range of the primary (date) dimension × a secondary key; its ends name it
                        partitions[f"{start}..{end}|{key}" if start else key] = status
            check["partitions"] = partitions
        return checks

    @staticmethod
    def check_list_status(check: dict[str, Any]) -> str:
        """The status the UI's check list shows for ``check`` (one of ``asset_checks``): for a partitioned check,
        FAILED when any partition failed or failed to execute, then IN_PROGRESS, SKIPPED, SUCCEEDED (the rule of
        the 1.13 UI's AssetCheckTable); else its latest execution's."""
        partitions = check.get("partitions")
        if not partitions:
            return (check["executionForLatestMaterialization"] or {}).get("status", "NOT_EVALUATED")
        found = set(partitions.values())
        if found & {"FAILED", "EXECUTION_FAILED"}:
            return "FAILED"
        return next(s for s in ("IN_PROGRESS", "SKIPPED", "SUCCEEDED") if s in found)
