"""Automation: nightly partitions, availability and re-publication sensors, source assets, alerts.

``build_automation(feeds)`` returns everything to hand to ``Definitions``::

    automation = build_automation(registry)
    Definitions(assets=[..., *automation["assets"]], resources={**default_resources(), **automation["resources"]},
                jobs=automation["jobs"], schedules=automation["schedules"], sensors=automation["sensors"])

Per feed: job ``<feed>_daily``, schedule ``<feed>_nightly`` (not for month files), sensors ``<feed>_availability``
and ``<feed>_republication`` (a landing folder's feed: ``<feed>_landing`` instead, ``automation/landing.py``),
and the source's own unpartitioned assets (the archive's ``<feed>_universe``).
Once: sensors ``hedgegrid_run_failure_alerts`` and ``hedgegrid_check_failure_alerts``. Everything starts RUNNING
when the daemon runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hedgegrid_data.automation.alerts import (
    AlertsResource,
    build_check_failure_alert_sensor,
    build_run_failure_alert_sensor,
    default_alerts_resource,
)
from hedgegrid_data.automation.config import AutomationSettings
from hedgegrid_data.automation.landing import build_landing_sensor
from hedgegrid_data.automation.schedules import build_daily_job, build_nightly_schedule
from hedgegrid_data.automation.sensors import build_availability_sensor, build_republication_sensor
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.sources.landing.source import LandingSource

__all__ = ["AlertsResource", "AutomationSettings", "build_automation"]


def build_automation(
    feeds: Iterable[Feed],
    settings: AutomationSettings = AutomationSettings(),
    *,
    source_assets: bool = True,
    alert_sensors: bool = True,
    resources: dict[str, Any] | None = None,
) -> dict[str, list[Any] | dict[str, Any]]:
    """Jobs, schedules, sensors, source assets and the alerts resource for ``feeds``. ``resources`` overrides the
    defaults read from the environment."""
    feeds = list(feeds)
    names = [f.name for f in feeds]
    if len(set(names)) != len(names):
        raise ValueError(f"feed names must be unique: {names}")
    jobs, schedules, sensors, assets = [], [], [], []
    for feed in feeds:
        job = build_daily_job(feed)
        jobs.append(job)
        if feed.automation.nightly:
            schedules.append(build_nightly_schedule(feed, job))
        if isinstance(feed.source, LandingSource):  # local files: one sensor notices new and changed ones
            sensors.append(build_landing_sensor(feed, job, settings))
        else:
            sensors.append(build_availability_sensor(feed, job, settings))
            sensors.append(build_republication_sensor(feed, job, settings))
        if source_assets:
            assets.extend(feed.source.extra_assets(feed))
    if alert_sensors:
        sensors.append(build_run_failure_alert_sensor(interval_seconds=30))
        sensors.append(build_check_failure_alert_sensor(interval_seconds=settings.alerts_interval_seconds))
    return {
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "assets": assets,
        "resources": {"hedgegrid_alerts": default_alerts_resource(), **(resources or {})},
    }
