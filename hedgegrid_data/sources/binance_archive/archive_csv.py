"""Reading Binance archive CSVs out of their zips: header detection, streaming blocks, line-accurate errors.

Every value is read as text (blocks of text columns, ``sources/text_columns.py``); the dataset modules turn text
into exact types. Nothing here knows
what the columns mean. A zip is hostile until read: its member must inflate within ``ZipLimits``
(size, compression ratio, line length), so a small zip cannot make a reader hold gigabytes.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from zlib_ng import zlib_ng

from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.inflation import DEFAULT_ZIP_LIMITS, ZipLimits
from hedgegrid_data.sources.text_columns import (
    QUOTED_CHARS,
    TextBlock,
    fail_at_first,
)

BLOCK_SIZE = 4 << 20  # Arrow refuses a row that does not fit in a block, so this also bounds a line it reads
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031  # Linux fcntl: grow the pipe buffer
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, zlib_ng.error, EOFError, OSError, ValueError, struct.error)
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local file header (APPNOTE 4.3.7)




class _LineTooLong(ArchiveDataError):
    """A line of the CSV is longer than ``ZipLimits.max_line_bytes``."""


def _checked_member(zip_path: Path, limits: ZipLimits) -> zipfile.ZipInfo:
    """The zip's one member, refused unless it is a plain deflated (or stored) file within ``limits``."""
    name = zip_path.name
    with zipfile.ZipFile(zip_path) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
    if len(members) != 1:
        raise ArchiveDataError(name, f"expected one CSV in the zip, found {len(members)} members: "
                                     f"{[m.filename[:QUOTED_CHARS] for m in members[:5]]}")
    member = members[0]
    shown = member.filename[:QUOTED_CHARS]
    if member.flag_bits & 0x1:
        raise ArchiveDataError(name, f"{shown} is encrypted; Binance archives are not")
    if member.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        raise ArchiveDataError(name, f"{shown} is compressed with method {member.compress_type}; "
                                     "Binance archives use deflate")
    limits.check(name, shown, member.file_size, member.compress_size, declared=True)
    return member


