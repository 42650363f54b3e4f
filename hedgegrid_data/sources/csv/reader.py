"""A landed CSV file's rows → canonical Arrow batches: pure (a file's bytes in, tables or an error out).

Every value is read as text (``pyarrow.csv`` in 4 MiB blocks, every column a string) and converted exactly
(``sources/text_columns.py``): prices, sizes, rates as ``decimal128`` at the table's precision, timestamps as
exact ns in the file's detected format (``timestamps.py``). Each batch carries ``line``, the file line of each
row. Whatever does not convert (a value, an unknown side, a row with another number of fields, a truncated
compressed stream) is an ``ArchiveDataError`` naming the file, the line and the column.

Days: a file may hold several days (a monthly export) and a day may come from several files; a day's batches
hold only that day's rows (``CsvFileReader.batches``). A file whose *name* says a day (``…2024-01-02…``) or a month
(``…2024-01…``) must hold only rows of it: a row of another day is an error, not moved to its day.
Symbols: with a ``symbol_column``, only the rows of the wanted symbols are kept (other symbols are skipped);
without one, a column of the usual names (``symbol``, ``instrument``, ``pair``, ``ticker``) must hold
the import's one symbol on every row.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.csv.compression import open_stream
from hedgegrid_data.sources.csv.mapping import CsvImport, header_key
from hedgegrid_data.sources.csv.timestamps import FileTimes, date_in_name
from hedgegrid_data.sources.inflation import DEFAULT_ZIP_LIMITS
from hedgegrid_data.sources.landing.index import LandingFileError
from hedgegrid_data.sources.text_columns import (
    DECIMAL_TEXT,
    TextBlock,
    fail_at_first,
    parse_decimal,
    parse_integer,
    parse_signed_decimal,
)
from hedgegrid_data.tables.bars import interval_ns
from hedgegrid_data.tables.funding import HOUR_NS, RATE_SCALE
from hedgegrid_data.tables.mark_prices import MARK_PRICE_SCALE as MARK_SCALE
from hedgegrid_data.tables.trades import BUYER, SELLER, TRADE_ID_MAX_LENGTH

BLOCK_SIZE = 4 << 20
SIGNED_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
BUY_WORDS = ("buy", "b", "bid", "buyer", "taker_buy")
SELL_WORDS = ("sell", "s", "ask", "seller", "taker_sell")
MAKER_FLAGS = {"true": SELLER, "t": SELLER, "1": SELLER, "false": BUYER, "f": BUYER, "0": BUYER}  # buyer maker ⇒ seller
MAKER_HEADERS = ("isbuyermaker", "buyermaker", "m")
SYMBOL_HEADERS = ("symbol", "instrument", "pair", "ticker")
READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, ValueError)


@dataclass(frozen=True)
class Precisions:
    """Decimals of a symbol's prices and sizes (the instrument's)."""

    price: int
    size: int


def filtered(block: TextBlock, keep: pa.Array) -> TextBlock:
    """The rows of ``block`` where ``keep`` is true, each keeping its own file line."""
    return TextBlock(block.batch.filter(keep), block.first_line, line_numbers(block).filter(keep).to_pylist())


def line_numbers(block: TextBlock) -> pa.Array:
    """The file line of every row of ``block``."""
    if block.lines is not None:
        return pa.array(block.lines, pa.int64())
    return pa.array(range(block.first_line, block.first_line + block.batch.num_rows), pa.int64())


def read_header(path: Path, delimiter: str, name: str) -> list[str]:
    """The file's first line as column names (a UTF-8 byte-order mark is dropped)."""
    try:
        with open_stream(path) as stream:
            head = stream.read(DEFAULT_ZIP_LIMITS.max_line_bytes + 1)
    except READ_ERRORS as exc:
        raise ArchiveDataError(name, f"cannot read the file: {type(exc).__name__} {exc}") from None
    line = head.split(b"\n", 1)[0]
    if len(line) > DEFAULT_ZIP_LIMITS.max_line_bytes:
        raise ArchiveDataError(name, "the header line is longer than 1 MiB: not CSV", line=1)
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArchiveDataError(name, "the header is not UTF-8 text", line=1) from None
    header = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
    if not header or not any(h.strip() for h in header):
        raise ArchiveDataError(name, "no header line (an empty file?)", line=1)
    if len(set(header)) != len(header):
        raise ArchiveDataError(name, f"the header repeats a column name: {header}", line=1)
    return header


