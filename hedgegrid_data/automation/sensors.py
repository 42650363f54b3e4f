"""Availability and re-publication sensors for a daily dataset (thin glue over ``planning``).

- ``<dataset>_availability``: recent days × symbols whose final asset is not materialized and whose
  ``.CHECKSUM`` is now published are requested, oldest first; a day still unpublished ``late_after`` its
  file was due (the end of the day, or of the month for a month file) raises a ``late_day`` alert once.
- ``<dataset>_republication``: for symbols with materialized days (a few per tick, round robin) the
  symbol's archive folder(s) are listed from the first materialized day on and each downloaded file's
  provenance (size, ETag, Last-Modified) is compared with the listing; a day with a changed file is
  rebuilt through the dataset's job (every date × symbol asset of the group), once per new version.

Both request the dataset's ``<dataset>_daily`` job with ``run_key`` de-duplication and a cursor, and are
bounded per tick (``AutomationSettings``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from hedgegrid_data.automation.alerts import AlertsResource, late_days_alert
from hedgegrid_data.automation.config import TRIGGER_TAG, AutomationSettings
from hedgegrid_data.automation.datasets import DailyDataset, folder_of
from hedgegrid_data.automation.planning import (
    AvailabilityCursor,
    RepublicationCursor,
    availability_candidates,
    combine_publication,
    days_by_symbol,
    plan_availability,
    republication_change,
    republication_run_key,
    round_robin,
    watch_window,
)
from hedgegrid_data.resources import BinanceArchiveResource, DataStoreResource
from hedgegrid_data.sources.binance_archive.download import Provenance
from hedgegrid_data.sources.binance_archive.listing import (
    ListedObject,
    PublicationProbe,
    marker_before,
)
from hedgegrid_data.sources.binance_archive.resources import BinanceListingResource


def build_availability_sensor(dataset: DailyDataset, job: UnresolvedAssetJobDefinition,
                              settings: AutomationSettings) -> SensorDefinition:
    window_days = dataset.window_days or settings.availability_window_days

    @sensor(
        name=f"{dataset.name}_availability",
        job=job,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.availability_interval_seconds,
        description=(f"Requests {dataset.name} partitions of the last {window_days} days "
                     f"as soon as their .CHECKSUM is published; alerts when a day is still missing "
                     f"{settings.late_after} after its file was due."),
    )
    def availability(context: SensorEvaluationContext, binance_archive: BinanceArchiveResource,
                     hedgegrid_alerts: AlertsResource) -> SensorResult:
        now = dt.datetime.now(dt.timezone.utc)
        # days whose file cannot be out yet (a month file before the month ends) are not watched
        days = [day for day in watch_window(now, window_days, dataset.start_date) if dataset.due(day) <= now]
        partitions = [((day, symbol), dataset.partition_key(day, symbol))
                      for day in days for symbol in dataset.symbols]
        window_keys = [key for _, key in partitions]
        statuses = context.instance.get_status_by_partition(
            dataset.final_key, window_keys, dataset.partitions_def) or {}
        cursor = AvailabilityCursor.parse(context.cursor)
        candidates = availability_candidates(
            partitions, {k: (s.value if s is not None else None) for k, s in statuses.items()}, cursor)

        published: dict[str, bool | None] = {}
        missing: dict[str, list[str]] = {}
        answered: dict[str, bool | None] = {}  # by CHECKSUM key: the days of a month share its file
        requestable = 0
        with PublicationProbe(binance_archive.base_url) as probe:
            for (day, symbol), key in candidates:
                files = dataset.archive_files(day, symbol)
                unprobed = {f.checksum_key for f in files} - answered.keys()
                if len(answered) + len(unprobed) > settings.max_probes_per_tick:
                    break
                answered |= {checksum: probe.is_published(checksum) for checksum in sorted(unprobed)}
                answers = {f.key: answered[f.checksum_key] for f in files}
                published[key] = combine_publication(answers.values())
                missing[key] = [k for k, answer in answers.items() if answer is False]
                requestable += published[key] is True
                if requestable >= settings.max_requests_per_tick:
                    break

        plan = plan_availability(candidates, published, now=now, late_after=settings.late_after, cursor=cursor,
                                 window_keys=window_keys, max_requests=settings.max_requests_per_tick,
                                 due=dataset.due)
        if plan.late:
            hedgegrid_alerts.record(late_days_alert(
                dataset.name, [(key, k) for _, key in plan.late for k in missing[key]], settings.late_after),
                context.log)
        if plan.unknown:
            context.log.warning(f"could not tell whether {len(plan.unknown)} day(s) are published "
                                f"(archive errors): {plan.unknown[:5]}")
        requests = [RunRequest(run_key=key, partition_key=key, tags={TRIGGER_TAG: "availability"})
                    for key in plan.request]
        context.log.info(f"{len(days)} day(s) × {len(dataset.symbols)} symbol(s): {len(candidates)} missing, "
                         f"{len(published)} probed, {len(requests)} requested, {len(plan.late)} newly late")
        skip = None if requests else SkipReason(
            f"nothing newly published among {len(candidates)} missing partition(s)")
        return SensorResult(run_requests=requests, cursor=plan.cursor.dump(), skip_reason=skip)

    return availability


def _listed_zips(listing: Iterator[ListedObject], last_key: str) -> Iterator[ListedObject]:
    """Listing entries up to ``last_key`` (the listing is sorted), archive zips only."""
    for listed in itertools.takewhile(lambda o: o.key <= last_key, listing):
        if listed.key.endswith(".zip"):
            yield listed


def build_republication_sensor(dataset: DailyDataset, job: UnresolvedAssetJobDefinition,
                               settings: AutomationSettings) -> SensorDefinition:
    @sensor(
        name=f"{dataset.name}_republication",
        job=job,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.republication_interval_seconds,
        description=(f"Lists the archive for materialized {dataset.name} days and rebuilds a day whose file "
                     "changed since it was downloaded (size, ETag or Last-Modified)."),
    )
    def republication(context: SensorEvaluationContext, binance_listing: BinanceListingResource,
                      data_store: DataStoreResource) -> SensorResult:
        by_symbol = days_by_symbol(context.instance.get_materialized_partitions(dataset.raw_key))
        cursor = RepublicationCursor.parse(context.cursor)
        symbols, next_symbol = round_robin(list(by_symbol), cursor.next_symbol,
                                           settings.republication_symbols_per_tick)
        raw_root = data_store.store.raw
        changed: dict[str, list[tuple[ListedObject, str]]] = {}
        compared = unlisted = without_provenance = 0
        with binance_listing.open() as listing:
            for symbol in symbols:
                # every file of every materialized day of the symbol, by archive folder (one per kline
                # interval), with the days built from it (every day of the month for a month file)
                by_folder: dict[str, dict[str, list[str]]] = {}
                for day in by_symbol[symbol]:
                    for archive_file in dataset.archive_files(day, symbol):
                        by_folder.setdefault(folder_of(archive_file.key), {}).setdefault(archive_file.key, []).append(
                            dataset.partition_key(day, symbol))
                for folder, files in by_folder.items():
                    seen: set[str] = set()
                    for listed in _listed_zips(listing.objects(folder, marker=marker_before(min(files))), max(files)):
                        partitions = files.get(listed.key)
                        if partitions is None:
                            continue
                        seen.add(listed.key)
                        provenance = Provenance.read(raw_root / listed.key)
                        if provenance is None:
                            without_provenance += 1
                            continue
                        compared += 1
                        change = republication_change(provenance, listed)
                        if change is not None:
                            context.log.warning(f"{listed.key} was re-published ({change}); rebuilding "
                                                f"{', '.join(partitions[:3])}{' …' if len(partitions) > 3 else ''}")
                            for partition in partitions:
                                changed.setdefault(partition, []).append((listed, change))
                    missing = sorted(set(files) - seen)
                    if missing:
                        unlisted += len(missing)
                        context.log.warning(f"{len(missing)} materialized file(s) no longer listed: {missing[:3]}")
        requests = [
            RunRequest(run_key=republication_run_key(partition, [listed for listed, _ in changes]),
                       partition_key=partition,
                       tags={TRIGGER_TAG: "republication", "hedgegrid/change": "; ".join(c for _, c in changes)[:200]})
            for partition, changes in sorted(changed.items())
        ][: settings.max_requests_per_tick]
        context.log.info(f"listed {len(symbols)} of {len(by_symbol)} symbol(s): {compared} file(s) compared, "
                         f"{len(changed)} day(s) changed, {unlisted} unlisted, {without_provenance} without provenance")
        skip = None if requests else SkipReason(
            f"no re-published files among {compared} compared ({', '.join(symbols) or 'nothing materialized'})")
        return SensorResult(run_requests=requests, cursor=RepublicationCursor(next_symbol).dump(),
                            skip_reason=skip)

    return republication
