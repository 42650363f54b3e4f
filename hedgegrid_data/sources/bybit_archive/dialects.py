"""Bybit archive CSVs → canonical trades: the file's dialect detected from its path and header, every value exact
from its text, and anything unknown failing closed.

- ``trading`` (``trading/…``): ``timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,
  homeNotional,foreignNotional``; timestamps are epoch seconds as a decimal string: whole seconds, ms or 100 µs;
- ``trading_rpi`` (``trading/…``): the same ``,RPI``;
- ``spot_daily`` (``spot/…``): ``id,timestamp,price,volume,side,rpi``; timestamps are integer epoch milliseconds.

The header alone does not settle the dialect (BitMEX-era files share the trading header but print
``2018-12-05D00:00:25.948313000``): the first row's timestamp must be in the dialect's format too, and every
later one as well. Timestamps become nanoseconds exactly, by decimal arithmetic on the text, never through a
float; the resolution of the file (the most decimals any of its timestamps has) is reported.

Trades: ``side`` is the taker's (``Buy``/``buy`` → buyer aggressor); ``size`` is the base quantity on linear and
spot, USD contracts on inverse; the trade id is ``trdMatchID`` (a 36-character UUID) on trading files and, on
spot files, whose ``id`` is only a per-file counter, ``<YYYYMMDD>-<id>``: unique per instrument, stable across
re-runs, and never merged with an identical-looking row (several trades of one millisecond at one price and size
are real). A spot counter that is not 1, 2, 3, … in line order means lines are missing: an error.
"""

from __future__ import annotations

import enum
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.bybit_archive.layout import BybitFile
from hedgegrid_data.sources.inflation import DEFAULT_ZIP_LIMITS
from hedgegrid_data.sources.text_columns import (
    DECIMAL_TEXT,
    TextBlock,
    fail_at_first,
    parse_decimal,
    parse_epoch_ns,
    parse_integer,
)
from hedgegrid_data.tables.trades import BUYER, SELLER, TRADE_COLUMNS
from hedgegrid_data.venues.bybit import BybitMarket, BybitSymbolSpec

BLOCK_SIZE = 4 << 20
SECONDS_TEXT = r"^[0-9]{1,10}(\.[0-9]{1,9})?$"
UUID_TEXT = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RESOLUTIONS = ("1s", "100ms", "10ms", "1ms", "100us", "10us", "1us", "100ns", "10ns", "1ns")  # by decimals


class Dialect(enum.Enum):
    TRADING = "trading"
    TRADING_RPI = "trading_rpi"
    SPOT_DAILY = "spot_daily"

    @property
    def spot(self) -> bool:
        return self is Dialect.SPOT_DAILY


TRADING_COLUMNS = ("timestamp", "symbol", "side", "size", "price", "tickDirection", "trdMatchID", "grossValue",
                   "homeNotional", "foreignNotional")
HEADERS = {
    Dialect.TRADING: TRADING_COLUMNS,
    Dialect.TRADING_RPI: (*TRADING_COLUMNS, "RPI"),
    Dialect.SPOT_DAILY: ("id", "timestamp", "price", "volume", "side", "rpi"),
}


def _first_lines(path: Path, name: str) -> tuple[bytes, bytes]:
    try:
        with gzip.open(path, "rb") as f:
            return _bounded_line(f, name, 1), _bounded_line(f, name, 2)
    except (OSError, EOFError) as exc:
        raise ArchiveDataError(name, f"cannot read the gzip: {exc}") from None


def detect_dialect(file: BybitFile, header: bytes, first_row: bytes) -> Dialect:
    """The dialect of a file from its place in the archive, its header and its first row; anything else fails."""
    name = file.file_name
    columns = tuple(header.decode("utf-8", "replace").strip().split(","))
    allowed = [Dialect.SPOT_DAILY] if file.market is BybitMarket.SPOT else [Dialect.TRADING, Dialect.TRADING_RPI]
    matching = [d for d in allowed if HEADERS[d] == columns]
    if not matching:
        raise ArchiveDataError(name, f"header {columns} is none of the dialects of {file.folder} files: "
                                     f"{[HEADERS[d] for d in allowed]}", line=1)
    [dialect] = matching
    if not first_row.strip():
        raise ArchiveDataError(name, "no trades after the header", line=2)
    fields = first_row.decode("utf-8", "replace").strip().split(",")
    if len(fields) != len(columns):
        raise ArchiveDataError(name, f"the first row has {len(fields)} fields, the {dialect.value} header "
                                     f"{len(columns)}", line=2)
    timestamp = fields[HEADERS[dialect].index("timestamp")]
    ok = pc.match_substring_regex(pa.array([timestamp]), r"^[0-9]{13}$" if dialect.spot else SECONDS_TEXT)[0]
    if not ok.as_py():
        what = "integer epoch milliseconds" if dialect.spot else "epoch seconds as a decimal number"
        raise ArchiveDataError(name, f"the first row's timestamp {timestamp!r} is not {what}: the header is "
                                     f"{dialect.value}'s but the rows are not", line=2)
    return dialect


