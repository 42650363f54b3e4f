"""Tardis' downloadable CSV files (datasets) → canonical tables, exactly: every value is read as text and converted
by ``sources/text_columns.py`` (decimals to ``decimal128`` at the table's scale, µs epochs to ns), never through a
float. A file is hostile until read: its header must be exactly the dataset's (an unknown or missing field fails),
every row must name the expected exchange and symbol, ``timestamp`` (the exchange's) must lie in the file's UTC
day and ``local_timestamp`` (Tardis' receive time) within an hour of it; any other value fails with the file and
line.

| dataset | header | canonical |
|---|---|---|
| trades | ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount`` | trades + ``ts_init`` |
| quotes | ``exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount`` | quotes |
| derivative_ticker | ``…,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price`` | mark prices, funding updates |
| book_snapshot_5, book_snapshot_25 | ``…,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,…`` | book depth (top 10 levels) |

A derivative_ticker row is written whenever any of its fields changes (open interest, last price …): the mark-price
table keeps the rows whose (mark, index) pair changed, the funding-update table those whose (rate, funding time)
changed — what Nautilus' own loader does for funding — each with its file line.
"""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.text_columns import (
    QUOTED_CHARS,
    TextBlock,
    fail_at_first,
    parse_decimal,
    parse_epoch_ns,
    parse_integer,
    parse_signed_decimal,
)
from hedgegrid_data.tables.book_depth import DEPTH, LEVEL_COLUMNS
from hedgegrid_data.tables.trades import BUYER, SELLER

HEADERS = {
    "trades": ("exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount"),
    "quotes": ("exchange", "symbol", "timestamp", "local_timestamp", "ask_amount", "ask_price", "bid_price",
               "bid_amount"),
    "derivative_ticker": ("exchange", "symbol", "timestamp", "local_timestamp", "funding_timestamp", "funding_rate",
                          "predicted_funding_rate", "open_interest", "last_price", "index_price", "mark_price"),
}
BOOK_LEVELS = {"book_snapshot_5": 5, "book_snapshot_25": 25}
for _data_type, _levels in BOOK_LEVELS.items():
    HEADERS[_data_type] = ("exchange", "symbol", "timestamp", "local_timestamp",
                           *(f"{side}[{i}].{what}" for i in range(_levels) for side in ("asks", "bids")
                             for what in ("price", "amount")))
BLOCK_SIZE = 4 << 20
MAX_HEADER_BYTES = 4096
RECEIVE_SLACK_NS = 3_600 * 10**9  # Tardis' receive time may trail the exchange's by this much at most
UTC_NS = pa.timestamp("ns", tz="UTC")
CSV_ERRORS = (pa.ArrowInvalid, OSError, EOFError, zlib.error, gzip.BadGzipFile)


def _check_header(path: Path, name: str, data_type: str) -> None:
    expected = HEADERS[data_type]
    try:
        with gzip.open(path, "rb") as f:
            first = f.readline(MAX_HEADER_BYTES)
    except CSV_ERRORS as exc:
        raise ArchiveDataError(name, f"corrupt or truncated gzip: {exc}") from None
    found = tuple(first.rstrip(b"\r\n").decode("utf-8", "replace").split(","))
    if found != expected:
        unknown = [c[:QUOTED_CHARS] for c in found if c not in expected]
        missing = [c for c in expected if c not in found]
        raise ArchiveDataError(name, f"not a Tardis {data_type} header: unknown field(s) {unknown}, missing "
                                     f"{missing} (expected {','.join(expected)})", line=1)


def text_blocks(path: Path, name: str, data_type: str, exchange: str, symbol: str) -> Iterator[TextBlock]:
    """The file's rows as blocks of text columns (line numbers exact: an empty line is an error, not skipped),
    each row checked to name ``exchange`` and ``symbol``."""
    _check_header(path, name, data_type)
    header = HEADERS[data_type]
    line = 2
    try:
        reader = pcsv.open_csv(
            pa.input_stream(str(path), compression="gzip"),
            read_options=pcsv.ReadOptions(column_names=list(header), skip_rows=1, block_size=BLOCK_SIZE),
            parse_options=pcsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=False),
            convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
        for batch in reader:
            if not batch.num_rows:
                continue
            block = TextBlock(batch, line)
            for column, expected in (("exchange", exchange), ("symbol", symbol)):
                fail_at_first(block, column, pc.equal(block.column(column), expected), name,
                              f"is not the file's {column} {expected!r}")
            yield block
            line += batch.num_rows
    except ArchiveDataError:
        raise
    except CSV_ERRORS as exc:
        raise ArchiveDataError(name, f"malformed or truncated CSV after line {line - 1}: "
                                     f"{str(exc)[:300]}") from None