def _locate_bad_line(path: Path, fields: int, delimiter: str) -> int | None:
    """Error path only: the first line whose number of fields differs from the header's."""
    try:
        with open_stream(path) as stream:
            text = io.TextIOWrapper(stream if not isinstance(stream, pa.NativeFile) else io.BytesIO(stream.read()),
                                    encoding="utf-8", errors="replace", newline="")
            for number, row in enumerate(csv.reader(text, delimiter=delimiter), start=1):
                if len(row) != fields:
                    return number
    except READ_ERRORS:
        return None
    return None


def text_blocks(path: Path, name: str, header: Sequence[str], delimiter: str) -> Iterator[TextBlock]:
    """The rows after the header as blocks of string columns; an empty line is a row with too few fields."""
    read_options = pcsv.ReadOptions(column_names=list(header), skip_rows=1, block_size=BLOCK_SIZE, use_threads=False)
    parse_options = pcsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False)
    convert_options = pcsv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False,
                                          quoted_strings_can_be_null=False)
    line = 2
    try:
        with open_stream(path) as stream:
            for batch in pcsv.open_csv(stream, read_options=read_options, parse_options=parse_options,
                                       convert_options=convert_options):
                if batch.num_rows:
                    yield TextBlock(batch, line)
                    line += batch.num_rows
    except pa.ArrowInvalid as exc:
        message = str(exc).split("\n")[0]
        raise ArchiveDataError(name, message, line=_locate_bad_line(path, len(header), delimiter)) from None
    except READ_ERRORS as exc:
        raise ArchiveDataError(name, f"cannot read the file past line {line - 1} (truncated or corrupt): "
                                          f"{exc}") from None


def _exact(block: TextBlock, column: str, scale: int, file: str, what: str) -> pa.Array:
    """Plain unsigned decimal text (Arrow alone would also read ``1e3``) at most ``scale`` decimals."""
    fail_at_first(block, column, pc.match_substring_regex(block.column(column), DECIMAL_TEXT), file,
                  "is not a decimal number")
    return parse_decimal(block, column, scale, file, what)


def _signed(block: TextBlock, column: str, scale: int, file: str, what: str) -> pa.Array:
    """Decimal text with an optional ``-``, exact at ``scale``."""
    fail_at_first(block, column, pc.match_substring_regex(block.column(column), SIGNED_DECIMAL), file,
                  "is not a decimal number")
    return parse_signed_decimal(block, column, scale, file, what)


def side_codes(block: TextBlock, column: str, sides: dict[str, str] | None, file: str) -> pa.Array:
    """The aggressor side (1 buyer, 2 seller) of each row: the import's ``sides`` exactly, else the usual words
    (``buy``/``sell``, ``b``/``s``, any case) or, for a buyer-maker flag, ``true``/``false`` (buyer maker ⇒
    seller aggressor). An unknown value is an error naming its line."""
    values = block.column(column)
    if sides is not None:
        mapping = {value: BUYER if side == "buy" else SELLER for value, side in sides.items()}
    else:
        values = pc.utf8_lower(values)
        if header_key(column) in MAKER_HEADERS:
            mapping = dict(MAKER_FLAGS)
        else:
            mapping = {**dict.fromkeys(BUY_WORDS, BUYER), **dict.fromkeys(SELL_WORDS, SELLER)}
    keys = list(mapping)
    index = pc.index_in(values, value_set=pa.array(keys, pa.string()))
    fail_at_first(block, column, pc.is_valid(index), file,
                  f"is not a known side value ({sorted(set(keys))}; map others with sides)")
    return pc.take(pa.array([mapping[k] for k in keys], pa.uint8()), index)


def file_tag(name: str) -> str:
    """A short stable tag of a file name, prefixing the trade ids made up for files without ids."""
    return hashlib.sha256(name.encode()).hexdigest()[:8]


def named_spans(imp: CsvImport, name: str) -> dict[str, tuple[int, int]]:
    """Every symbol of ``imp`` over the days a file's name says it holds (none when it says nothing): what an
    unreadable file still covers, so that those days fail naming it."""
    named = date_in_name(Path(name).name)
    if named is None:
        return {}
    return dict.fromkeys(imp.symbols, (day_bounds_ns(named[0])[0], day_bounds_ns(named[1])[1]))


