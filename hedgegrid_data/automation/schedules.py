"""One partitioned job per feed and its nightly schedule.

The schedule is ``build_schedule_from_partitioned_job``: at the feed's ``schedule_at`` UTC it requests the last
complete UTC day for every configured symbol (no ``hour_offset``, which would shift the partition window).
It runs by default. The availability sensor usually gets there first; the nightly run is the backstop and,
when the day is already built, re-runs it idempotently from the verified local copy.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    build_schedule_from_partitioned_job,
    define_asset_job,
)
from dagster._core.definitions.partitions.partitioned_schedule import (
    UnresolvedPartitionedAssetScheduleDefinition,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from hedgegrid_data.automation.config import TRIGGER_TAG
from hedgegrid_data.feeds.feed import Feed


def build_daily_job(feed: Feed) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        name=f"{feed.name}_daily",
        selection=AssetSelection.assets(*feed.partitioned_keys),
        description=f"Every asset of {feed.name} for one UTC day × symbol.",
        tags={"hedgegrid/dataset": feed.name},
    )


def build_nightly_schedule(feed: Feed, job: UnresolvedAssetJobDefinition
                           ) -> UnresolvedPartitionedAssetScheduleDefinition:
    """Resolved by ``Definitions`` (the job's partitions come from its assets)."""
    return build_schedule_from_partitioned_job(
        job,
        name=f"{feed.name}_nightly",
        hour_of_day=feed.automation.schedule_at.hour,
        minute_of_hour=feed.automation.schedule_at.minute,
        default_status=DefaultScheduleStatus.RUNNING,
        tags={TRIGGER_TAG: "nightly"},
        description=(f"{feed.automation.schedule_at:%H:%M} UTC: {feed.name} for the last complete UTC day, every "
                     "configured symbol."),
    )
