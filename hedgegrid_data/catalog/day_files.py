"""Day files of a Nautilus catalog: naming by the day's bounds, staging, atomic promotion, no overlaps.

Nautilus reads and plans intervals from file names only and is not idempotent on re-writes, so
every day is written whole into a staging tree with the catalog's layout, then promoted: files of
the same identifier overlapping the day are removed and the staged file is linked into place by
an atomic rename. The staged file stays, so promoting again is cheap and exact.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
from nautilus_trader.persistence.catalog.parquet import (
    _parse_filename_timestamps,
    _timestamps_to_filename,
)
from nautilus_trader.persistence.funcs import class_to_filename

from hedgegrid_data.atomic import atomic_parquet_writer, atomic_path
from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.errors import HedgegridDataError

ROW_GROUP_SIZE = 5000  # what ParquetDataCatalog.write_data uses; with its defaults the bytes are identical


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
def day_file_writer(root: Path, data_cls: type, identifier: str, day: dt.date, schema: pa.Schema,
                    dictionary_columns: list[str] | None = None,
                    statistics_columns: list[str] | None = None) -> Iterator[Callable[[pa.RecordBatch], None]]:
    """Yield ``write(batch)`` for one day file under ``root``; the file appears only if the block succeeds.

    Row groups hold exactly ``ROW_GROUP_SIZE`` rows whatever the batch sizes, as ``write_data``
    writes them; with the default dictionary encoding and statistics of every column the file is
    byte-identical to Nautilus' own. ``dictionary_columns`` limits dictionaries to the columns whose
    values repeat, ``statistics_columns`` the row-group statistics to those a reader uses.
    """
    pending: list[pa.RecordBatch] = []  # the start of the next row group, fewer than ROW_GROUP_SIZE rows
    with atomic_parquet_writer(day_file_path(root, data_cls, identifier, day), schema, ROW_GROUP_SIZE,
                               use_dictionary=True if dictionary_columns is None else dictionary_columns,
                               write_statistics=True if statistics_columns is None else statistics_columns) as write:

        def write_whole_groups(batch: pa.RecordBatch) -> None:
            held = sum(b.num_rows for b in pending)
            if held:
                need = ROW_GROUP_SIZE - held
                if batch.num_rows < need:
                    pending.append(batch)
                    return
                write(pa.Table.from_batches([*pending, batch.slice(0, need)]))
                pending.clear()
                batch = batch.slice(need)
            whole = batch.num_rows - batch.num_rows % ROW_GROUP_SIZE
            if whole:
                write(batch.slice(0, whole))
            if whole < batch.num_rows:
                pending.append(batch.slice(whole))

        yield write_whole_groups
        if pending:
            write(pa.Table.from_batches(pending))


def write_day_table(root: Path, data_cls: type, identifier: str, day: dt.date, table: pa.Table,
                    statistics_columns: list[str] | None = None) -> Path:
    """Write a whole day's rows (already in the catalog's schema) as its day file under ``root``; atomic."""
    with day_file_writer(root, data_cls, identifier, day, table.schema, statistics_columns=statistics_columns) as write:
        for batch in table.to_batches():
            write(batch)
    return day_file_path(root, data_cls, identifier, day)


def promote_day(staging_root: Path, catalog_root: Path, data_cls: type, identifier: str, day: dt.date) -> Path:
    """Replace ``day`` of ``identifier`` in the catalog with its staged file; returns the catalog path."""
    staged = day_file_path(staging_root, data_cls, identifier, day)
    if not staged.exists():
        raise HedgegridDataError(f"{staged}: no staged {data_cls.__name__} day to promote; materialize it first")
    target = day_file_path(catalog_root, data_cls, identifier, day)
    start, end = day_bounds_ns(day)
    for stale in overlapping_files(target.parent, start, end):
        if stale != target:
            os.remove(stale)
    with atomic_path(target) as tmp:
        try:
            os.link(staged, tmp)
        except OSError:
            shutil.copyfile(staged, tmp)
    return target


def remove_day(root: Path, data_cls: type, identifier: str, day: dt.date) -> list[Path]:
    """Remove every file of ``identifier`` under ``root`` that overlaps ``day``."""
    start, end = day_bounds_ns(day)
    removed = overlapping_files(data_directory(root, data_cls, identifier), start, end)
    for path in removed:
        os.remove(path)
    return removed
