"""Availability and re-publication sensors of a feed (thin glue over ``planning`` and the feed's source).

- ``<feed>_availability``: recent days × symbols whose final asset is not materialized and whose source files
  are now published (the source's probe answers) are requested, oldest first; a day still unpublished
  ``late_after`` its file was due (the end of the day, or of the month for a month file) raises a ``late_day``
  alert once.
- ``<feed>_republication``: for symbols with materialized days (a few per tick, round robin) the source compares
  each fetched file with what it serves now; a day with a changed file is rebuilt through the feed's job (every
  date × symbol asset of the group), once per new version.

Both request the feed's ``<feed>_daily`` job with ``run_key`` de-duplication and a cursor, and are bounded per
tick (``AutomationSettings``).
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

from hedgegrid_data.automation.alerts import late_days_alert
from hedgegrid_data.automation.config import TRIGGER_TAG, AutomationSettings
from hedgegrid_data.automation.planning import (
    AvailabilityCursor,
    RepublicationCursor,
    availability_candidates,
    combine_publication,
    days_by_symbol,
    plan_availability,
    republication_run_key,
    round_robin,
    watch_window,
)
from hedgegrid_data.feeds.feed import Feed, Republication


def build_availability_sensor(feed: Feed, job: UnresolvedAssetJobDefinition,
                              settings: AutomationSettings) -> SensorDefinition:
    window_days = feed.automation.window_days or settings.availability_window_days
    source = feed.source

    @sensor(
        name=f"{feed.name}_availability",
        job=job,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.availability_interval_seconds,
        required_resource_keys={source.resource_key, "hedgegrid_alerts"},
        description=(f"Requests {feed.name} partitions of the last {window_days} days "
                     f"as soon as their source files are published; alerts when a day is still missing "
                     f"{settings.late_after} after its file was due."),
    )
    def availability(context: SensorEvaluationContext) -> SensorResult:
        now = dt.datetime.now(dt.timezone.utc)
        # days whose file cannot be out yet (a month file before the month ends) are not watched
        days = [day for day in watch_window(now, window_days, feed.start_date) if feed.automation.due(day) <= now]
        partitions = [((day, symbol), feed.partition_key(day, symbol))
                      for day in days for symbol in feed.symbols]
        window_keys = [key for _, key in partitions]
        statuses = context.instance.get_status_by_partition(
            feed.final_key, window_keys, feed.partitions_def) or {}
        cursor = AvailabilityCursor.parse(context.cursor)
        candidates = availability_candidates(
            partitions, {k: (s.value if s is not None else None) for k, s in statuses.items()}, cursor)

        published: dict[str, bool | None] = {}
        missing: dict[str, list[str]] = {}
        answered: dict[str, bool | None] = {}  # by probe key: the days of a month share its file
        requestable = 0
        with source.probe(getattr(context.resources, source.resource_key)) as probe:
            for (day, symbol), key in candidates:
                files = feed.files(day, symbol)
                unprobed = {source.probe_key(f) for f in files} - answered.keys()
                if len(answered) + len(unprobed) > settings.max_probes_per_tick:
                    break
                answered |= {probe_key: probe.is_published(probe_key) for probe_key in sorted(unprobed)}
                answers = {source.file_key(f): answered[source.probe_key(f)] for f in files}
                published[key] = combine_publication(answers.values())
                missing[key] = [k for k, answer in answers.items() if answer is False]
                requestable += published[key] is True
                if requestable >= settings.max_requests_per_tick:
                    break

        plan = plan_availability(candidates, published, now=now, late_after=settings.late_after, cursor=cursor,
                                 window_keys=window_keys, max_requests=settings.max_requests_per_tick,
                                 due=feed.automation.due)
        if plan.late:
            context.resources.hedgegrid_alerts.record(late_days_alert(
                feed.name, [(key, k) for _, key in plan.late for k in missing[key]], settings.late_after),
                context.log)
        if plan.unknown:
            context.log.warning(f"could not tell whether {len(plan.unknown)} day(s) are published "
                                f"(archive errors): {plan.unknown[:5]}")
        requests = [RunRequest(run_key=key, partition_key=key, tags={TRIGGER_TAG: "availability"})
                    for key in plan.request]
        context.log.info(f"{len(days)} day(s) × {len(feed.symbols)} symbol(s): {len(candidates)} missing, "
                         f"{len(published)} probed, {len(requests)} requested, {len(plan.late)} newly late")
        skip = None if requests else SkipReason(
            f"nothing newly published among {len(candidates)} missing partition(s)")
        return SensorResult(run_requests=requests, cursor=plan.cursor.dump(), skip_reason=skip)

    return availability


def build_republication_sensor(feed: Feed, job: UnresolvedAssetJobDefinition,
                               settings: AutomationSettings) -> SensorDefinition:
    source = feed.source

    @sensor(
        name=f"{feed.name}_republication",
        job=job,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.republication_interval_seconds,
        required_resource_keys={source.listing_resource_key, "data_store"},
        description=(f"Asks the source whether the files of materialized {feed.name} days changed since they were "
                     "fetched (size, ETag or Last-Modified) and rebuilds a day whose file changed."),
    )
    def republication(context: SensorEvaluationContext) -> SensorResult:
        by_symbol = days_by_symbol(context.instance.get_materialized_partitions(feed.raw_key))
        cursor = RepublicationCursor.parse(context.cursor)
        symbols, next_symbol = round_robin(list(by_symbol), cursor.next_symbol,
                                           settings.republication_symbols_per_tick)
        raw_root = source.raw_root(context.resources.data_store.store)
        # every file of every materialized day of the symbols, with the days built from it (every day of the
        # month for a month file)
        files, partitions_of = {}, {}
        for symbol in symbols:
            for day in by_symbol[symbol]:
                for file in feed.files(day, symbol):
                    key = source.file_key(file)
                    files[key] = file
                    partitions_of.setdefault(key, []).append(feed.partition_key(day, symbol))
        changed: dict[str, list[Republication]] = {}
        for republished in source.republished(getattr(context.resources, source.listing_resource_key), raw_root,
                                              files, context.log):
            partitions = partitions_of[republished.file_key]
            context.log.warning(f"{republished.file_key} was re-published ({republished.change}); rebuilding "
                                f"{', '.join(partitions[:3])}{' …' if len(partitions) > 3 else ''}")
            for partition in partitions:
                changed.setdefault(partition, []).append(republished)
        requests = [
            RunRequest(run_key=republication_run_key(partition, changes), partition_key=partition,
                       tags={TRIGGER_TAG: "republication",
                             "hedgegrid/change": "; ".join(c.change for c in changes)[:200]})
            for partition, changes in sorted(changed.items())
        ][: settings.max_requests_per_tick]
        context.log.info(f"checked {len(symbols)} of {len(by_symbol)} symbol(s): {len(files)} file(s) compared, "
                         f"{len(changed)} day(s) changed")
        skip = None if requests else SkipReason(
            f"no re-published files among {len(files)} compared ({', '.join(symbols) or 'nothing materialized'})")
        return SensorResult(run_requests=requests, cursor=RepublicationCursor(next_symbol).dump(),
                            skip_reason=skip)

    return republication
