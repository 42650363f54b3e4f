"""The asset factory: the same Dagster group for every feed.

``build_feed_assets(feed)`` returns the day × symbol partitioned assets of the feed, made by one multi-asset
step ``<feed>_days`` that runs the day recipe for every partition of its run, one day after the other:

- ``<feed>_raw``: the partition's source files, fetched and verified by the feed's source (its ``raw_check``);
- ``<feed>_normalized``: the day recipe's ``normalize_day`` (the canonical table, ``schema_valid`` and the feed's
  quality checks);
- ``<feed>_catalog`` (feeds that publish a Nautilus type): the recipe's ``publish_day``, with the blocking
  ``rows_in_equals_rows_out`` and ``catalog_integrity`` checks and the feed's own catalog checks; a feed that is
  not its instruments' declared publisher records that it published nothing;

and ``<feed>_quality_report`` (the rolling 30-day summary per symbol), rewritten by every run that normalizes.

Many days per run: a UI backfill launches runs of up to ``HEDGEGRID_BACKFILL_DAYS_PER_RUN`` partitions
(``BackfillPolicy.multi_run``, one symbol's consecutive days per run); nightly and sensor runs are one-key runs of
the same step. Each day is still published atomically and idempotently by the recipe, and reported on its own:
a materialization per asset and partition, check evaluations per partition (partitioned ``AssetCheckSpec``s).
A day that fails (bad data, a failed blocking check, a download error) is logged and skipped, the run goes on
with the next day, and at the end the step fails naming the failed days: the good days stay materialized and
published, the failed days' partitions show failed (planned in a failed run, not materialized) and can be
re-run alone.
"""


import queue
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    DagsterEventType,
    Failure,
    MaterializeResult,
    MetadataValue,
    MultiPartitionKey,
    PartitionsDefinition,
    multi_asset,
)
from dagster._core.definitions.partitions.utils.multi import get_tags_from_multi_partition_key
from dagster._utils.warnings import PreviewWarning

from hedgegrid_data.assets.common import check_result, error_description, fail_closed, quality_metadata
from hedgegrid_data.assets.policies import archive_http_retry, days_per_run_policy
from hedgegrid_data.errors import ArchiveDataError, DownloadError, HedgegridDataError
from hedgegrid_data.feeds.feed import CheckSpec, Feed
from hedgegrid_data.feeds.recipe import (
    PUBLICATION_CHECKS,
    ROWS_IN_EQUALS_ROWS_OUT,
    NormalizedDay,
    PublishedDays,
    normalize_day,
    publish_day,
    summarize,
)
from hedgegrid_data.partitions import day_and_symbol
from hedgegrid_data.quality import findings
from hedgegrid_data.store import DataStore

SCHEMA_VALID = CheckSpec(findings.SCHEMA_VALID, True, "Every row parsed exactly and passed the table's rules.")


def _metadata(values: dict[str, object]) -> dict[str, object]:
    """Paths become path metadata (the UI links them); everything else is kept."""
    return {key: MetadataValue.path(str(v)) if isinstance(v, Path) else v for key, v in values.items()}


def published_result(published: PublishedDays, catalog_checks: tuple[CheckSpec, ...] = ()) -> MaterializeResult:
    """A published day as materialization metadata and its publication check results; a feed's own check
    (``catalog_checks``) that does not block reports a failure as a WARN."""
    warn_only = {c.name for c in catalog_checks if not c.blocking}
    metadata: dict[str, object] = {"published": True, "instrument_id": published.instrument_id}
    balance: dict[str, object] = {}
    for label, day in published.days.items():
        tag = f"{label}_" if label else ""
        metadata |= {f"{tag}rows": day.rows_out, f"{tag}bytes": day.bytes,
                     f"{tag}path": day.path if day.path else day.integrity.summary}
        balance |= {f"{tag}rows_in": day.rows_in, f"{tag}rows_out": day.rows_out}
    return MaterializeResult(
        metadata=_metadata(metadata),
        check_results=[
            AssetCheckResult(check_name=ROWS_IN_EQUALS_ROWS_OUT.name, severity=AssetCheckSeverity.ERROR,
                             passed=all(d.rows_in == d.rows_out for d in published.days.values()), metadata=balance),
            check_result(published.integrity),
            *(AssetCheckResult(check_name=name, passed=passed, metadata=_metadata(details),
                               severity=AssetCheckSeverity.WARN if name in warn_only else AssetCheckSeverity.ERROR)
              for name, (passed, details) in published.extra_checks.items()),
        ],
    )


