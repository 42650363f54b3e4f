"""Glue shared by every asset module: failing closed into a Dagster ``Failure``, readable metadata, quality
results as asset checks and metadata, and the rolling quality report asset of a dataset group."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from hedgegrid_data.catalog.publication import PublishedDay
from hedgegrid_data.errors import ArchiveDataError, DownloadError, HedgegridDataError
from hedgegrid_data.quality.findings import Severity, Verdict
from hedgegrid_data.quality.summaries import CatalogSeries, write_quality_summaries
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.venues.binance import Market


@contextmanager
def fail_closed() -> Iterator[None]:
    """Turn a pipeline error into a Dagster ``Failure`` whose description names the file (and line)."""
    try:
        yield
    except HedgegridDataError as exc:
        metadata: dict[str, object] = {"error": type(exc).__name__}
        if isinstance(exc, ArchiveDataError):
            metadata["file"] = exc.file
            if exc.line is not None:
                metadata["line"] = exc.line
        raise Failure(description=str(exc), metadata=metadata, allow_retries=isinstance(exc, DownloadError)) from exc


def path_metadata(path: object) -> MetadataValue:
    return MetadataValue.path(str(path))


def check_result(verdict: Verdict) -> AssetCheckResult:
    """A quality verdict as a Dagster asset-check result; lists and mappings become JSON metadata."""
    metadata = {k: MetadataValue.json(v) if isinstance(v, (list, dict)) else v for k, v in verdict.metadata.items()}
    return AssetCheckResult(
        check_name=verdict.check,
        passed=verdict.passed,
        severity=AssetCheckSeverity.ERROR if verdict.severity is Severity.ERROR else AssetCheckSeverity.WARN,
        description=verdict.summary,
        metadata={"summary": verdict.summary, **metadata},
    )


PUBLICATION_CHECKS = {
    "rows_in_equals_rows_out": "The day file holds as many rows as the normalized day it was made from.",
    "catalog_integrity": "The day reads back through Nautilus as published; no overlapping files.",
}


def publication_check_specs(asset_name: str) -> list[AssetCheckSpec]:
    """The checks of a catalog asset that publishes one day file per partition."""
    return [AssetCheckSpec(name, asset=asset_name, blocking=True, description=text)
            for name, text in PUBLICATION_CHECKS.items()]


def published_day_result(day: PublishedDay, **metadata: object) -> MaterializeResult:
    """A published day as materialization metadata and its ``publication_check_specs`` results."""
    return MaterializeResult(
        metadata={"rows": day.rows_out, "instrument_id": day.instrument_id, "bytes": day.bytes,
                  "path": path_metadata(day.path) if day.path else day.integrity.summary,
                  **metadata},
        check_results=[
            AssetCheckResult(check_name="rows_in_equals_rows_out", passed=day.rows_in == day.rows_out,
                             severity=AssetCheckSeverity.ERROR,
                             metadata={"rows_in": day.rows_in, "rows_out": day.rows_out}),
            check_result(day.integrity),
        ],
    )


def not_published_result(trade_source: str) -> MaterializeResult:
    """A trade dataset's catalog asset when the ``trade_source`` resource names the other dataset."""
    not_published = {"published": False, "trade_source": trade_source}
    return MaterializeResult(metadata=not_published, check_results=[
        AssetCheckResult(check_name=name, passed=True, metadata=not_published) for name in PUBLICATION_CHECKS])


def quality_metadata(report: dict) -> dict[str, float]:
    """A day report's score, completeness and validity: normalized-asset metadata, plotted over partitions."""
    return {key: report[key] for key in ("quality_score", "completeness", "validity")}


def build_quality_report_asset(market: Market, group: str, dataset: str, normalized: AssetsDefinition,
                               catalog_series: CatalogSeries | None = None) -> AssetsDefinition:
    """``<group>_quality_report``: the rolling 30-day summary per symbol of ``dataset``'s day reports.

    ``catalog_series(symbol)`` names the catalog series the days land in, so the summary lists the days
    missing from it; without one (a dataset with no catalog) it lists the days without a report.
    """

    @asset(
        name=f"{group}_quality_report",
        group_name=group,
        deps=[normalized],
        kinds={"json", "markdown"},
        description=f"Rolling quality summary of Binance {market.value} {dataset} days per symbol (last 30 days), "
                    "with the days missing in that range.",
    )
    def quality_report(data_store: DataStoreResource) -> MaterializeResult:
        summaries = write_quality_summaries(data_store.store, market, dataset, catalog_series=catalog_series)
        metadata: dict[str, object] = {
            "summary": MetadataValue.md("\n".join(s.markdown for s in summaries.values()) or "no days checked yet")}
        for symbol, summary in summaries.items():
            missing = summary.summary["days_missing_from_catalog"]
            metadata[f"{symbol}_mean_quality_score"] = summary.summary["mean_quality_score"]
            metadata[f"{symbol}_blocked_days"] = len(summary.summary["blocked_days"])
            metadata[f"{symbol}_missing_days"] = MetadataValue.json(
                summary.summary["days_without_report"] if missing is None else missing)
        return MaterializeResult(metadata=metadata)

    return quality_report
