"""The instance storage ``dagster.yaml`` names (``hedgegrid_data/instance_storage.py``): Dagster's SQLite files,
read and written interchangeably with Dagster's own classes, with connections that stay open and bounded."""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from pathlib import Path

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    DailyPartitionsDefinition,
    MaterializeResult,
    PreviewWarning,
    asset,
    materialize,
)
from dagster._core.instance.ref import InstanceRef

from hedgegrid_data.instance_storage import (
    KEPT_DATABASES,
    KeptConnectionsSqliteEventLogStorage,
    KeptConnectionsSqliteRunStorage,
    KeptConnectionsSqliteScheduleStorage,
)
from hedgegrid_data_tests.conftest import REPO_ROOT

DAYS = DailyPartitionsDefinition(start_date="2024-01-01")


with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=PreviewWarning)  # partitioned checks, as the feeds' (assets/factory.py)
    ROWS_POSITIVE = AssetCheckSpec("rows_positive", asset="day_table", partitions_def=DAYS)


@asset(partitions_def=DAYS, check_specs=[ROWS_POSITIVE])
def day_table(context) -> MaterializeResult:
    return MaterializeResult(metadata={"day": context.partition_key},
                             check_results=[AssetCheckResult(passed=context.partition_key != "2024-01-03")])


def _instance(home: Path, config: str) -> DagsterInstance:
    return DagsterInstance.from_config(str(home), config_filename=config)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    (home / "dagster_default.yaml").write_text("telemetry:\n  enabled: false\n")  # Dagster's own classes
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the storage lives in the instance's directory, not the env's
    return home


def _run(instance: DagsterInstance, day: str) -> str:
    result = materialize([day_table], instance=instance, partition_key=day, raise_on_error=False)
    return result.run_id


def _checks(instance: DagsterInstance) -> list[tuple[str, str]]:
    history = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("day_table"), "rows_positive"), limit=10)
    return sorted((r.partition, r.status.value) for r in history)


def test_runs_written_by_either_storage_read_back_through_the_other(home: Path) -> None:
    ours, dagsters = _instance(home, "dagster.yaml"), _instance(home, "dagster_default.yaml")
    assert isinstance(ours.run_storage, KeptConnectionsSqliteRunStorage)
    assert isinstance(ours.event_log_storage, KeptConnectionsSqliteEventLogStorage)
    assert isinstance(ours.schedule_storage, KeptConnectionsSqliteScheduleStorage)
    assert type(dagsters.event_log_storage).__name__ == "SqliteEventLogStorage"
    assert ours.get_runs() == []  # our connections are open before the other storage writes

    first = _run(dagsters, "2024-01-02")
    second = _run(ours, "2024-01-03")
    third = _run(dagsters, "2024-01-04")

    for reader in (ours, dagsters):
        assert {r.run_id: r.status for r in reader.get_runs()} == {
            first: DagsterRunStatus.SUCCESS, second: DagsterRunStatus.SUCCESS, third: DagsterRunStatus.SUCCESS}
        assert reader.get_materialized_partitions(AssetKey("day_table")) == {"2024-01-02", "2024-01-03", "2024-01-04"}
        assert _checks(reader) == [("2024-01-02", "SUCCEEDED"), ("2024-01-03", "FAILED"), ("2024-01-04", "SUCCEEDED")]
        latest = reader.get_latest_materialization_event(AssetKey("day_table"))
        assert latest.run_id == third and latest.asset_materialization.metadata["day"].value == "2024-01-04"
        assert len(reader.all_logs(second)) == len(dagsters.all_logs(second)) > 10


def test_deleted_runs_and_a_wiped_instance_go_on_working(home: Path) -> None:
    ours = _instance(home, "dagster.yaml")
    kept = _run(ours, "2024-01-02")
    deleted = _run(ours, "2024-01-05")
    ours.delete_run(deleted)
    assert [r.run_id for r in ours.get_runs()] == [kept]
    assert ours.get_materialized_partitions(AssetKey("day_table")) == {"2024-01-02"}

    ours.wipe()
    assert ours.get_runs() == [] and not any((home / "history" / "runs").glob(f"{kept}.db*"))
    again = _run(ours, "2024-01-02")
    assert ours.get_run_by_id(again).status == DagsterRunStatus.SUCCESS
    assert ours.get_materialized_partitions(AssetKey("day_table")) == {"2024-01-02"}


def test_a_command_without_dagster_home_keeps_its_storage_in_the_temporary_instance(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:
    """``dagster dev`` (or any CLI) run in the repository without ``DAGSTER_HOME``: Dagster makes a temporary
    instance directory configured by ./dagster.yaml and hands its processes the instance's ref."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    temporary = tmp_path / ".tmp_dagster_home_x"
    temporary.mkdir()
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(temporary), config_dir=str(REPO_ROOT))) as instance:
        assert isinstance(instance.event_log_storage, KeptConnectionsSqliteEventLogStorage)
        run_id = _run(instance, "2024-01-02")
        with DagsterInstance.from_ref(instance.get_ref()) as child:  # what a webserver, daemon or run process gets
            assert child.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
            assert _checks(child) == [("2024-01-02", "SUCCEEDED")]
    assert (temporary / "history" / "runs.db").exists() and (temporary / "history" / "runs" / f"{run_id}.db").exists()
    assert not (REPO_ROOT / "history").exists() or run_id not in {p.stem for p in (REPO_ROOT / "history").rglob("*.db")}


def _open_databases(home: Path) -> set[str]:
    """The files of the instance's storage this process has open."""
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(home / "history")):
                names.add(target)
    return names


def test_open_files_stay_bounded_over_many_runs(home: Path) -> None:
    ours = _instance(home, "dagster.yaml")
    runs = [_run(ours, f"2024-02-{day:02d}") for day in range(1, 25)]  # each run has a database of its own
    assert all(ours.get_run_by_id(r).status == DagsterRunStatus.SUCCESS for r in runs)
    open_databases = {Path(name).name.split(".db")[0] for name in _open_databases(home)}
    assert "index" in open_databases and "runs" in open_databases and runs[-1] in open_databases
    assert len(open_databases - {"runs"}) <= KEPT_DATABASES  # the most recently used, whatever the number of runs
    ours.dispose()
    assert _open_databases(home) == set()
