"""Atomic file writes: write to a temporary sibling, then ``os.replace`` onto the final name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


@contextmanager
def atomic_parquet_writer(target: Path, schema: pa.Schema, row_group_size: int | None = None,
                          **writer_options: object) -> Iterator[Callable[[pa.RecordBatch | pa.Table], None]]:
    """Yield ``write(batch or table)`` streaming into a parquet file that appears at ``target`` only if the block
    succeeds."""
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, schema, **writer_options) as writer:
        yield lambda data: writer.write(data, row_group_size=row_group_size)
