"""Normalized trades → Nautilus ``TradeTick`` parquet, Arrow-direct, exact and streaming.

A Nautilus price or size on disk is its value × 10^16 as a 16-byte little-endian integer: the data
buffer of an Arrow ``decimal128(38, 16)`` array. Decimals are rescaled by Arrow (exact) and the
buffer is reinterpreted, so no Python object is made per row. The file has ``write_data``'s schema,
metadata and row groups (Nautilus reads it back equal), with dictionaries only where values repeat and
statistics only on the timestamps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from nautilus_trader.core.nautilus_pyo3 import FIXED_SCALAR, PRECISION_BYTES
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.catalog import day_files
from hedgegrid_data.errors import HedgegridDataError

RAW_SCALE = 16
RAW_LIMIT = 10 ** (38 - RAW_SCALE)  # decimal128(38, 16) holds |value| < 10^22
# Prices, sizes and sides repeat within a row group; ids and timestamps are nearly unique, so a dictionary
# for them costs a third of the write time and makes the file bigger.
DICTIONARY_COLUMNS = ["price", "size", "aggressor_side"]
# Nautilus reads a file's time range from the ts_init statistics (and nothing from the others).
STATISTICS_COLUMNS = ["ts_event", "ts_init"]


def _check_high_precision_build() -> None:
    if PRECISION_BYTES != 16 or FIXED_SCALAR != 1e16:
        raise RuntimeError(
            f"nautilus_trader build stores {PRECISION_BYTES}-byte raws (scale {FIXED_SCALAR}); "
            "the Arrow-direct writer needs the 16-byte high-precision build"
        )


def fixed_point(values: pa.Array, what: str = "values") -> pa.Array:
    """Exact decimal array → Nautilus raw fixed-point ``fixed_size_binary(16)``; ``what`` names the values in
    the error raised for one a raw cannot hold."""
    raw_type = pa.decimal128(38, RAW_SCALE)
    if values.type.scale > RAW_SCALE:
        raw = pc.cast(values, raw_type)  # fails rather than drop a digit
    else:
        # Adding decimals loses nothing once every value fits; Arrow's own per-value check costs twice the rescale.
        extremes = pc.min_max(values)
        if len(values) and max(extremes["max"].as_py(), -extremes["min"].as_py()) >= RAW_LIMIT:
            raise HedgegridDataError(f"{what} up to {extremes['max']} / down to {extremes['min']} exceed what a "
                                     f"Nautilus fixed-point raw can hold (|value| < {RAW_LIMIT})")
        raw = pc.cast(values, options=pc.CastOptions(raw_type, allow_decimal_truncate=True))
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(PRECISION_BYTES), len(raw), [None, raw.buffers()[1]], offset=raw.offset
    )


def from_fixed_point(raw: pa.Array) -> pa.Array:
    """Nautilus raw fixed-point ``fixed_size_binary(16)`` → the exact ``decimal128(38, 16)`` it stores."""
    return pa.Array.from_buffers(pa.decimal128(38, RAW_SCALE), len(raw), [None, raw.buffers()[1]], offset=raw.offset)


def trade_tick_prices(path: Path) -> pa.Table:
    """A ``TradeTick`` day file's ``ts_event`` (int64 ns) and exact ``price``, in file order."""
    table = pq.read_table(path, columns=["ts_event", "price"])
    return pa.table({"ts_event": table.column("ts_event").combine_chunks().cast(pa.int64()),
                     "price": from_fixed_point(table.column("price").combine_chunks())})


def trade_tick_schema(instrument: Instrument) -> pa.Schema:
    return pa.schema(
        [
            pa.field("price", pa.binary(PRECISION_BYTES), nullable=False),
            pa.field("size", pa.binary(PRECISION_BYTES), nullable=False),
            pa.field("aggressor_side", pa.uint8(), nullable=False),
            pa.field("trade_id", pa.string(), nullable=False),
            pa.field("ts_event", pa.uint64(), nullable=False),
            pa.field("ts_init", pa.uint64(), nullable=False),
        ],
        metadata={
            "instrument_id": instrument.id.value,
            "price_precision": str(instrument.price_precision),
            "size_precision": str(instrument.size_precision),
        },
    )


def trade_tick_batch(normalized: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Normalized trades → ``TradeTick`` rows; ``ts_init`` is the batch's receive time where it has one, else
    ``ts_event``."""
    ts = normalized.column("ts_event").cast(pa.int64()).cast(pa.uint64())
    names = normalized.schema.names
    ts_init = normalized.column("ts_init").cast(pa.int64()).cast(pa.uint64()) if "ts_init" in names else ts
    return pa.RecordBatch.from_arrays(
        [
            fixed_point(normalized.column("price"), "price"),
            fixed_point(normalized.column("qty"), "size"),
            normalized.column("aggressor_side"),
            pc.cast(normalized.column("trade_id"), pa.string()),
            ts,
            ts_init,
        ],
        schema=schema,
    )


@contextmanager
def trade_tick_day_sink(root: Path, instrument: Instrument, day: dt.date) -> Iterator[Callable[[pa.RecordBatch], None]]:
    """Yield ``write(normalized_batch)`` that streams one day of ``TradeTick``s into a day file under ``root``."""
    _check_high_precision_build()
    schema = trade_tick_schema(instrument)
    with day_files.day_file_writer(root, TradeTick, instrument.id.value, day, schema,
                                   dictionary_columns=DICTIONARY_COLUMNS,
                                   statistics_columns=STATISTICS_COLUMNS) as write:
        yield lambda batch: write(trade_tick_batch(batch, schema))
