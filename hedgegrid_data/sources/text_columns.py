"""Text columns of a CSV block and their exact conversion: every value is read as text, and a value that does not
convert fails closed with an error naming the file, the line and the value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.errors import ArchiveDataError

DECIMAL_TEXT = r"^[0-9]+(\.[0-9]+)?$"
DECIMAL_DIGITS = 38  # decimal128; Arrow wraps around silently when it parses text with more digits
QUOTED_CHARS = 80  # of a value quoted in an error message


@dataclass(frozen=True)
class TextBlock:
    """A block of CSV rows as string columns; ``first_line`` is the file line of its first row, or ``lines`` the
    file line of every row (rows gathered from scattered lines, such as one event type's WebSocket frames)."""

    batch: pa.RecordBatch
    first_line: int
    lines: Sequence[int] | None = None

    def column(self, name: str) -> pa.Array:
        return self.batch.column(name)

    def text(self, column: str, row: int) -> str:
        """The text of one value for an error message (the bytes were never checked to be UTF-8), cut after
        ``QUOTED_CHARS`` characters."""
        raw = self.column(column).view(pa.binary())[row].as_py()
        text = raw[:QUOTED_CHARS].decode("utf-8", "replace")
        return text if len(raw) <= QUOTED_CHARS else f"{text}… ({len(raw)} bytes)"

    def line(self, row: int) -> int:
        return self.first_line + row if self.lines is None else self.lines[row]


def first_mismatch(block: TextBlock, column: str, pattern: str) -> tuple[int, str] | None:
    """(line, text) of the first value of ``column`` not matching ``pattern``, or None."""
    ok = pc.match_substring_regex(block.column(column), pattern)
    if pc.all(ok).as_py():
        return None
    index = pc.index(ok, False).as_py()
    return block.line(index), block.text(column, index)


def parse_decimal(block: TextBlock, column: str, scale: int, file: str, what: str) -> pa.Array:
    """Exact decimal text → ``decimal128(38, scale)``; more significant decimals than ``scale``, or more
    integer digits than the type holds, is an error naming the line."""
    values = block.column(column)

    def refuse(pattern: str, message: str) -> None:
        bad = first_mismatch(block, column, pattern)
        if bad is not None:
            raise ArchiveDataError(file, f"{column} {bad[1]!r} {message}", line=bad[0])

    if len(values) and pc.max(pc.binary_length(values)).as_py() > DECIMAL_DIGITS:
        # only such text can hold more digits than Arrow's parse keeps exact (beyond them it wraps around)
        refuse(DECIMAL_TEXT, "is not a decimal number")
        digits = pc.utf8_length(pc.replace_substring_regex(values, r"^0+|\.", ""))
        fail_at_first(block, column, pc.less_equal(digits, DECIMAL_DIGITS), file,
                      f"has more than {DECIMAL_DIGITS} digits, more than a decimal holds")
    try:
        return pc.cast(values, pa.decimal128(DECIMAL_DIGITS, scale))
    except pa.ArrowInvalid as exc:
        refuse(DECIMAL_TEXT, "is not a decimal number")
        refuse(rf"^[0-9]+(\.[0-9]{{0,{scale}}}0*)?$", f"has more decimals than {what} allows ({scale})")
        integer_digits = DECIMAL_DIGITS - scale
        refuse(rf"^0*[0-9]{{0,{integer_digits}}}(\.|$)",
               f"has more than {integer_digits} integer digits: it does not fit decimal128({DECIMAL_DIGITS}, {scale})")
        raise ArchiveDataError(file, f"{column} does not convert to decimal128({DECIMAL_DIGITS}, {scale}) "
                                     f"(lines {block.first_line}-{block.line(len(values) - 1)}): {exc}") from None


def fail_at_first(block: TextBlock, column: str, ok: pa.Array, file: str, message: str) -> None:
    """Raise naming the first row where ``ok`` is false (or null), if there is one."""
    if ok.null_count or not pc.all(ok).as_py():
        index = pc.index(pc.fill_null(ok, False), False).as_py()
        raise ArchiveDataError(file, f"{column} {block.text(column, index)!r} {message}", line=block.line(index))


def parse_integer(block: TextBlock, column: str, file: str, exempt: pa.Array | None = None) -> pa.Array:
    """Unsigned decimal digits only (Arrow's cast alone would accept ``0x10``); rows where ``exempt`` is true
    may hold any integer Arrow reads (aggTrades' ``-1`` placeholders)."""
    values = block.column(column)
    digits = pc.ascii_is_decimal(values)
    fail_at_first(block, column, digits if exempt is None else pc.or_(digits, exempt), file, "is not an integer")
    try:
        return pc.cast(values, pa.int64())
    except pa.ArrowInvalid:
        fail_at_first(block, column, pc.less(pc.utf8_length(values), 19), file, "does not fit a 64-bit integer")
        raise


def _text_bytes(values: pa.Array) -> int:
    """Bytes of text in a string array, from its offsets."""
    offsets = memoryview(values.buffers()[1]).cast("i")
    return offsets[values.offset + len(values)] - offsets[values.offset]


def parse_epoch_ns(block: TextBlock, column: str, unit: TimeUnit, bounds: tuple[int, int], file: str) -> pa.Array:
    """Epoch integers in ``unit`` → int64 nanoseconds, each inside ``bounds`` (the file's UTC day)."""
    values = block.column(column)
    epochs = parse_integer(block, column, file)
    low, high = -(-bounds[0] // unit.nanos), bounds[1] // unit.nanos  # the day in ``unit``
    extremes = pc.min_max(epochs)
    # Every value inside the day has at least ``unit.digits`` digits, so a total of exactly that many per
    # value means each has exactly that many: no leading zeros, nothing in another unit.
    if (low <= extremes["min"].as_py() and extremes["max"].as_py() <= high
            and _text_bytes(values) == len(values) * unit.digits):
        return pc.multiply(epochs, unit.nanos)
    fail_at_first(block, column, pc.equal(pc.utf8_length(values), unit.digits), file,
                   f"is not in {unit.name.lower()} like the rest of the file")
    fail_at_first(block, column, pc.and_(pc.greater_equal(epochs, low), pc.less_equal(epochs, high)), file,
                   "lies outside the file's UTC day")
    raise AssertionError("unreachable: a value out of the day or of the unit was not found")


def parse_signed_decimal(block: TextBlock, column: str, scale: int, file: str, what: str) -> pa.Array:
    """``parse_decimal`` for text that may carry a leading ``-`` (funding rates): the magnitude is parsed with every
    check of ``parse_decimal`` and negated where the text was negative."""
    values = block.column(column)
    negative = pc.starts_with(values, "-")
    if not pc.any(negative).as_py():
        return parse_decimal(block, column, scale, file, what)
    magnitude = pc.replace_substring_regex(values, "^-", "")
    names = block.batch.schema.names
    unsigned = TextBlock(pa.RecordBatch.from_arrays(
        [magnitude if name == column else block.batch.column(name) for name in names], names=names),
        block.first_line, block.lines)
    parsed = parse_decimal(unsigned, column, scale, file, what)
    return pc.if_else(negative, pc.negate(parsed), parsed)