class CsvFileReader:
    """Reads one landed file of an import: its header and column mapping once, then its rows as canonical
    batches of one (day, symbol)."""

    def __init__(self, path: Path, imp: CsvImport, name: str | None = None):
        self.path, self.imp = path, imp
        self.name = name or path.name  # what errors call it: the landing file's name, not its raw copy's
        self.named_days = date_in_name(Path(self.name).name)
        self.header = read_header(path, imp.delimiter, self.name)
        self.columns = imp.resolve_columns(self.header, self.name)
        self.time_format: str | None = None
        # a symbol column the import does not filter on must hold the import's one symbol on every row
        self.fixed_symbol = None if imp.symbol_column else next(
            (h for h in self.header if header_key(h) in SYMBOL_HEADERS), None)

    def _blocks(self) -> Iterator[tuple[TextBlock, pa.Array]]:
        """Every block with its rows' exact ns timestamps, checked against the days the name says."""
        times = FileTimes(self.imp.timestamp_format, self.name, self.columns["timestamp"])
        for block in text_blocks(self.path, self.name, self.header, self.imp.delimiter):
            ts = times.parse(block)
            self.time_format = times.format.kind if times.format else None
            if self.named_days is not None:
                first, last = self.named_days
                low, high = day_bounds_ns(first)[0], day_bounds_ns(last)[1]
                said = str(first) if first == last else f"{first:%Y-%m}"
                fail_at_first(block, self.columns["timestamp"],
                              pc.and_(pc.greater_equal(ts, low), pc.less_equal(ts, high)), self.name,
                              f"lies outside {said}, which the file's name says it holds")
            if self.fixed_symbol is not None:
                [symbol] = self.imp.symbols
                fail_at_first(block, self.fixed_symbol, pc.equal(block.column(self.fixed_symbol), symbol), self.name,
                              f"is not the import's symbol {symbol} (set symbol_column to keep some symbols' rows)")
            yield block, ts

    def spans(self) -> dict[str, tuple[int, int]]:
        """Symbol → the first and last time (ns) of its rows in the file (the wanted symbols only).

        A file that does not read whole raises ``LandingFileError`` with what it read, and the days its name
        says: the days it covers are still built, and fail naming it, rather than silently without it."""
        found: dict[str, tuple[int, int]] = {}
        try:
            for block, ts in self._blocks():
                for symbol in self.imp.symbols:
                    keep = self._symbol_rows(block, symbol)
                    rows = ts if keep is None else ts.filter(keep)
                    if len(rows):
                        low, high = pc.min_max(rows).values()
                        before = found.get(symbol, (low.as_py(), high.as_py()))
                        found[symbol] = (min(before[0], low.as_py()), max(before[1], high.as_py()))
        except ArchiveDataError as exc:
            raise LandingFileError(str(exc), {**named_spans(self.imp, self.name), **found}) from exc
        return found

    def _symbol_rows(self, block: TextBlock, symbol: str) -> pa.Array | None:
        if self.imp.symbol_column is None:
            return None
        return pc.equal(block.column(self.columns["symbol"]), symbol)

    def batches(self, day: dt.date, symbol: str, precisions: Precisions) -> Iterator[pa.RecordBatch]:
        """The canonical batches (with ``line``) of ``symbol``'s rows on ``day``."""
        low, high = day_bounds_ns(day)
        convert = getattr(self, f"_{self.imp.table}")
        for block, ts in self._blocks():
            keep = pc.and_(pc.greater_equal(ts, low), pc.less_equal(ts, high))
            wanted = self._symbol_rows(block, symbol)
            if wanted is not None:
                keep = pc.and_(keep, wanted)
            if not pc.any(keep).as_py():
                continue
            if not pc.all(keep).as_py():
                block, ts = filtered(block, keep), ts.filter(keep)
            columns = convert(block, ts, precisions)
            yield pa.RecordBatch.from_arrays([*columns.values(), line_numbers(block)], names=[*columns, "line"])

    # --- one converter per table: a block of text → the canonical columns -----------------------------------
    def _trades(self, block: TextBlock, ts: pa.Array, precisions: Precisions) -> dict[str, pa.Array]:
        c, name = self.columns, self.name
        if "trade_id" in c:
            if self.imp.ids == "integer":
                ids = parse_integer(block, c["trade_id"], name)
            else:
                ids = block.column(c["trade_id"])
                length = pc.utf8_length(ids)
                fail_at_first(block, c["trade_id"], pc.and_(pc.greater(length, 0),
                                                            pc.less_equal(length, TRADE_ID_MAX_LENGTH)), name,
                              f"is not a trade id of 1 to {TRADE_ID_MAX_LENGTH} characters")
        elif self.imp.ids == "integer":
            raise ArchiveDataError(name, f"no trade id column, but import {self.imp.name!r} declares integer ids "
                                         "(map one with columns.trade_id, or drop ids = \"integer\")", line=1)
        else:  # no id column: the file and line make one, stable across re-runs of the same file
            ids = pc.binary_join_element_wise(file_tag(name), pc.cast(line_numbers(block), pa.string()), "-")
        return {
            "trade_id": ids,
            "price": _exact(block, c["price"], precisions.price, name, "the instrument's price precision"),
            "qty": _exact(block, c["qty"], precisions.size, name, "the instrument's size precision"),
            "ts_event": ts.cast(pa.timestamp("ns", tz="UTC")),
            "aggressor_side": side_codes(block, c["side"], dict(self.imp.sides) if self.imp.sides else None, name),
        }

    def _bars(self, block: TextBlock, ts: pa.Array, precisions: Precisions) -> dict[str, pa.Array]:
        c, name = self.columns, self.name
        assert self.imp.interval is not None
        close_time = pc.add(ts, interval_ns(self.imp.interval) - 10**6)  # Binance's: the last ms
        return {
            "open_time": ts.cast(pa.timestamp("ns", tz="UTC")),
            "close_time": close_time.cast(pa.timestamp("ns", tz="UTC")),
            **{k: _exact(block, c[k], precisions.price, name, "the instrument's price precision")
               for k in ("open", "high", "low", "close")},
            "volume": _exact(block, c["volume"], precisions.size, name, "the instrument's size precision"),
        }

    def _mark_prices(self, block: TextBlock, ts: pa.Array, precisions: Precisions) -> dict[str, pa.Array]:
        c, name = self.columns, self.name
        utc = ts.cast(pa.timestamp("ns", tz="UTC"))
        index = pa.nulls(block.batch.num_rows, pa.decimal128(38, MARK_SCALE))
        if "index_price" in c:
            present = pc.not_equal(block.column(c["index_price"]), "")
            if pc.any(present).as_py():
                some = filtered(block, present)
                exact = _exact(some, c["index_price"], MARK_SCALE, name, f"{MARK_SCALE} decimals")
                index = pc.replace_with_mask(index, present, exact)
        return {"mark_price": _exact(block, c["mark_price"], MARK_SCALE, name, f"{MARK_SCALE} decimals"),
                "index_price": index, "ts_event": utc, "ts_init": utc}

    def _funding(self, block: TextBlock, ts: pa.Array, precisions: Precisions) -> dict[str, pa.Array]:
        c, name = self.columns, self.name
        funding_time = pc.multiply(pc.divide(ts, HOUR_NS), HOUR_NS)  # the hour it falls in
        if "funding_interval_hours" in c:
            hours = parse_integer(block, c["funding_interval_hours"], name).cast(pa.int32())
        elif self.imp.funding_interval_hours is not None:
            hours = pa.array([self.imp.funding_interval_hours] * block.batch.num_rows, pa.int32())
        else:
            raise ArchiveDataError(name, f"no funding_interval_hours column and import {self.imp.name!r} sets no "
                                         "funding_interval_hours", line=1)
        next_time = pc.add(funding_time, pc.multiply(hours.cast(pa.int64()), HOUR_NS))
        utc = pa.timestamp("ns", tz="UTC")
        return {"ts_event": ts.cast(utc), "funding_time": funding_time.cast(utc),
                "rate": _signed(block, c["rate"], RATE_SCALE, name, f"the funding table's {RATE_SCALE} decimals"),
                "funding_interval_hours": hours, "next_funding_time": next_time.cast(utc)}


def empty_table(imp: CsvImport, precisions: Precisions) -> pa.Table:
    """The canonical table of a day without rows (its columns' types as the converter makes them)."""
    reader = CsvFileReader.__new__(CsvFileReader)
    reader.imp, reader.name = imp, "(no rows)"
    reader.columns = {role: role for role in imp.roles()}
    if imp.table == "funding" and imp.funding_interval_hours is None:
        reader.columns["funding_interval_hours"] = "funding_interval_hours"
    header = list(dict.fromkeys(reader.columns.values()))
    block = TextBlock(pa.RecordBatch.from_arrays([pa.array([], pa.string())] * len(header), names=header), 2)
    columns = getattr(reader, f"_{imp.table}")(block, pa.array([], pa.int64()), precisions)
    return pa.Table.from_arrays([*columns.values(), pa.array([], pa.int64())], names=[*columns, "line"])
