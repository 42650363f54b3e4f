"""The asset factory: the same Dagster group for every feed.

``build_feed_assets(feed)`` returns, in pipeline order, the day × symbol partitioned assets

- ``<feed>_raw``: the partition's source files, fetched and verified by the feed's source (its ``raw_check``);
- ``<feed>_normalized``: the day recipe's ``normalize_day`` (the canonical table, ``schema_valid`` and the feed's
  quality checks);
- ``<feed>_catalog`` (feeds that publish a Nautilus type): the recipe's ``publish_day``, with the blocking
  ``rows_in_equals_rows_out`` and ``catalog_integrity`` checks and the feed's own catalog checks; a feed that is
  not its instruments' declared publisher records that it published nothing;

and the unpartitioned ``<feed>_quality_report`` (the rolling 30-day summary per symbol).
"""


from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from hedgegrid_data.assets.common import check_result, fail_closed, quality_metadata
from hedgegrid_data.assets.policies import archive_http_retry
from hedgegrid_data.feeds.feed import CheckSpec, Feed
from hedgegrid_data.feeds.recipe import PublishedDays, normalize_day, publish_day
from hedgegrid_data.partitions import day_and_symbol
from hedgegrid_data.quality import findings
from hedgegrid_data.quality.summaries import write_quality_summaries
from hedgegrid_data.resources import DataStoreResource

SCHEMA_VALID = CheckSpec(findings.SCHEMA_VALID, True, "Every row parsed exactly and passed the table's rules.")
PUBLICATION_CHECKS = (
    CheckSpec("rows_in_equals_rows_out", True, "The day file holds as many rows as the normalized day it was made "
                                               "from."),
    CheckSpec("catalog_integrity", True, "The day reads back through Nautilus as published; no overlapping files."),
)


def _specs(asset_name: str, checks: tuple[CheckSpec, ...]) -> list[AssetCheckSpec]:
    return [AssetCheckSpec(c.name, asset=asset_name, blocking=c.blocking, description=c.description or None)
            for c in checks]


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
            AssetCheckResult(check_name="rows_in_equals_rows_out", severity=AssetCheckSeverity.ERROR,
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


def build_feed_assets(feed: Feed) -> list[AssetsDefinition]:
    source = feed.source
    raw_name, normalized_name = feed.raw_key.to_user_string(), feed.normalized_key.to_user_string()

    @asset(
        name=raw_name,
        group_name=feed.name,
        partitions_def=feed.partitions_def,
        pool=source.pool,
        retry_policy=archive_http_retry(),
        kinds=set(source.kinds),
        description=feed.descriptions.raw,
        check_specs=_specs(raw_name, (source.raw_check,)),
        required_resource_keys={source.resource_key, "data_store"},
    )
    def raw(context: AssetExecutionContext) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        store = context.resources.data_store.store
        with fail_closed():
            metadata, verified = source.fetch(getattr(context.resources, source.resource_key),
                                              source.raw_root(store), feed.files(day, symbol))
        return MaterializeResult(metadata=_metadata(metadata), check_results=[
            AssetCheckResult(check_name=source.raw_check.name, passed=True, metadata=verified)])

    @asset(
        name=normalized_name,
        group_name=feed.name,
        partitions_def=feed.partitions_def,
        deps=[raw],
        kinds={"parquet", "polars"},
        description=feed.descriptions.normalized,
        check_specs=_specs(normalized_name, (SCHEMA_VALID, *feed.normalized_checks)),
    )
    def normalized(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
        day, symbol = day_and_symbol(context.partition_key)
        with fail_closed():
            day_result = normalize_day(feed, data_store.store, day, symbol)
        return MaterializeResult(
            metadata=_metadata({**day_result.metadata, **quality_metadata(day_result.report),
                                **({"published_day": day_result.published_day.note}
                                   if day_result.published_day else {})}),
            check_results=[AssetCheckResult(check_name=SCHEMA_VALID.name, passed=True, metadata=day_result.validated),
                           *(check_result(v) for v in day_result.verdicts)],
        )

    assets = [raw, normalized]
    if feed.catalog_key is not None:
        catalog_name = feed.catalog_key.to_user_string()

        @asset(
            name=catalog_name,
            group_name=feed.name,
            partitions_def=feed.partitions_def,
            deps=[normalized],
            kinds={"nautilus", "parquet"},
            description=feed.descriptions.catalog,
            check_specs=_specs(catalog_name, (*PUBLICATION_CHECKS, *feed.catalog_checks)),
        )
        def catalog(context: AssetExecutionContext, data_store: DataStoreResource) -> MaterializeResult:
            if not feed.publisher:
                return not_published_result(feed)
            day, symbol = day_and_symbol(context.partition_key)
            with fail_closed():
                published = publish_day(feed, data_store.store, day, symbol)
            return published_result(published, feed.catalog_checks)

        assets.append(catalog)
    return [*assets, build_quality_report_asset(feed, normalized)]


def build_quality_report_asset(feed: Feed, normalized: AssetsDefinition) -> AssetsDefinition:
    """``<feed>_quality_report``: the rolling 30-day summary per symbol of the feed's day reports, with the days
    missing from its catalog series (or, for a feed without one, the days without a report)."""

    @asset(
        name=f"{feed.name}_quality_report",
        group_name=feed.name,
        deps=[normalized],
        kinds={"json", "markdown"},
        description=f"Rolling quality summary of {feed.name} days per symbol (last 30 days), with the days missing "
                    "in that range.",
    )
    def quality_report(data_store: DataStoreResource) -> MaterializeResult:
        store = data_store.store
        summaries = write_quality_summaries(store.quality_directory(feed.source.name, feed.market, feed.dataset),
                                            store.catalog, f"{feed.market} {feed.dataset}",
                                            catalog_series=feed.report_series)
        metadata: dict[str, object] = {
            "summary": MetadataValue.md("\n".join(s.markdown for s in summaries.values()) or "no days checked yet")}
        for symbol, summary in summaries.items():
            missing = summary.summary["days_missing_from_catalog"]
            metadata[f"{symbol}_mean_quality_score"] = summary.summary["mean_quality_score"]
            metadata[f"{symbol}_blocked_days"] = len(summary.summary["blocked_days"])
            for kind in ("kept_days", "withdrawn_days", "accepted_findings"):
                if summary.summary[kind]:
                    metadata[f"{symbol}_{kind}"] = MetadataValue.json(summary.summary[kind])
            metadata[f"{symbol}_missing_days"] = MetadataValue.json(
                summary.summary["days_without_report"] if missing is None else missing)
        return MaterializeResult(metadata=metadata)

    return quality_report
