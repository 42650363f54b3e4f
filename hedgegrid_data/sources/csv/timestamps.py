"""A timestamp column's format, detected once per file from its first value, and every value of the file held to
it: exact int64 nanoseconds, never through a float.

- ISO 8601 (``2024-01-02T03:04:05.123456789Z``, a space for the ``T``, 0–9 decimals): with a zone (``Z``,
  ``+01:00``, ``-0500``) it is converted to UTC; without one it is UTC. A file mixing zoned and zoneless times
  is an error.
- Integer epochs: the unit is the number of digits (10 s, 13 ms, 16 µs, 19 ns, which are exactly the epochs from
  2001-09-09 to 2286); any other count is ambiguous and an error. A value with another number of digits than the
  file's first is an error naming its line ("mixed units"), never a guess.

The declared format (``auto``, ``iso8601``, ``epoch`` or one unit such as ``epoch_ms``) must agree with the
file: a file of ms epochs declared ``epoch_s`` is a contradiction and an error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.text_columns import TextBlock, fail_at_first

ISO_BODY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
ISO_ZONED = rf"^{ISO_BODY}(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$"
ISO_LOCAL = rf"^{ISO_BODY}$"
EPOCH_UNITS = {10: ("s", 10**9), 13: ("ms", 10**6), 16: ("us", 10**3), 19: ("ns", 1)}


@dataclass(frozen=True)
class TimeFormat:
    """One file's timestamp format: ``iso8601`` (zoned), ``iso8601_utc`` (no zone: UTC) or ``epoch_<unit>``."""

    kind: str
    pattern: str
    nanos: int = 1  # epoch: nanoseconds per unit

    @property
    def epoch(self) -> bool:
        return self.kind.startswith("epoch")

    def describe(self) -> str:
        if self.epoch:
            digits = next(d for d, (unit, _) in EPOCH_UNITS.items() if f"epoch_{unit}" == self.kind)
            return f"a {digits}-digit epoch in {self.kind[6:]}"
        return "ISO 8601 with a zone" if self.kind == "iso8601" else "ISO 8601 without a zone"


def detect(first: str, declared: str, file: str, column: str, line: int) -> TimeFormat:
    """The format of a file from its first timestamp, checked against the ``declared`` one."""
    if first.isascii() and first.isdigit():
        if first.startswith("0") or len(first) not in EPOCH_UNITS:
            raise ArchiveDataError(file, f"{column} {first!r} is an integer of {len(first)} digits: no epoch unit "
                                         "fits it unambiguously (10 digits s, 13 ms, 16 µs, 19 ns)", line=line)
        unit, nanos = EPOCH_UNITS[len(first)]
        found = TimeFormat(f"epoch_{unit}", rf"^[1-9][0-9]{{{len(first) - 1}}}$", nanos)
        if declared not in ("auto", "epoch", found.kind):
            raise ArchiveDataError(file, f"{column} {first!r} is {found.describe()}, but the import declares "
                                         f"{declared}: the file contradicts its mapping", line=line)
        return found
    for kind, pattern in (("iso8601", ISO_ZONED), ("iso8601_utc", ISO_LOCAL)):
        if pc.match_substring_regex(pa.array([first]), pattern)[0].as_py():
            if declared not in ("auto", "iso8601"):
                raise ArchiveDataError(file, f"{column} {first!r} is ISO 8601, but the import declares {declared}",
                                       line=line)
            return TimeFormat(kind, pattern)
    raise ArchiveDataError(file, f"{column} {first!r} is neither ISO 8601 nor an integer epoch", line=line)


class FileTimes:
    """Parses a file's timestamp column block by block, every value in the format of the file's first."""

    def __init__(self, declared: str, file: str, column: str):
        self.declared, self.file, self.column = declared, file, column
        self.format: TimeFormat | None = None
        self.first_line = 0

    def parse(self, block: TextBlock) -> pa.Array:
        """Exact int64 nanoseconds since the epoch, UTC."""
        values = block.column(self.column)
        if self.format is None:
            self.format = detect(block.text(self.column, 0), self.declared, self.file, self.column, block.line(0))
            self.first_line = block.line(0)
        fmt = self.format
        fail_at_first(block, self.column, pc.match_substring_regex(values, fmt.pattern), self.file,
                      f"is not {fmt.describe()} like line {self.first_line}, the file's first: "
                      + ("timestamps of mixed units" if fmt.epoch else "timestamps of mixed formats"))
        if fmt.epoch:
            return pc.multiply_checked(pc.cast(values, pa.int64()), fmt.nanos)
        target = pa.timestamp("ns", tz="UTC") if fmt.kind == "iso8601" else pa.timestamp("ns")
        try:
            return pc.cast(values, target).cast(pa.int64())
        except pa.ArrowInvalid:
            for row, text in enumerate(values.to_pylist()):
                try:
                    pc.cast(pa.array([text]), target)
                except pa.ArrowInvalid:
                    raise ArchiveDataError(self.file, f"{self.column} {text!r} is not a valid date and time",
                                           line=block.line(row)) from None
            raise


def date_in_name(name: str) -> tuple[dt.date, dt.date] | None:
    """The days a file's name says it holds: a date (``2024-01-02``, ``20240102``) → that day; a month
    (``2024-01``) → that month; None when the name says nothing (a date must be a real one from 2000 on)."""
    for match in re.finditer(r"(?<![0-9])(20[0-9]{2})(-?)(0[1-9]|1[0-2])\2(0[1-9]|[12][0-9]|3[01])(?![0-9])", name):
        try:
            day = dt.date(int(match[1]), int(match[3]), int(match[4]))
        except ValueError:
            continue
        return day, day
    month = re.search(r"(?<![0-9])(20[0-9]{2})-(0[1-9]|1[0-2])(?![0-9-])", name)
    if month:
        first = dt.date(int(month[1]), int(month[2]), 1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return first, last
    return None
