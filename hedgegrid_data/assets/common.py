"""Glue shared by every asset module: failing closed into a Dagster ``Failure`` and readable metadata."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Failure, MetadataValue

from hedgegrid_data.errors import ArchiveDataError, DownloadError, HedgegridDataError


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


def utc_text(ns: int | None) -> str:
    if ns is None:
        return ""
    seconds, rest = divmod(ns, 10**9)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{rest:09d}Z"


def path_metadata(path: object) -> MetadataValue:
    return MetadataValue.path(str(path))