def _times(block: TextBlock, day: dt.date, name: str) -> tuple[pa.Array, pa.Array]:
    """(ts_event, ts_init) as ns UTC: the exchange's time inside the day, Tardis' receive time near it."""
    start, end = day_bounds_ns(day)
    event = parse_epoch_ns(block, "timestamp", TimeUnit.MICROSECONDS, (start, end), name)
    local = parse_epoch_ns(block, "local_timestamp", TimeUnit.MICROSECONDS,
                           (start - RECEIVE_SLACK_NS, end + RECEIVE_SLACK_NS), name)
    return event.cast(UTC_NS), local.cast(UTC_NS)


def _lines(block: TextBlock) -> pa.Array:
    return pa.array(range(block.first_line, block.first_line + block.batch.num_rows), pa.int64())


def trade_batches(path: Path, name: str, day: dt.date, exchange: str, symbol: str, price_scale: int,
                  size_scale: int, text_ids: bool = False) -> Iterator[pa.RecordBatch]:
    """Canonical trade batches with ``ts_init`` (Tardis' receive time); ``side`` is the taker's (buy/sell)."""
    for block in text_blocks(path, name, "trades", exchange, symbol):
        side = block.column("side")
        fail_at_first(block, "side", pc.is_in(side, pa.array(["buy", "sell"])), name,
                      "is not a taker side (buy or sell)")
        ts_event, ts_init = _times(block, day, name)
        if text_ids:
            fail_at_first(block, "id", pc.greater(pc.utf8_length(block.column("id")), 0), name, "is empty")
        ids = block.column("id") if text_ids else parse_integer(block, "id", name)
        yield pa.RecordBatch.from_arrays(
            [ids, parse_decimal(block, "price", price_scale, name, "the instrument"),
             parse_decimal(block, "amount", size_scale, name, "the instrument"), ts_event,
             pc.if_else(pc.equal(side, "buy"), pa.scalar(BUYER, pa.uint8()), pa.scalar(SELLER, pa.uint8())),
             ts_init],
            names=["trade_id", "price", "qty", "ts_event", "aggressor_side", "ts_init"])


def quotes_table(path: Path, name: str, day: dt.date, exchange: str, symbol: str, price_scale: int,
                 size_scale: int) -> pa.Table:
    """The day's best bid/ask rows: ``bid_price, bid_size, ask_price, ask_size, ts_event, ts_init, line``."""
    batches = []
    for block in text_blocks(path, name, "quotes", exchange, symbol):
        ts_event, ts_init = _times(block, day, name)
        columns = [parse_decimal(block, "bid_price", price_scale, name, "the instrument"),
                   parse_decimal(block, "bid_amount", size_scale, name, "the instrument"),
                   parse_decimal(block, "ask_price", price_scale, name, "the instrument"),
                   parse_decimal(block, "ask_amount", size_scale, name, "the instrument"), ts_event, ts_init,
                   _lines(block)]
        batches.append(pa.RecordBatch.from_arrays(
            columns, names=["bid_price", "bid_size", "ask_price", "ask_size", "ts_event", "ts_init", "line"]))
    return _table(batches, ["bid_price", "bid_size", "ask_price", "ask_size", "ts_event", "ts_init", "line"],
                  [pa.decimal128(38, price_scale), pa.decimal128(38, size_scale), pa.decimal128(38, price_scale),
                   pa.decimal128(38, size_scale), UTC_NS, UTC_NS, pa.int64()])


def _table(batches: list[pa.RecordBatch], names: list[str], types: list[pa.DataType]) -> pa.Table:
    schema = pa.schema(list(zip(names, types, strict=True)))
    return pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()


def _optional_decimal(block: TextBlock, column: str, scale: int, name: str, signed: bool = False) -> pa.Array:
    """Decimal text (``signed``: with a leading ``-`` allowed), or null where the field is empty."""
    values = block.column(column)
    present = pc.greater(pc.utf8_length(values), 0)
    filled = TextBlock(pa.RecordBatch.from_arrays([pc.if_else(present, values, "0")], names=[column]),
                       block.first_line)
    parse = parse_signed_decimal if signed else parse_decimal
    return pc.if_else(present, parse(filled, column, scale, name, f"the {column} column"), None)


def _changed(table: pa.Table, columns: list[str]) -> pa.Array:
    """Rows whose ``columns`` differ from the previous row's (nulls compare equal; the first row counts)."""
    if table.num_rows == 0:
        return pa.array([], pa.bool_())
    changed = pa.array([True] + [False] * (table.num_rows - 1))
    for column in columns:
        values = table.column(column).combine_chunks()
        current, previous = values.slice(1), values.slice(0, len(values) - 1)
        differs = pc.fill_null(pc.not_equal(current, previous), False)
        differs = pc.or_(differs, pc.xor(pc.is_null(current), pc.is_null(previous)))
        changed = pc.or_(changed, pa.concat_arrays([pa.array([True]), differs]))
    return changed