def _locate_bad_line(path: Path, n_columns: int) -> int | None:
    """Error path only: the first line whose field count is wrong (pyarrow does not say which)."""
    with gzip.open(path, "rb") as f:
        number = 0
        while raw := _bounded_line(f, path.name, number + 1):
            number += 1
            if raw.count(b",") != n_columns - 1 and raw.strip():
                return number
    return None


def _bounded_line(f: BinaryIO, name: str, number: int) -> bytes:
    """The next line, refused beyond ``max_line_bytes`` (a line is never held whole past it)."""
    line = f.readline(DEFAULT_ZIP_LIMITS.max_line_bytes + 1)
    if len(line) > DEFAULT_ZIP_LIMITS.max_line_bytes:
        raise ArchiveDataError(name, f"a line longer than {DEFAULT_ZIP_LIMITS.max_line_bytes} bytes: not CSV",
                               line=number)
    return line


def iter_text_blocks(path: Path, name: str, columns: tuple[str, ...]) -> Iterator[TextBlock]:
    """The gzip's CSV rows after its header as blocks of string columns named ``columns``."""
    read_options = pcsv.ReadOptions(column_names=list(columns), skip_rows=1, block_size=BLOCK_SIZE,
                                    use_threads=False)
    convert_options = pcsv.ConvertOptions(column_types={c: pa.string() for c in columns}, strings_can_be_null=False)
    line = 2
    try:
        with pa.input_stream(str(path), compression="gzip") as stream:
            for batch in pcsv.open_csv(stream, read_options=read_options, convert_options=convert_options):
                if batch.num_rows:
                    yield TextBlock(batch, line)
                    line += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise ArchiveDataError(name, str(exc), line=_locate_bad_line(path, len(columns))) from None
    except (OSError, EOFError) as exc:
        raise ArchiveDataError(name, f"cannot read the gzip: {exc}") from None


def epoch_seconds_ns(block: TextBlock, column: str, bounds: tuple[int, int], name: str) -> tuple[pa.Array, int]:
    """Epoch seconds as decimal text → exact int64 nanoseconds inside ``bounds``, and the most decimals any has.

    The text becomes ``decimal128(38, 9)``, whose stored integer *is* the value in nanoseconds: its low 64 bits
    are read as they are (at most 10 integer digits keep it below 2⁶⁴; a value past 2⁶³ fails the day's bounds).
    """
    values = block.column(column)
    fail_at_first(block, column, pc.match_substring_regex(values, SECONDS_TEXT), name,
                  "is not epoch seconds as a decimal number (at most 9 decimals)")
    exact = pc.cast(values, pa.decimal128(38, 9))
    words = np.frombuffer(exact.buffers()[1], dtype="<i8", count=2 * (exact.offset + len(exact)))
    ns = pa.array(words[2 * exact.offset::2])
    fail_at_first(block, column, pc.and_(pc.greater_equal(ns, bounds[0]), pc.less_equal(ns, bounds[1])), name,
                  "lies outside the file's UTC day")
    dot = pc.find_substring(values, ".")
    decimals = pc.if_else(pc.equal(dot, -1), 0, pc.subtract(pc.subtract(pc.utf8_length(values), dot), 1))
    return ns, int(pc.max(decimals).as_py())


def _exact(block: TextBlock, column: str, scale: int, name: str, what: str) -> pa.Array:
    """Plain decimal text only (Arrow would also read ``1e3``), at most ``scale`` significant decimals."""
    fail_at_first(block, column, pc.match_substring_regex(block.column(column), DECIMAL_TEXT), name,
                  "is not a decimal number")
    return parse_decimal(block, column, scale, name, what)