def not_published_result(feed: Feed) -> MaterializeResult:
    """The catalog asset of a feed that is not its instruments' declared publisher."""
    assert feed.publishes is not None
    not_published = {"published": False,
                     "reason": f"another feed is the declared publisher of {feed.publishes.__name__}"}
    return MaterializeResult(metadata=not_published, check_results=[
        AssetCheckResult(check_name=c.name, passed=True, metadata=not_published)
        for c in (*PUBLICATION_CHECKS, *feed.catalog_checks)])


def _check_specs(asset_key: AssetKey, checks: tuple[CheckSpec, ...],
                 partitions_def: PartitionsDefinition) -> list[AssetCheckSpec]:
    """Partitioned check specs: every evaluation belongs to its day × symbol (the Checks tab and the partition view
    show each day's result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=PreviewWarning)
        return [AssetCheckSpec(c.name, asset=asset_key, blocking=c.blocking, description=c.description or None,
                               partitions_def=partitions_def)
                for c in checks]


def _partition_tags(partition_key: str) -> dict[str, str]:
    """The per-dimension tags Dagster puts on a multi-partition materialization (its partition views read them)."""
    key = partition_key if isinstance(partition_key, MultiPartitionKey) else None
    if key is None and "|" in partition_key:
        day, symbol = partition_key.split("|", 1)
        key = MultiPartitionKey({"date": day, "symbol": symbol})
    return dict(get_tags_from_multi_partition_key(key)) if key is not None else {}


class _Day:
    """What one partition of a run yields: its materializations and check evaluations, in order."""

    def __init__(self, partition_key: str, blocking: dict[AssetCheckKey, bool]):
        self.partition_key = partition_key
        self.tags = _partition_tags(partition_key)
        self.blocking = blocking
        self.blocked: list[str] = []

    def materialized(self, asset_key: AssetKey, result: MaterializeResult) -> Iterator[object]:
        """The asset's materialization of this partition, then its check evaluations; a failed blocking check
        is remembered (``raise_if_blocked``)."""
        yield AssetMaterialization(asset_key=asset_key, partition=self.partition_key,
                                   metadata=dict(result.metadata or {}), tags=self.tags)
        for check in result.check_results or []:
            is_blocking = self.blocking.get(AssetCheckKey(asset_key, check.check_name), False)
            if is_blocking and not check.passed and check.severity is AssetCheckSeverity.ERROR:
                self.blocked.append(check.check_name)
            yield AssetCheckEvaluation(
                asset_key=asset_key, check_name=check.check_name, passed=check.passed,
                metadata=dict(check.metadata or {}), severity=check.severity, description=check.description,
                blocking=is_blocking, partition=self.partition_key)

    def raise_if_blocked(self, what: str) -> None:
        """A failed blocking check stops the day here, as Dagster's blocking checks stop downstream steps."""
        if self.blocked:
            raise HedgegridDataError(f"{what}: blocking checks failed: {', '.join(self.blocked)}")


def _failure(failures: dict[str, BaseException], attempted: int) -> Failure:
    """One ``Failure`` for the days of a run that failed: a single day's error as it is (naming the file and
    line); several, one line each. Retried only when every failure is a download error."""
    if len(failures) == 1 and attempted == 1:
        [(_, exc)] = failures.items()
        metadata: dict[str, object] = {"error": type(exc).__name__}
    else:
        metadata = {"failed_partitions": MetadataValue.json(sorted(failures)),
                    "failed": len(failures), "attempted": attempted}
    lines = []
    for key, exc in sorted(failures.items()):
        if isinstance(exc, ArchiveDataError):
            metadata.setdefault("file", exc.file)
            if exc.line is not None:
                metadata.setdefault("line", exc.line)
        if isinstance(exc, HedgegridDataError) and exc.published_day is not None:
            metadata.setdefault("published_day", exc.published_day)
        lines.append(error_description(exc) if attempted == 1 else f"{key}: {error_description(exc)}")
    shown = ", ".join(sorted(failures)[:5]) + (f" and {len(failures) - 5} more" if len(failures) > 5 else "")
    description = lines[0] if attempted == 1 else (
        f"{len(failures)} of {attempted} partition(s) failed ({shown}; the others are materialized):\n"
        + "\n".join(lines))
    return Failure(description=description, metadata=metadata,
                   allow_retries=all(isinstance(exc, DownloadError) for exc in failures.values()))