def derivative_ticker_tables(path: Path, name: str, day: dt.date, exchange: str, symbol: str, mark_scale: int,
                             rate_scale: int) -> tuple[pa.Table, pa.Table]:
    """(mark prices, funding updates) of a day's derivative_ticker file.

    Mark prices: ``mark_price, index_price (null when empty), ts_event, ts_init, line``; funding updates: ``rate,
    next_funding_time (null when empty), ts_event, ts_init, line``; each keeps the rows where its values changed.
    """
    batches = []
    for block in text_blocks(path, name, "derivative_ticker", exchange, symbol):
        ts_event, ts_init = _times(block, day, name)
        funding_us = block.column("funding_timestamp")
        has_funding_time = pc.greater(pc.utf8_length(funding_us), 0)
        digits = TextBlock(pa.RecordBatch.from_arrays([pc.if_else(has_funding_time, funding_us, "0")],
                                                      names=["funding_timestamp"]), block.first_line)
        next_funding = pc.if_else(has_funding_time,
                                  pc.multiply(parse_integer(digits, "funding_timestamp", name), 1000), None)
        batches.append(pa.RecordBatch.from_arrays(
            [_optional_decimal(block, "mark_price", mark_scale, name),
             _optional_decimal(block, "index_price", mark_scale, name),
             _optional_decimal(block, "funding_rate", rate_scale, name, signed=True), next_funding.cast(UTC_NS), ts_event,
             ts_init, _lines(block)],
            names=["mark_price", "index_price", "rate", "next_funding_time", "ts_event", "ts_init", "line"]))
    table = _table(batches, ["mark_price", "index_price", "rate", "next_funding_time", "ts_event", "ts_init", "line"],
                   [pa.decimal128(38, mark_scale), pa.decimal128(38, mark_scale), pa.decimal128(38, rate_scale),
                    UTC_NS, UTC_NS, UTC_NS, pa.int64()])
    marks = table.filter(pc.is_valid(table.column("mark_price")))
    marks = marks.filter(_changed(marks, ["mark_price", "index_price"]))
    funding = table.filter(pc.is_valid(table.column("rate")))
    funding = funding.filter(_changed(funding, ["rate", "next_funding_time"]))
    return (marks.select(["mark_price", "index_price", "ts_event", "ts_init", "line"]),
            funding.select(["rate", "next_funding_time", "ts_event", "ts_init", "line"]))


def book_snapshot_table(path: Path, name: str, day: dt.date, exchange: str, symbol: str, data_type: str,
                        price_scale: int, size_scale: int) -> pa.Table:
    """A day's book snapshots as the book-depth table (``tables/book_depth.py``: the top ``DEPTH`` levels, null
    where the snapshot has fewer) with ``line``. Every level of the file is parsed exactly, the deeper ones of a
    25-level snapshot too (and then left out: ``OrderBookDepth10`` holds ten)."""
    levels = BOOK_LEVELS[data_type]
    batches = []
    for block in text_blocks(path, name, data_type, exchange, symbol):
        ts_event, ts_init = _times(block, day, name)
        columns = {}
        for i in range(levels):
            for side, canonical in (("bids", "bid"), ("asks", "ask")):
                price = _optional_decimal(block, f"{side}[{i}].price", price_scale, name)
                size = _optional_decimal(block, f"{side}[{i}].amount", size_scale, name)
                fail_at_first(block, f"{side}[{i}].amount", pc.equal(pc.is_valid(price), pc.is_valid(size)), name,
                              f"is not given with {side}[{i}].price (or the other way round)")
                if i < DEPTH:
                    columns[f"{canonical}_price_{i}"], columns[f"{canonical}_size_{i}"] = price, size
        for i in range(levels, DEPTH):
            for c in (f"bid_price_{i}", f"ask_price_{i}"):
                columns[c] = pa.nulls(block.batch.num_rows, pa.decimal128(38, price_scale))
            for c in (f"bid_size_{i}", f"ask_size_{i}"):
                columns[c] = pa.nulls(block.batch.num_rows, pa.decimal128(38, size_scale))
        batches.append(pa.RecordBatch.from_arrays(
            [columns[c] for c in LEVEL_COLUMNS] + [ts_event, ts_init, _lines(block)],
            names=[*LEVEL_COLUMNS, "ts_event", "ts_init", "line"]))
    return _table(batches, [*LEVEL_COLUMNS, "ts_event", "ts_init", "line"],
                  [pa.decimal128(38, price_scale if "_price_" in c else size_scale) for c in LEVEL_COLUMNS]
                  + [UTC_NS, UTC_NS, pa.int64()])