def _choice(block: TextBlock, column: str, options: tuple[str, str], name: str) -> pa.Array:
    """0 for the first option, 1 for the second; anything else fails."""
    codes = pc.index_in(block.column(column), value_set=pa.array(options))
    fail_at_first(block, column, pc.is_valid(codes), name, f"is not {options[0]}/{options[1]}")
    return codes.cast(pa.uint8())


def _aggressor(block: TextBlock, buy: str, sell: str, name: str) -> pa.Array:
    side = _choice(block, "side", (buy, sell), name)
    return pc.if_else(pc.equal(side, 0), pa.scalar(BUYER, pa.uint8()), pa.scalar(SELLER, pa.uint8()))


class DayReader:
    """Reads one verified file of ``spec``'s symbol as canonical trade batches; ``metadata`` tells what it found
    (dialect, timestamp resolution, RPI trades), complete once the batches are consumed."""

    def __init__(self, path: Path, file: BybitFile, spec: BybitSymbolSpec):
        self.path, self.file, self.spec = path, file, spec
        self.name = file.file_name
        self.bounds = day_bounds_ns(file.day)
        self.metadata: dict[str, object] = {}

    def batches(self) -> Iterator[pa.RecordBatch]:
        header, first_row = _first_lines(self.path, self.name)
        dialect = detect_dialect(self.file, header, first_row)
        decimals, rpi_trades = 0, 0
        convert = self._spot if dialect.spot else self._trading
        flag = {Dialect.TRADING_RPI: "RPI", Dialect.SPOT_DAILY: "rpi"}.get(dialect)
        for block in iter_text_blocks(self.path, self.name, HEADERS[dialect]):
            columns, block_decimals = convert(block)
            if flag is not None:
                rpi_trades += int(pc.sum(_choice(block, flag, ("0", "1"), self.name)).as_py() or 0)
            decimals = max(decimals, block_decimals)
            yield pa.RecordBatch.from_arrays([columns[c] for c in TRADE_COLUMNS], names=list(TRADE_COLUMNS))
        self.metadata.clear()
        self.metadata.update({
            "dialect": dialect.value, "header": ",".join(HEADERS[dialect]),
            "timestamp_resolution": RESOLUTIONS[decimals], "timestamp_decimals": decimals,
            "size_unit": "USD contracts" if self.spec.market is BybitMarket.INVERSE else f"{self.spec.base}",
            **({"rpi_trades": rpi_trades} if dialect is not Dialect.TRADING else {}),
        })

    def _amounts(self, block: TextBlock, size_column: str) -> dict[str, pa.Array]:
        spec = self.spec
        return {"price": _exact(block, "price", spec.price_precision, self.name, "the instrument's price precision"),
                "qty": _exact(block, size_column, spec.size_precision, self.name, "the instrument's size precision")}

    def _trading(self, block: TextBlock) -> tuple[dict[str, pa.Array], int]:
        fail_at_first(block, "symbol", pc.equal(block.column("symbol"), self.spec.symbol), self.name,
                      f"is not the file's symbol {self.spec.symbol}")
        ts, decimals = epoch_seconds_ns(block, "timestamp", self.bounds, self.name)
        ids = block.column("trdMatchID")
        fail_at_first(block, "trdMatchID", pc.match_substring_regex(ids, UUID_TEXT), self.name,
                      "is not a trade id (a 36-character UUID)")
        return {"trade_id": ids, **self._amounts(block, "size"),
                "ts_event": ts.cast(pa.timestamp("ns", tz="UTC")),
                "aggressor_side": _aggressor(block, "Buy", "Sell", self.name)}, decimals

    def _spot(self, block: TextBlock) -> tuple[dict[str, pa.Array], int]:
        counter = parse_integer(block, "id", self.name)
        lines = pa.array(np.arange(block.first_line - 1, block.first_line - 1 + block.batch.num_rows))
        fail_at_first(block, "id", pc.equal(counter, lines), self.name,
                      "breaks the file's trade counter (1, 2, 3, … in line order): lines are missing or moved")
        ts = parse_epoch_ns(block, "timestamp", TimeUnit.MILLISECONDS, self.bounds, self.name)
        trade_ids = pc.binary_join_element_wise(f"{self.file.day:%Y%m%d}", block.column("id"), "-")
        return {"trade_id": trade_ids, **self._amounts(block, "volume"),
                "ts_event": ts.cast(pa.timestamp("ns", tz="UTC")),
                "aggressor_side": _aggressor(block, "buy", "sell", self.name)}, 3
