"""Alerts: a run failed, a check failed, a day is late. Each becomes a log line, a JSON line, and a webhook POST.

Every alert is appended to ``$HEDGEGRID_DATA_DIR/alerts.jsonl`` (one JSON object per line) and, when
``HEDGEGRID_ALERT_WEBHOOK`` is set, POSTed there as JSON with a ``text`` field (Slack/Teams/Mattermost
incoming webhooks display it as is). URLs inside an alert are redacted (``secrets.redact_text``: an error
message may quote a URL with credentials), and a failed POST names the webhook by its host only. The sensors
that raise alerts are built here too.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dagster import (
    AssetCheckKey,
    ConfigurableResource,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from hedgegrid_data.automation import config
from hedgegrid_data.secrets import redact_json, redact_text, redact_webhook

logger = logging.getLogger("hedgegrid_data.alerts")

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Alert:
    """Something an operator must look at. ``kind``: run_failure, check_failure, late_day."""

    kind: str
    severity: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())

    def to_json(self) -> dict[str, Any]:
        """The alert as written and POSTed, every URL in it redacted."""
        return redact_json({"text": f"[hedgegrid-data {self.severity}] {self.summary}", **asdict(self)})


def record_alert(alert: Alert, alerts_file: Path, webhook_url: str | None = None,
                 log: logging.Logger | Any = logger, client: httpx.Client | None = None) -> None:
    """Log, append to ``alerts_file``, POST to ``webhook_url``. A failing webhook is logged, never raised:
    the alert is already on disk and a sensor tick must not be lost to a chat outage."""
    payload = alert.to_json()
    (log.error if alert.severity == ERROR else log.warning)(f"ALERT {alert.kind}: {redact_text(alert.summary)}")
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    with alerts_file.open("a", encoding="utf-8") as out:
        out.write(json.dumps(payload, default=str, sort_keys=True) + "\n")
    if webhook_url:
        try:
            if client is not None:
                response = client.post(webhook_url, json=payload)
            else:
                response = httpx.post(webhook_url, json=payload, timeout=10.0)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:  # its text quotes the whole URL
            log.error(f"alert webhook {redact_webhook(webhook_url)} failed: HTTP {exc.response.status_code}")
        except httpx.HTTPError as exc:
            log.error(f"alert webhook {redact_webhook(webhook_url)} failed: {type(exc).__name__}: "
                      f"{redact_text(str(exc))}")


def read_alerts(alerts_file: Path) -> list[dict[str, Any]]:
    if not alerts_file.exists():
        return []
    return [json.loads(line) for line in alerts_file.read_text(encoding="utf-8").splitlines() if line.strip()]


class AlertsResource(ConfigurableResource):
    """Where alerts go: the JSON-lines file and an optional webhook."""

    alerts_file: str
    webhook_url: str | None = None

    def record(self, alert: Alert, log: logging.Logger | Any = logger) -> None:
        record_alert(alert, Path(self.alerts_file), self.webhook_url, log)


def default_alerts_resource() -> AlertsResource:
    return AlertsResource(alerts_file=str(config.alerts_file()), webhook_url=config.alert_webhook())


# ---------------------------------------------------------------------------------------------------------------
# pure alert builders


def partition_of_run(tags: Mapping[str, str]) -> str | None:
    """The run's partition: ``dagster/partition``, or its range (``start...end``, one key when equal)."""
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start is None:
        return None
    return start if start == end else f"{start}...{end}"


def run_failure_alert(job_name: str, run_id: str, tags: Mapping[str, str], message: str | None,
                      step_errors: Iterable[tuple[str, str]]) -> Alert:
    steps = [(step, text[:1000]) for step, text in step_errors]
    partition = partition_of_run(tags)
    where = f" partition {partition}" if partition else ""
    # the whole first error on one line: a blocking check's error names the check on its second line, and a
    # failed rebuild says what became of the published day
    first = f": {steps[0][0]}: {' '.join(steps[0][1].split())[:500]}" if steps else ""
    return Alert(
        kind="run_failure",
        severity=ERROR,
        summary=f"run {run_id[:8]} of {job_name}{where} failed{first}",
        details={
            "job": job_name, "run_id": run_id, "partition": partition,
            "backfill": tags.get("dagster/backfill"), "trigger": tags.get(config.TRIGGER_TAG),
            "message": message, "steps": [{"step": s, "error": e} for s, e in steps],
        },
    )


def check_failure_alert(asset: str, check: str, severity: str,
                        failures: Sequence[Mapping[str, Any]]) -> Alert:
    """One alert per check per sensor tick; ``failures`` are the failed evaluations (partition, run_id,
    description, metadata), so a backfill of a thousand failing days is one message, not a thousand."""
    partitions = [f["partition"] for f in failures if f.get("partition")]
    where = f" for {len(failures)} evaluation(s)" if len(failures) > 1 else (
        f" partition {partitions[0]}" if partitions else "")
    description = next((f["description"] for f in failures if f.get("description")), None)
    return Alert(
        kind="check_failure",
        severity=ERROR if severity.upper() == "ERROR" else WARNING,
        summary=f"check {check} on {asset}{where} failed" + (f": {description}" if description else ""),
        details={"asset": asset, "check": check, "check_severity": severity, "partitions": partitions,
                 "failures": [dict(f) for f in failures[:50]]},
    )


