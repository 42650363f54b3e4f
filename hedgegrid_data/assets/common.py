"""Glue shared by every asset module: failing closed into a Dagster ``Failure``, quality verdicts as asset-check
results and metadata."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    Failure,
    MetadataValue,
)

from hedgegrid_data.errors import ArchiveDataError, DownloadError, HedgegridDataError
from hedgegrid_data.quality.findings import Severity, Verdict


@contextmanager
def fail_closed() -> Iterator[None]:
    """Turn a pipeline error into a Dagster ``Failure`` whose description names the file (and line) and, after a
    failed rebuild of a published day, what became of it (the error's notes)."""
    try:
        yield
    except HedgegridDataError as exc:
        metadata: dict[str, object] = {"error": type(exc).__name__}
        if isinstance(exc, ArchiveDataError):
            metadata["file"] = exc.file
            if exc.line is not None:
                metadata["line"] = exc.line
        if exc.published_day is not None:
            metadata["published_day"] = exc.published_day
        raise Failure(description=error_description(exc), metadata=metadata,
                      allow_retries=isinstance(exc, DownloadError)) from exc


def error_description(exc: BaseException) -> str:
    """An error as a person reads it: its message, then its notes (what became of a published day)."""
    return "; ".join([str(exc), *getattr(exc, "__notes__", [])])


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


def quality_metadata(report: dict) -> dict[str, float]:
    """A day report's score, completeness and validity: normalized-asset metadata, plotted over partitions."""
    return {key: report[key] for key in ("quality_score", "completeness", "validity")}
