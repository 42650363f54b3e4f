"""A landed file's decompressed bytes as a stream, chosen by its name: plain, ``.gz``, ``.bz2``, ``.zst``
(``.zstd``) or ``.zip`` (exactly one member). Arrow inflates gzip, bzip2 and zstd itself (no extra package);
a truncated or corrupt stream raises while it is read, which the reader turns into an error naming the file;
a zip's member is checked against its CRC-32 when read to its end."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyarrow as pa

from hedgegrid_data.errors import ArchiveDataError

COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


def compression_of(path: Path) -> str | None:
    """``gzip``, ``bz2``, ``zstd``, ``zip`` or None (plain text)."""
    suffix = path.suffix.lower()
    return "zip" if suffix == ".zip" else COMPRESSIONS.get(suffix)


def csv_name(path: Path) -> str:
    """The name of the CSV inside (the file's name without its compression suffix)."""
    return path.stem if compression_of(path) else path.name


@contextmanager
def open_stream(path: Path) -> Iterator[IO[bytes] | pa.NativeFile]:
    """The decompressed bytes of ``path``; a zip must hold exactly one file."""
    compression = compression_of(path)
    if compression != "zip":
        with pa.input_stream(str(path), compression=compression) as stream:
            yield stream
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveDataError(path.name, f"not a readable zip: {exc}") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise ArchiveDataError(path.name, f"a zip must hold exactly one CSV, this one holds "
                                              f"{[m.filename for m in members]}")
        with archive.open(members[0]) as member:
            yield member