def _inflated_chunks(zip_path: Path, chunk_size: int, limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> Iterator[bytes]:
    """The zip's one member, inflated with zlib-ng (twice zlib's speed) and checked against its CRC-32 and size.

    Reads the member's deflate stream where its local header says it starts, as ``zipfile`` does; no
    chunk is longer than ``chunk_size`` and the member must stay within ``limits`` as it inflates,
    whatever its headers declare. Anything that is not a complete, intact member raises ``ArchiveDataError``.
    """
    name = zip_path.name
    try:
        member = _checked_member(zip_path, limits)
        with zip_path.open("rb") as raw:
            raw.seek(member.header_offset)
            header = raw.read(LOCAL_HEADER.size)
            if len(header) != LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
                raise ArchiveDataError(name, "corrupt or truncated zip: bad local file header")
            fields = LOCAL_HEADER.unpack(header)
            raw.seek(fields[-2] + fields[-1], os.SEEK_CUR)
            inflater = zlib_ng.decompressobj(-15) if member.compress_type == zipfile.ZIP_DEFLATED else None
            shown = member.filename[:QUOTED_CHARS]
            remaining, crc, size = member.compress_size, 0, 0
            pending = b""
            while remaining or pending:
                if not pending:
                    pending = raw.read(min(chunk_size, remaining))
                    if not pending:
                        break
                    remaining -= len(pending)
                if inflater:
                    chunk = inflater.decompress(pending, chunk_size)
                    pending = inflater.unconsumed_tail
                else:
                    chunk, pending = pending, b""
                crc, size = zlib_ng.crc32(chunk, crc), size + len(chunk)
                limits.check(name, shown, size, member.compress_size - remaining - len(pending))
                yield chunk
            if inflater:
                tail = inflater.flush()
                crc, size = zlib_ng.crc32(tail, crc), size + len(tail)
                limits.check(name, shown, size, member.compress_size - remaining)
                yield tail
            if remaining or (inflater and not inflater.eof) or crc != member.CRC or size != member.file_size:
                raise ArchiveDataError(name, f"corrupt or truncated zip: {shown} does not inflate to its "
                                             f"recorded {member.file_size} bytes with CRC-32 {member.CRC:08x}")
    except ZIP_ERRORS as exc:
        raise ArchiveDataError(name, f"corrupt or truncated zip: {exc}") from exc


def _csv_lines(zip_path: Path, limits: ZipLimits) -> Iterator[bytes]:
    """The CSV's lines (with their newline), for the header probe and the error path: a line longer than
    ``limits.max_line_bytes`` raises ``_LineTooLong`` naming it, so no line is ever held whole."""
    number, partial = 1, b""
    chunks = _inflated_chunks(zip_path, PIPE_SIZE // 4, limits)
    try:
        for chunk in chunks:
            start = 0
            while (end := chunk.find(b"\n", start)) != -1:
                line = partial + chunk[start:end + 1]
                partial, start = b"", end + 1
                if len(line) > limits.max_line_bytes:
                    break
                yield line
                number += 1
            else:
                partial += chunk[start:]
                if len(partial) <= limits.max_line_bytes:
                    continue
            raise _LineTooLong(zip_path.name, f"a line longer than {limits.max_line_bytes} bytes: not CSV",
                               line=number)
        if partial:
            yield partial
    finally:
        chunks.close()


def has_header(first_line: bytes) -> bool:
    """Binance archive files carry a header row in some periods only: a first byte that is a digit means none."""
    return not first_line[:1].isdigit()


@contextmanager
def _decompressed_pipe(zip_path: Path, limits: ZipLimits) -> Iterator[tuple[IO[bytes], list[BaseException]]]:
    """The zip's CSV, inflated on a worker thread into a pipe that Arrow reads natively.

    Inflating runs beside parsing (zlib releases the GIL) and only a pipe's worth of text is in
    flight, so memory does not grow with the file. Errors of the worker land in the yielded list.
    """
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            for chunk in _inflated_chunks(zip_path, PIPE_SIZE // 4, limits):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(write_fd, view):]
        except BrokenPipeError:
            pass  # the reader stopped early; it reports its own error
        except BaseException as exc:
            errors.append(exc)
        finally:
            os.close(write_fd)

    worker = threading.Thread(target=pump, name="zip-inflate", daemon=True)
    worker.start()
    reader = os.fdopen(read_fd, "rb", buffering=0)
    try:
        yield reader, errors
    finally:
        reader.close()
        worker.join()


def iter_text_blocks(zip_path: Path, columns: tuple[str, ...],
                     limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> Iterator[TextBlock]:
    """Stream the zip's CSV as blocks of string columns named ``columns``.

    A header, when present, must name exactly ``columns``. Malformed rows, truncated or corrupt
    zips, and zips beyond ``limits`` raise :class:`ArchiveDataError` naming the file and, where it
    can be found, the line.
    """
    name = zip_path.name
    lines = _csv_lines(zip_path, limits)
    try:
        first = next(lines, b"")
    finally:
        lines.close()
    if not first.strip():
        raise ArchiveDataError(name, "the CSV is empty", line=1)
    header = has_header(first)
    if header:
        found = tuple(first.decode("utf-8", "replace").strip().split(","))
        if found != columns:
            raise ArchiveDataError(name, f"header {tuple(f[:QUOTED_CHARS] for f in found[:20])} does not match "
                                         f"the expected columns {columns}", line=1)
    line = 2 if header else 1
    read_options = pcsv.ReadOptions(column_names=list(columns), skip_rows=int(header), block_size=BLOCK_SIZE,
                                    use_threads=False)
    # read as bytes and viewed as text: every value is parsed into a number or a flag that admits only
    # ASCII, so Arrow's UTF-8 validation of every value would be a pass for nothing
    convert_options = pcsv.ConvertOptions(column_types={c: pa.binary() for c in columns}, strings_can_be_null=False)
    text_schema = pa.schema([pa.field(c, pa.string(), nullable=False) for c in columns])
    with _decompressed_pipe(zip_path, limits) as (stream, inflate_errors):
        try:
            for batch in pcsv.open_csv(stream, read_options=read_options, convert_options=convert_options):
                if batch.num_rows:
                    yield TextBlock(pa.RecordBatch.from_arrays([c.view(pa.string()) for c in batch.columns],
                                                               schema=text_schema), line)
                    line += batch.num_rows
        except pa.ArrowInvalid as exc:
            if not inflate_errors:
                raise ArchiveDataError(name, str(exc)[:200],
                                       line=_locate_bad_line(zip_path, len(columns), limits)) from exc
        if inflate_errors:
            error = inflate_errors[0]
            if isinstance(error, ArchiveDataError):
                raise error
            raise ArchiveDataError(name, f"corrupt or truncated zip: {error}") from error


def _locate_bad_line(zip_path: Path, n_columns: int, limits: ZipLimits) -> int | None:
    """Error path only: find the first line whose field count is wrong (pyarrow does not say which); a line
    too long to be CSV is reported as such."""
    try:
        for number, raw in enumerate(_csv_lines(zip_path, limits), start=1):
            if raw.count(b",") != n_columns - 1 and raw.strip():
                return number
    except _LineTooLong:
        raise
    except ArchiveDataError:
        return None
    return None


def parse_boolean(block: TextBlock, column: str, true: str, false: str, file: str) -> pa.Array:
    """Binance booleans are ``True/False`` on spot and ``true/false`` on futures; anything else is an error."""
    codes = pc.index_in(block.column(column), value_set=pa.array([false, true]))  # null where neither
    if codes.null_count:
        fail_at_first(block, column, pc.is_valid(codes), file, f"is not {true}/{false}")
    return codes.cast(pa.bool_())


def detect_time_unit(block: TextBlock, column: str, file: str) -> TimeUnit:
    """The unit of a file's epoch timestamps, from the digit count of its first value."""
    first = block.text(column, 0)
    for unit in TimeUnit:
        if len(first) == unit.digits:
            return unit
    raise ArchiveDataError(file, f"{column} {first!r} is neither epoch milliseconds nor microseconds", line=block.first_line)


def check_time_unit(detected: TimeUnit, expected: TimeUnit, file: str, rule: str) -> None:
    if detected is not expected:
        raise ArchiveDataError(
            file,
            f"timestamps are in {detected.name.lower()} ({detected.digits} digits) but {rule} are in "
            f"{expected.name.lower()}: refusing to guess",
        )