def _done_in_earlier_attempts(context: AssetExecutionContext, final_key: AssetKey) -> set[str]:
    """Partitions whose last selected asset an earlier attempt of this step already materialized (a retried
    step does not redo them)."""
    if context.retry_number == 0:
        return set()
    records = context.instance.get_records_for_run(
        context.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    return {r.event_log_entry.dagster_event.partition for r in records
            if r.event_log_entry.dagster_event is not None
            and r.event_log_entry.dagster_event.asset_key == final_key}


def days_ahead(partition_keys: list[str], one_day: Callable[[str], Iterator[object]]
               ) -> Iterator[tuple[str, object]]:
    """``(key, event)`` for every event of every partition, in order, then ``(key, DayEnd)``; the days are
    computed on a worker thread, one day ahead of what is reported.

    Dagster stores each reported event as it is yielded (with the embedded SQLite storage, commits and fsyncs,
    several ms each; a day has ~13 events), so they are stored while the pipeline goes on: a stage's events while
    the next stage runs, a day's while the next day runs. At most one finished day waits unreported; if the step
    stops (run terminated), the worker finishes the day it is on (each day is atomic) and starts no other.
    """
    produced: queue.Queue[tuple[str, object] | None] = queue.Queue()
    ahead = threading.Semaphore(2)  # the day being reported and the one being computed
    stop = threading.Event()

    def work() -> None:
        try:
            for key in partition_keys:
                ahead.acquire()
                if stop.is_set():
                    return
                try:
                    for event in one_day(key):
                        produced.put((key, event))
                except Exception as exc:
                    produced.put((key, DayEnd(exc)))
                else:
                    produced.put((key, DayEnd(None)))
        finally:
            produced.put(None)

    worker = threading.Thread(target=work, name="hedgegrid-days", daemon=True)
    worker.start()
    try:
        while (item := produced.get()) is not None:
            yield item
            if isinstance(item[1], DayEnd):
                ahead.release()
    finally:
        stop.set()
        ahead.release()
        worker.join()


class DayEnd:
    """The end of a partition's events: ``error`` is what stopped it, None when it completed."""

    def __init__(self, error: BaseException | None):
        self.error = error


def build_feed_assets(feed: Feed) -> list[AssetsDefinition | AssetSpec]:
    """The feed's group: one multi-asset (raw → normalized → catalog, run day by day for every partition of the
    run) and the quality report it keeps up to date."""
    source = feed.source
    keys = [k for k in (feed.raw_key, feed.normalized_key, feed.catalog_key) if k is not None]
    partitions_def = feed.partitions_def
    report_key = report_key_of(feed)
    specs = [
        AssetSpec(feed.raw_key, group_name=feed.name, partitions_def=partitions_def, kinds=set(source.kinds),
                  description=feed.descriptions.raw, skippable=True),
        AssetSpec(feed.normalized_key, group_name=feed.name, partitions_def=partitions_def, deps=[feed.raw_key],
                  kinds={"parquet", "polars"}, description=feed.descriptions.normalized, skippable=True),
    ]
    check_specs = [*_check_specs(feed.raw_key, (source.raw_check,), partitions_def),
                   *_check_specs(feed.normalized_key, (SCHEMA_VALID, *feed.normalized_checks), partitions_def)]
    if feed.catalog_key is not None:
        specs.append(AssetSpec(feed.catalog_key, group_name=feed.name, partitions_def=partitions_def,
                               deps=[feed.normalized_key], kinds={"nautilus", "parquet"},
                               description=feed.descriptions.catalog, skippable=True))
        check_specs += _check_specs(feed.catalog_key, (*PUBLICATION_CHECKS, *feed.catalog_checks), partitions_def)
    blocking = {spec.key: spec.blocking for spec in check_specs}

    @multi_asset(
        name=f"{feed.name}_days",
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        pool=source.pool,
        retry_policy=archive_http_retry(),
        backfill_policy=days_per_run_policy(),
        required_resource_keys={source.resource_key, "data_store"},
        description=f"{feed.name}: every partition of the run, one after the other: fetch, normalize, publish.",
    )
    def days(context: AssetExecutionContext) -> Iterator[object]:
        store = context.resources.data_store.store
        source_resource = getattr(context.resources, source.resource_key)
        selected = [k for k in keys if k in context.selected_asset_keys]
        done = _done_in_earlier_attempts(context, selected[-1])
        partition_keys = [str(k) for k in context.partition_keys]

        def one_day(partition_key: str) -> Iterator[object]:
            """The day's events, stage by stage; raises at the first stage that fails."""
            day, symbol = day_and_symbol(partition_key)
            out = _Day(partition_key, blocking)
            if feed.raw_key in selected:
                with fail_closed():
                    metadata, verified = source.fetch(source_resource, source.raw_root(store), feed.files(day, symbol))
                yield from out.materialized(feed.raw_key, MaterializeResult(metadata=_metadata(metadata), check_results=[
                    AssetCheckResult(check_name=source.raw_check.name, passed=True, metadata=verified)]))
                out.raise_if_blocked(f"{feed.name} {symbol} {day}")
            if feed.normalized_key in selected:
                with fail_closed():
                    day_result = normalize_day(feed, store, day, symbol)
                yield from out.materialized(feed.normalized_key, normalized_result(day_result))
                out.raise_if_blocked(f"{feed.name} {symbol} {day}: not published to the catalog")
            if feed.catalog_key is not None and feed.catalog_key in selected:
                if not feed.publisher:
                    yield from out.materialized(feed.catalog_key, not_published_result(feed))
                else:
                    with fail_closed():
                        published = publish_day(feed, store, day, symbol)
                    yield from out.materialized(feed.catalog_key, published_result(published, feed.catalog_checks))
                    out.raise_if_blocked(f"{feed.name} {symbol} {day}")

        failures: dict[str, BaseException] = {}
        for partition_key, event in days_ahead([k for k in partition_keys if k not in done], one_day):
            if not isinstance(event, DayEnd):
                yield event
            elif event.error is not None:  # a bad day fails alone: the run goes on with the others
                exc = event.error
                cause = exc.__cause__ if isinstance(exc, Failure) and exc.__cause__ is not None else exc
                failures[partition_key] = cause
                context.log.error(f"{partition_key} failed: {cause}")
        if feed.normalized_key in selected:
            yield AssetMaterialization(asset_key=report_key, metadata=quality_report_metadata(feed, store))
        if failures:
            raise _failure(failures, len(partition_keys)) from next(iter(failures.values()))

    return [days, build_quality_report_asset(feed)]


def normalized_result(day_result: NormalizedDay) -> MaterializeResult:
    return MaterializeResult(
        metadata=_metadata({**day_result.metadata, **quality_metadata(day_result.report),
                            **({"published_day": day_result.published_day.note}
                               if day_result.published_day else {})}),
        check_results=[AssetCheckResult(check_name=SCHEMA_VALID.name, passed=True, metadata=day_result.validated),
                       *(check_result(v) for v in day_result.verdicts)],
    )


def quality_report_metadata(feed: Feed, store: DataStore) -> dict[str, object]:
    """Writes the rolling 30-day summary of every symbol of the feed; the report asset's metadata."""
    summaries = summarize(feed, store)
    metadata: dict[str, object] = {
        "summary": MetadataValue.md("\n".join(s.markdown for s in summaries.values()) or "no days checked yet")}
    for symbol, summary in summaries.items():
        missing = summary.summary["days_missing_from_catalog"]
        metadata[f"{symbol}_mean_quality_score"] = summary.summary["mean_quality_score"]
        metadata[f"{symbol}_blocked_days"] = len(summary.summary["blocked_days"])
        metadata[f"{symbol}_missing_days"] = MetadataValue.json(
            summary.summary["days_without_report"] if missing is None else missing)
        for kind in ("kept_days", "withdrawn_days", "accepted_findings"):
            if summary.summary[kind]:
                metadata[f"{symbol}_{kind}"] = MetadataValue.json(summary.summary[kind])
    return metadata


def build_quality_report_asset(feed: Feed) -> AssetSpec:
    """``<feed>_quality_report``: the rolling 30-day summary per symbol of the feed's day reports, with the days
    missing from its catalog series (or, for a feed without one, the days without a report).

    Every run that normalizes days rewrites it and reports its materialization (it is cheap), so it is a
    reported asset: nothing to launch, and a backfill of the group adds no daemon tick and no run for it.
    """
    return AssetSpec(
        report_key_of(feed),
        group_name=feed.name,
        deps=[feed.normalized_key],
        kinds={"json", "markdown"},
        description=f"Rolling quality summary of {feed.name} days per symbol (last 30 days), with the days missing "
                    "in that range; rewritten by every run of the group that normalizes days.",
    )


def report_key_of(feed: Feed) -> AssetKey:
    return AssetKey(f"{feed.name}_quality_report")
