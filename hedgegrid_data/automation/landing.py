"""The landing sensor of a feed whose source is a landing folder (``sources/landing``): ``<feed>_landing``.

Every tick it indexes the import's folder (cached: only new or changed files are read) and requests each
day × symbol whose covering files are new or differ from what was fetched for it (``LandingSource.change``),
oldest first, at most ``max_requests_per_tick``; the run key is the partition and the version of its files, so a
version is requested once (a day that fails keeps failing until its files change). Days outside the feed's
partitions (before its first day, or the current UTC day, which is not complete) wait. Files the reader could not
read are logged: the days they cover are still requested and fail naming them.
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from hedgegrid_data.automation.config import TRIGGER_TAG, AutomationSettings
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.sources.landing.source import LandingSource


def landing_requests(feed: Feed, source: LandingSource, raw_root, today: dt.date,
                     limit: int) -> tuple[list[RunRequest], dict[str, str], int]:
    """(requests, unreadable files, days changed) for the feed's partitions the landing folder covers."""
    index = source.index(raw_root)
    requests, changed = [], 0
    for day in index.days():
        if not feed.start_date <= day < today:
            continue
        for symbol in feed.symbols:
            changes = [c for f in feed.files(day, symbol) if (c := source.change(index, raw_root, f)) is not None]
            if not changes:
                continue
            changed += 1
            if len(requests) < limit:
                partition = feed.partition_key(day, symbol)
                requests.append(RunRequest(
                    run_key=f"{partition}@{'+'.join(v for v, _ in changes)}", partition_key=partition,
                    tags={TRIGGER_TAG: "landing", "hedgegrid/change": "; ".join(c for _, c in changes)[:200]}))
    return requests, index.errors(), changed


def build_landing_sensor(feed: Feed, job: UnresolvedAssetJobDefinition,
                         settings: AutomationSettings) -> SensorDefinition:
    source = feed.source
    assert isinstance(source, LandingSource)

    @sensor(
        name=f"{feed.name}_landing",
        job=job,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.landing_interval_seconds,
        required_resource_keys={"data_store"},
        description=(f"Indexes the landing folder {source.landing.landing} ({source.landing.glob}) and materializes "
                     f"the {feed.name} days its new or changed files cover."),
    )
    def landing(context: SensorEvaluationContext) -> SensorResult:
        raw_root = source.raw_root(context.resources.data_store.store)
        today = dt.datetime.now(dt.UTC).date()
        requests, errors, changed = landing_requests(feed, source, raw_root, today, settings.max_requests_per_tick)
        for name, error in sorted(errors.items())[:5]:
            context.log.warning(f"landing file {name} does not read: {error}")
        context.log.info(f"{changed} day(s) with new or changed files, {len(requests)} requested")
        skip = None if requests else SkipReason(f"no new or changed files in {source.landing.landing}")
        return SensorResult(run_requests=requests, skip_reason=skip)

    return landing
