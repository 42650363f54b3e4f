"""Publishing a staged day: it must read back through Nautilus as what was meant, then it replaces the catalog day.

Every dataset publishes the same way: the staged day file holds the expected row count and its first
and last rows decode (through Nautilus' own decoder) to the expected ones, or nothing is published;
after promotion no two files of the identifier may overlap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from hedgegrid_data.catalog.day_files import day_file_path, promote_day
from hedgegrid_data.catalog.integrity import check_day_file, overlapping_files
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.quality.findings import Severity, Verdict


@dataclass(frozen=True)
class PublishedDay:
    """One day file promoted into the catalog; ``rows_in`` counts what it was made from. A day with nothing
    to publish (``empty``) has no ``path``: it has no file, and any earlier one was removed."""

    path: Path | None
    instrument_id: str
    rows_in: int
    rows_out: int
    bytes: int
    integrity: Verdict

    @classmethod
    def empty(cls, instrument_id: str, why: str) -> PublishedDay:
        return cls(None, instrument_id, 0, 0, 0, Verdict("catalog_integrity", True, Severity.ERROR, why, {"rows": 0}))


def verify_staged(staging_root: Path, data_cls: type, identifier: str, day: dt.date, rows: int,
                  first: tuple, last: tuple, as_tuple: Callable[[object], tuple]) -> Verdict:
    """The staged day reads back as ``rows`` rows whose first and last are ``first``/``last``; else raise."""
    staged = day_file_path(staging_root, data_cls, identifier, day)
    if not staged.exists():
        raise HedgegridDataError(f"{staged}: no staged {data_cls.__name__} day to promote; materialize the "
                                 "normalized day first")
    integrity = check_day_file(staged, data_cls, rows, first, last, as_tuple)
    if integrity.blocks:
        raise HedgegridDataError(f"{staged}: {integrity.summary}; not published")
    return integrity


def promote_verified(staging_root: Path, catalog_root: Path, data_cls: type, identifier: str, day: dt.date,
                     instrument_id: str, rows_in: int, integrity: Verdict) -> PublishedDay:
    """Promote a day ``verify_staged`` passed; raise if the identifier's files overlap afterwards."""
    path = promote_day(staging_root, catalog_root, data_cls, identifier, day)
    overlapping = overlapping_files(catalog_root, data_cls, identifier)
    if overlapping:
        raise HedgegridDataError(f"{path.parent}: files overlap after promotion: {overlapping}")
    return PublishedDay(path=path, instrument_id=instrument_id, rows_in=rows_in,
                        rows_out=pq.ParquetFile(path).metadata.num_rows, bytes=path.stat().st_size,
                        integrity=integrity)
