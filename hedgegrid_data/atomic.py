"""Atomic file writes: write to a temporary sibling, then ``os.replace`` onto the final name.

A temporary name says who writes it: ``.<target name>.<host>.<pid>.<random>.tmp``. A writer killed
mid-write (``kill -9``) leaves its temporary file behind; ``remove_orphaned_temp_files`` removes such
files once no live process can own them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Before the writer's host and pid were in the name, it was ``.<target name>.<32 hex>.tmp``.
TEMP_NAME = re.compile(r"^\.(?P<target>.+?)\.(?:(?P<host>[0-9a-f]{8})\.(?P<pid>[0-9]+)\.)?[0-9a-f]{32}\.tmp$")
ORPHAN_AGE = dt.timedelta(hours=1)


def _host_id() -> str:
    """This host (container) as 8 hex digits: a pid means something only on the host that wrote it."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_path_for(target: Path) -> Path:
    return target.with_name(f".{target.name}.{_host_id()}.{os.getpid()}.{uuid.uuid4().hex}.tmp")


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``, on error it is removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_orphaned_temp_files(directory: Path, older_than: dt.timedelta = ORPHAN_AGE, *,
                               recursive: bool = False) -> list[Path]:
    """Remove the temporary files of ``atomic_path`` in ``directory`` that no live writer owns; return them.

    Only names of exactly ``atomic_path``'s pattern are considered. One written on this host by a
    process that no longer exists is removed at once; any other (another host's, or an older name
    without a pid, or a live pid that may be a reused one) only once unmodified for ``older_than``.
    Call it before writing into ``directory``; ``recursive`` sweeps its sub-directories too.
    """
    if not directory.is_dir():
        return []
    host, now = _host_id(), time.time()
    removed: list[Path] = []
    for path in directory.rglob(".*.tmp") if recursive else directory.glob(".*.tmp"):
        match = TEMP_NAME.match(path.name)
        if match is None or not path.is_file() or path.is_symlink():
            continue
        ours = match["host"] == host and match["pid"] is not None
        if ours and int(match["pid"]) == os.getpid():
            continue
        try:
            stale = now - path.stat().st_mtime > older_than.total_seconds()
            if (ours and not _pid_alive(int(match["pid"]))) or stale:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue  # its writer finished (or another sweep removed it) meanwhile
    return removed
