"""Catalog integrity: a day file reads back through Nautilus' own decoder as the rows we meant to publish,
no two files of an identifier overlap, and the days missing from a range are listed.

Reading a whole day back as Python objects costs seconds per million rows, so the file's row count
comes from its footer and the first and last row groups are decoded by Nautilus' ``ArrowSerializer``.
``MarkPriceUpdate`` has no Arrow decoder in 1.220 (only the Rust backend session a backtest reads
through), so its day (1,440 rows) is read whole through that session.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import MarkPriceUpdate, capsule_to_list
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.catalog.parquet import _are_intervals_disjoint
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from hedgegrid_data.catalog.day_files import data_directory, file_interval
from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.quality.findings import Severity, Verdict

READ_BY_BACKEND_SESSION = (MarkPriceUpdate,)


def _decode_row(parquet: pq.ParquetFile, group: int, row: int, data_cls: type) -> object:
    """Row ``row`` (negative from the end) of row group ``group``, decoded alone."""
    table = parquet.read_row_group(group)
    [decoded] = ArrowSerializer.deserialize(data_cls=data_cls, batch=table.slice(row % table.num_rows, 1))
    return decoded


def _decode_edges(path: Path, parquet: pq.ParquetFile, data_cls: type) -> tuple[object, object]:
    if data_cls in READ_BY_BACKEND_SESSION:
        session = ParquetDataCatalog(str(path.parent)).backend_session(data_cls, files=[str(path)])
        decoded = [item for chunk in session.to_query_result() for item in capsule_to_list(chunk)]
        return decoded[0], decoded[-1]
    return _decode_row(parquet, 0, 0, data_cls), _decode_row(parquet, parquet.num_row_groups - 1, -1, data_cls)


def check_day_file(path: Path, data_cls: type, expected_rows: int, expected_first: tuple, expected_last: tuple,
                   as_tuple) -> Verdict:
    """The file holds ``expected_rows`` and its first/last objects (as ``as_tuple(obj)``) are the expected ones."""
    parquet = pq.ParquetFile(path)
    rows = parquet.metadata.num_rows
    first, last = (as_tuple(obj) for obj in _decode_edges(path, parquet, data_cls)) if rows else (None, None)
    problems = []
    if rows != expected_rows:
        problems.append(f"{rows} rows, expected {expected_rows}")
    if first != expected_first:
        problems.append(f"first row {first}, expected {expected_first}")
    if last != expected_last:
        problems.append(f"last row {last}, expected {expected_last}")
    return Verdict(
        "catalog_integrity", not problems, Severity.ERROR,
        "; ".join(problems) or f"{rows} rows read back through Nautilus, first and last as published",
        {"rows": rows, "first": list(first or ()), "last": list(last or ()), "file": path.name},
    )


def of_day_files(verdicts: dict[str, Verdict]) -> Verdict:
    """One ``catalog_integrity`` verdict for a day's several files (e.g. one per bar type), metadata per label."""
    failed = {label: v for label, v in verdicts.items() if not v.passed}
    return Verdict(
        "catalog_integrity", not failed, Severity.ERROR,
        "; ".join(f"{label}: {v.summary}" for label, v in failed.items())
        or f"{len(verdicts)} day files read back through Nautilus, first and last as published",
        {f"{label}_{key}": value for label, v in verdicts.items() for key, value in v.metadata.items()},
    )


def edge_rows(table: pa.Table) -> tuple[dict, dict]:
    """The first and last rows of a non-empty table as Python values, timestamps as epoch nanoseconds."""
    table = pa.table({name: column.cast(pa.int64()) if pa.types.is_timestamp(column.type) else column
                      for name, column in zip(table.column_names, table.columns)})
    return table.slice(0, 1).to_pylist()[0], table.slice(table.num_rows - 1).to_pylist()[0]


def parquet_edge_rows(path: Path, columns: list[str]) -> tuple[int, dict, dict]:
    """Row count (from the footer) and ``edge_rows`` of a non-empty parquet file, reading two row groups only."""
    parquet = pq.ParquetFile(path)
    first = parquet.read_row_group(0, columns=columns)
    last = parquet.read_row_group(parquet.num_row_groups - 1, columns=columns)
    return parquet.metadata.num_rows, edge_rows(first)[0], edge_rows(last)[1]


def overlapping_files(catalog_root: Path, data_cls: type, identifier: str) -> list[str]:
    """Names of files whose intervals are not disjoint (Nautilus' own test), empty when all is well."""
    directory = data_directory(catalog_root, data_cls, identifier)
    files = sorted(directory.glob("*.parquet")) if directory.exists() else []
    intervals = sorted((file_interval(p), p.name) for p in files if file_interval(p) is not None)
    if _are_intervals_disjoint([i for i, _ in intervals]):
        return []
    return [name for (a, name), (b, _) in zip(intervals, intervals[1:], strict=False) if b[0] <= a[1]]


def missing_days(catalog_root: Path, data_cls: type, identifier: str, first: dt.date, last: dt.date) -> list[str]:
    """UTC days of [first, last] without data, by Nautilus' own interval logic."""
    catalog = ParquetDataCatalog(str(catalog_root))
    start, _ = day_bounds_ns(first)
    _, end = day_bounds_ns(last)
    gaps = catalog.get_missing_intervals_for_request(start, end, data_cls, identifier)
    days = []
    for gap_start, gap_end in gaps:
        day = dt.datetime.fromtimestamp(gap_start // 10**9, dt.timezone.utc).date()
        while day_bounds_ns(day)[0] <= gap_end:
            days.append(day.isoformat())
            day += dt.timedelta(days=1)
    return days
