"""Automation settings: where alerts go (environment) and how eager the sensors are (code).

- ``HEDGEGRID_ALERT_WEBHOOK``: URL that receives every alert as a JSON POST. Default: unset (alerts go to
  the log and ``$HEDGEGRID_DATA_DIR/alerts.jsonl`` only). Its path is a credential for chat webhooks: the
  alerts resource is configured with ``EnvVar("HEDGEGRID_ALERT_WEBHOOK")`` and the URL is never logged whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data import settings

ALERTS_FILE_NAME = "alerts.jsonl"
TRIGGER_TAG = "hedgegrid/trigger"  # what requested a run: nightly, availability, republication


def alert_webhook() -> str | None:
    """``HEDGEGRID_ALERT_WEBHOOK`` as resource configuration: ``EnvVar`` when set, None when unset or empty."""
    return settings.resource_env("HEDGEGRID_ALERT_WEBHOOK", None)


def alerts_file() -> Path:
    return settings.data_dir() / ALERTS_FILE_NAME


@dataclass(frozen=True)
class AutomationSettings:
    """How far back the sensors look, how late is late, and how much one tick may do.

    - ``availability_window_days``: recent complete UTC days the availability sensor watches.
    - ``late_after``: a day whose ``.CHECKSUM`` is still missing this long after the day ended raises an alert
      (the archive usually publishes daily files 00:15–08:40 UTC the next day).
    - ``max_requests_per_tick`` / ``max_probes_per_tick``: runs requested and HEAD probes sent per evaluation.
    - ``republication_symbols_per_tick``: symbol folders listed per re-publication evaluation (round robin).
    - ``landing_interval_seconds``: how often a landing folder is indexed for new or changed files.
    """

    availability_window_days: int = 7
    late_after: dt.timedelta = dt.timedelta(hours=36)
    max_requests_per_tick: int = 20
    max_probes_per_tick: int = 200
    availability_interval_seconds: int = 15 * 60
    republication_interval_seconds: int = 6 * 60 * 60
    republication_symbols_per_tick: int = 10
    alerts_interval_seconds: int = 60
    landing_interval_seconds: int = 60
