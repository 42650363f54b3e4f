"""Automation: nightly partitions, availability and re-publication sensors, symbol universe, alerts.

``build_automation(datasets)`` returns everything to hand to ``Definitions``::

    automation = build_automation([binance_trades_dataset(m, trades_assets[m]) for m in Market, ...])
    Definitions(assets=[..., *automation["assets"]], resources={**default_resources(), **automation["resources"]},
                jobs=automation["jobs"], schedules=automation["schedules"], sensors=automation["sensors"])

Per dataset: job ``<name>_daily``, schedule ``<name>_nightly`` (not for month files), sensors
``<name>_availability`` and ``<name>_republication``, asset ``<name>_universe``. Once: sensors ``hedgegrid_run_failure_alerts`` and
``hedgegrid_check_failure_alerts``. Everything starts RUNNING when the daemon runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hedgegrid_data.automation.alerts import (
    AlertsResource,
    build_check_failure_alert_sensor,
    build_run_failure_alert_sensor,
    default_alerts_resource,
)
from hedgegrid_data.automation.config import AutomationSettings
from hedgegrid_data.automation.datasets import (
    DailyDataset,
    binance_agg_trades_dataset,
    binance_funding_dataset,
    binance_klines_dataset,
    binance_price_index_dataset,
    binance_trades_dataset,
)
from hedgegrid_data.automation.schedules import build_daily_job, build_nightly_schedule
from hedgegrid_data.automation.sensors import (
    build_availability_sensor,
    build_republication_sensor,
)
from hedgegrid_data.sources.binance_archive.resources import (
    BinanceListingResource,
    default_listing_resource,
)
from hedgegrid_data.sources.binance_archive.universe import build_universe_asset

__all__ = [
    "AlertsResource", "AutomationSettings", "BinanceListingResource", "DailyDataset", "binance_agg_trades_dataset",
    "binance_funding_dataset", "binance_klines_dataset", "binance_price_index_dataset", "binance_trades_dataset",
    "build_automation",
]


def build_automation(
    datasets: Sequence[DailyDataset],
    settings: AutomationSettings = AutomationSettings(),
    *,
    universe_assets: bool = True,
    alert_sensors: bool = True,
    resources: dict[str, Any] | None = None,
) -> dict[str, list[Any] | dict[str, Any]]:
    """Jobs, schedules, sensors, universe assets and the resources they need (beyond ``data_store`` and
    ``binance_archive``) for ``datasets``. ``resources`` overrides the defaults read from the environment."""
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique: {names}")
    jobs, schedules, sensors, assets = [], [], [], []
    for dataset in datasets:
        job = build_daily_job(dataset)
        jobs.append(job)
        if dataset.nightly:
            schedules.append(build_nightly_schedule(dataset, job))
        sensors.append(build_availability_sensor(dataset, job, settings))
        sensors.append(build_republication_sensor(dataset, job, settings))
        if universe_assets:
            assets.append(build_universe_asset(dataset))
    if alert_sensors:
        sensors.append(build_run_failure_alert_sensor(interval_seconds=30))
        sensors.append(build_check_failure_alert_sensor(interval_seconds=settings.alerts_interval_seconds))
    return {
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "assets": assets,
        "resources": {
            "binance_listing": default_listing_resource(),
            "hedgegrid_alerts": default_alerts_resource(),
            **(resources or {}),
        },
    }