def late_days_alert(dataset: str, late: Sequence[tuple[str, str]], late_after: dt.timedelta) -> Alert:
    """One alert for the days of one dataset found late in one sensor tick: ``late`` is (partition, key) pairs."""
    hours = late_after.total_seconds() / 3600
    partitions = [partition for partition, _ in late]
    shown = ", ".join(partitions[:5]) + (f" and {len(partitions) - 5} more" if len(partitions) > 5 else "")
    return Alert(
        kind="late_day",
        severity=WARNING,
        summary=f"{dataset}: {len(partitions)} day(s) still not published {hours:g} h after the day ended: {shown}",
        details={"dataset": dataset, "partitions": partitions, "checksum_keys": [f"{k}.CHECKSUM" for _, k in late],
                 "late_after_hours": hours},
    )


# ---------------------------------------------------------------------------------------------------------------
# sensors


def _step_errors(context: RunFailureSensorContext) -> list[tuple[str, str]]:
    errors = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        text = data.error.message if data.error else ""
        if data.user_failure_data is not None and data.user_failure_data.description:
            text = data.user_failure_data.description
        errors.append((event.step_key or "", text.strip()))
    return errors


def build_run_failure_alert_sensor(name: str = "hedgegrid_run_failure_alerts",
                                   interval_seconds: int = 30) -> SensorDefinition:
    @run_failure_sensor(name=name, default_status=DefaultSensorStatus.RUNNING,
                        minimum_interval_seconds=interval_seconds,
                        description="Records an alert (log, alerts.jsonl, webhook) for every failed run.")
    def run_failure_alerts(context: RunFailureSensorContext, hedgegrid_alerts: AlertsResource) -> None:
        run = context.dagster_run
        hedgegrid_alerts.record(
            run_failure_alert(run.job_name, run.run_id, run.tags, context.failure_event.message,
                              _step_errors(context)),
            context.log,
        )

    return run_failure_alerts


def _metadata_values(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def failed_check_alerts(records: Iterable[AssetCheckExecutionRecord],
                        run_partition: Callable[[str], str | None] = lambda run_id: None) -> list[Alert]:
    """Failed evaluations grouped per (asset, check, severity), in the order first seen.

    The feeds' checks are partitioned, so each evaluation carries its partition; for an unpartitioned check of
    a partitioned step ``run_partition`` supplies the run's (its ``dagster/partition`` tag, or its range).
    """
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in records:
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is None or evaluation.passed:
            continue
        key = (record.key.asset_key.to_user_string(), record.key.name, evaluation.severity.value)
        grouped.setdefault(key, []).append({
            "partition": record.partition or evaluation.partition or run_partition(record.run_id),
            "run_id": record.run_id,
            "description": evaluation.description, "metadata": _metadata_values(evaluation.metadata)})
    return [check_failure_alert(asset, check, severity, failures)
            for (asset, check, severity), failures in grouped.items()]


def build_check_failure_alert_sensor(name: str = "hedgegrid_check_failure_alerts", interval_seconds: int = 60,
                                     first_tick_lookback: dt.timedelta = dt.timedelta(days=1),
                                     per_check_limit: int = 200) -> SensorDefinition:
    """Alerts on failed asset-check evaluations (``ASSET_CHECK_EVALUATION`` with ``passed=False``): each
    evaluation is covered once, grouped into one alert per check per tick.

    The cursor is the storage id of the newest evaluation seen; the first tick looks back one day.
    """

    @sensor(name=name, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=interval_seconds,
            description="Records an alert (log, alerts.jsonl, webhook) for every failed asset check evaluation.")
    def check_failure_alerts(context: SensorEvaluationContext, hedgegrid_alerts: AlertsResource) -> SkipReason:
        if context.repository_def is None:
            return SkipReason("no repository to read the asset checks from")
        storage = context.instance.event_log_storage
        after = int(context.cursor) if context.cursor else None
        since = (dt.datetime.now(dt.timezone.utc) - first_tick_lookback).timestamp()
        check_keys: Iterable[AssetCheckKey] = context.repository_def.asset_graph.asset_check_keys
        records = []
        for check_key in check_keys:
            history = storage.get_asset_check_execution_history(
                check_key, limit=per_check_limit, status={AssetCheckExecutionRecordStatus.FAILED})
            records.extend(r for r in history if (r.id > after if after is not None else r.create_timestamp >= since))
        records.sort(key=lambda r: r.id)
        @functools.cache  # the checks of one run share it
        def run_partition(run_id: str) -> str | None:
            run = context.instance.get_run_by_id(run_id)
            return partition_of_run(run.tags) if run is not None else None

        alerts = failed_check_alerts(records, run_partition)
        for alert in alerts:
            hedgegrid_alerts.record(alert, context.log)
        if records:
            context.update_cursor(str(records[-1].id))
        return SkipReason(f"{len(alerts)} failed check evaluation(s) alerted" if alerts
                          else "no new failed check evaluations")

    return check_failure_alerts
