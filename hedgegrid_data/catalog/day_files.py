"""Day files of a Nautilus catalog: naming by the day's bounds, atomic replacement, no overlaps.

Nautilus reads and plans intervals from file names only and is not idempotent on re-writes, so
every write here replaces exactly one UTC day: overlapping files of the same identifier are
removed, then the new file is renamed into place.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.persistence.catalog.parquet import _parse_filename_timestamps, _timestamps_to_filename
from nautilus_trader.persistence.funcs import class_to_filename

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.markets import day_bounds_ns

ROW_GROUP_SIZE = 5000  # what ParquetDataCatalog.write_data uses


def data_directory(catalog_root: Path, data_cls: type, identifier: str) -> Path:
    return catalog_root / "data" / class_to_filename(data_cls) / identifier


def day_file_path(catalog_root: Path, data_cls: type, identifier: str, day: dt.date) -> Path:
    start, end = day_bounds_ns(day)
    return data_directory(catalog_root, data_cls, identifier) / _timestamps_to_filename(start, end)


def file_interval(path: Path) -> tuple[int, int] | None:
    return _parse_filename_timestamps(str(path))


def overlapping_files(directory: Path, start: int, end: int) -> list[Path]:
    """Parquet files of ``directory`` whose name-interval intersects [start, end]."""
    if not directory.exists():
        return []
    found = []
    for path in sorted(directory.glob("*.parquet")):
        interval = file_interval(path)
        if interval is not None and interval[0] <= end and start <= interval[1]:
            found.append(path)
    return found


@contextmanager
def day_file_writer(catalog_root: Path, data_cls: type, identifier: str, day: dt.date,
                    schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A ParquetWriter for one day file; on success the day is replaced as a whole, on error nothing changes."""
    target = day_file_path(catalog_root, data_cls, identifier, day)
    start, end = day_bounds_ns(day)
    with atomic_path(target) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            yield writer
        for stale in overlapping_files(target.parent, start, end):
            if stale != target:
                os.remove(stale)


def remove_day(catalog_root: Path, data_cls: type, identifier: str, day: dt.date) -> list[Path]:
    """Remove every file of ``identifier`` that overlaps ``day`` (used when a day fails its checks)."""
    start, end = day_bounds_ns(day)
    removed = overlapping_files(data_directory(catalog_root, data_cls, identifier), start, end)
    for path in removed:
        os.remove(path)
    return removed
