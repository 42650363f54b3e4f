"""``hedgegrid-data ingest``: the selected days through the assets' own pipeline, day by day.

Each day × feed × symbol runs what the feed's ``<feed>_days`` step runs for a partition (``assets/factory.py``):
``feed.source.fetch`` with the resource the assets use (the one ``definitions.py`` configures), then the day
recipe's ``normalize_day`` and, for the declared publisher, ``publish_day`` (``feeds/recipe.py``), which publishes
the day atomically. A day failing any step (not published by the source yet, bad bytes, a failed blocking check)
is reported and the command goes on with the next; it exits non-zero when any day failed.

``--via-dagster`` materializes each day instead as a run of the feed's assets in the Dagster instance of
``DAGSTER_HOME`` (``dagster.materialize``, in process), so the UI shows the runs, materializations and checks.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hedgegrid_data.cli.progress import DayResult
from hedgegrid_data.cli.selection import Selection
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import normalize_day, publish_day, summarize
from hedgegrid_data.quality.findings import blocking
from hedgegrid_data.store import DataStore

Report = Callable[[DayResult], None]


def _sum_metadata(metadata: dict[str, object], name: str) -> int:
    """``name`` in metadata, else the sum of its per-file or per-interval values (``1m_bytes``, ...)."""
    if isinstance(metadata.get(name), int):
        return int(metadata[name])  # type: ignore[arg-type]
    return sum(int(v) for k, v in metadata.items() if k.endswith(f"_{name}") and isinstance(v, int)
               and not k.startswith(("source_", "month_")))


def _describe(exc: BaseException) -> str:
    from hedgegrid_data.assets.common import error_description

    text = error_description(exc)
    return text if isinstance(exc, HedgegridDataError) else f"{type(exc).__name__}: {text}"


def ingest_day(feed: Feed, store: DataStore, resource: Any, day: dt.date, symbol: str) -> DayResult:
    """One day of one feed and symbol, fetched, normalized and (by its declared publisher) published."""
    started = time.monotonic()
    fetched_bytes = rows = 0
    try:
        fetched, _ = feed.source.fetch(resource, feed.source.raw_root(store), feed.files(day, symbol))
        fetched_bytes = _sum_metadata(fetched, "bytes")
        normalized = normalize_day(feed, store, day, symbol)
        rows = _sum_metadata(normalized.metadata, "rows")
        blocked = blocking(normalized.verdicts)
        if blocked:
            raise HedgegridDataError("blocking checks failed, not published: "
                                     + "; ".join(f"{v.check}: {v.summary}" for v in blocked))
        if feed.publishes is not None and feed.publisher:
            published = publish_day(feed, store, day, symbol)
            problems = published.blocking_failures(feed.catalog_checks)
            if problems:
                raise HedgegridDataError("publication checks failed: " + "; ".join(problems))
            rows = sum(d.rows_out for d in published.days.values()) or rows
    except Exception as exc:  # noqa: BLE001 - a bad day fails alone, as in the assets' step
        return DayResult(feed.name, symbol, day, False, rows, fetched_bytes, time.monotonic() - started,
                         _describe(exc))
    return DayResult(feed.name, symbol, day, True, rows, fetched_bytes, time.monotonic() - started)


@contextmanager
def source_resources(feeds: Sequence[Feed]) -> Iterator[dict[str, Any]]:
    """The sources' resources exactly as the assets get them: ``definitions.py``'s, with environment variables
    resolved by Dagster."""
    from dagster import build_resources

    from hedgegrid_data.definitions import defs

    keys = sorted({f.source.resource_key for f in feeds})
    missing = [k for k in keys if k not in defs.resources]
    if missing:
        raise HedgegridDataError(f"definitions.py configures no resource {missing} for the selected feeds")
    with build_resources({k: defs.resources[k] for k in keys}) as resources:
        yield {k: getattr(resources, k) for k in keys}


def ingest(selection: Selection, store: DataStore, started: Callable[[str], None], report: Report
           ) -> list[DayResult]:
    """Every day of the selection without Dagster runs; ``report`` gets each day's result as it finishes. The
    feeds' rolling quality summaries are rewritten at the end, as the assets' step does after its days."""
    results: list[DayResult] = []
    try:
        with source_resources(selection.feeds) as resources:
            for day, feed, symbol in selection.units():
                started(f"{feed.name} {symbol} {day}")
                result = ingest_day(feed, store, resources[feed.source.resource_key], day, symbol)
                report(result)
                results.append(result)
    finally:
        for feed in selection.feeds:
            if any(r.feed == feed.name for r in results):
                summarize(feed, store)
    return results


def _run_result(feed: Feed, symbol: str, day: dt.date, result: Any, seconds: float) -> DayResult:
    """A run of one partition as a day's result: rows and bytes from its materializations' metadata."""
    metadata: dict[str, dict[str, object]] = {}
    for event in result.get_asset_materialization_events():
        values = {k: v.value for k, v in event.materialization.metadata.items()}
        metadata[event.asset_key.to_user_string()] = values
    fetched = _sum_metadata(metadata.get(feed.raw_key.to_user_string(), {}), "bytes")
    rows = _sum_metadata(metadata.get(feed.final_key.to_user_string(), {}), "rows") or _sum_metadata(
        metadata.get(feed.normalized_key.to_user_string(), {}), "rows")
    if result.success:
        return DayResult(feed.name, symbol, day, True, rows, fetched, seconds)
    errors = []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            described = data.user_failure_data.description if data.user_failure_data else None
            errors.append(described or (data.error.message.strip() if data.error else "step failed"))
    return DayResult(feed.name, symbol, day, False, rows, fetched, seconds,
                     "; ".join(errors) or f"run {result.run_id} failed")


def ingest_via_dagster(selection: Selection, store: DataStore, started: Callable[[str], None], report: Report
                       ) -> list[DayResult]:
    """Every day of the selection as a run of its feed's assets in the ``DAGSTER_HOME`` instance (one run per
    day and symbol, so each shows in the UI with its materializations and checks); Dagster's own console log is
    kept to critical messages (the progress display reports each day, the UI has the run's log)."""
    from dagster import DagsterInstance, materialize

    from hedgegrid_data.assets.factory import build_feed_assets
    from hedgegrid_data.definitions import defs
    from hedgegrid_data.resources import DataStoreResource

    assets = {feed.name: build_feed_assets(feed)[0] for feed in selection.feeds}
    run_config = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    results = []
    with DagsterInstance.get() as instance:
        for day, feed, symbol in selection.units():
            started(f"{feed.name} {symbol} {day}")
            resources = {feed.source.resource_key: defs.resources[feed.source.resource_key],
                         "data_store": DataStoreResource(data_dir=str(store.root))}
            begin = time.monotonic()
            try:
                run = materialize([assets[feed.name]], partition_key=feed.partition_key(day, symbol),
                                  instance=instance, resources=resources, run_config=run_config,
                                  selection=list(feed.partitioned_keys), raise_on_error=False,
                                  tags={"hedgegrid/launched_by": "hedgegrid-data ingest"})
                result = _run_result(feed, symbol, day, run, time.monotonic() - begin)
            except Exception as exc:  # noqa: BLE001 - a day whose run cannot start fails alone
                result = DayResult(feed.name, symbol, day, False, 0, 0, time.monotonic() - begin, _describe(exc))
            report(result)
            results.append(result)
    return results
