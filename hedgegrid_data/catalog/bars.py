"""Normalized klines → Nautilus ``Bar`` day files, Arrow-direct and exact.

Bars are ``<instrument>-<step>-<MINUTE|HOUR|...>-LAST-EXTERNAL`` with ``ts_event = ts_init =`` the
kline's close time, so a day's bars stay in that day's file. The file is what
``ParquetDataCatalog.write_data`` writes for the same bars: OHLCV as raw fixed-point FSB(16),
``ts_event``/``ts_init`` uint64, metadata ``bar_type``, ``instrument_id``, ``price_precision`` and
``size_precision``.

Prices and volumes carry the instrument's precisions (a backtest rejects bars of any other). Binance
prints volumes with the decimals the step size had at the time (spot BTCUSDT in 2020: 6; now: 5):
a day needing more decimals than the instrument fails, naming the day and the value, and is
ingested by configuring that era's step size in the symbols file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from nautilus_trader.core.nautilus_pyo3 import PRECISION_BYTES
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.identifiers import InstrumentId

from hedgegrid_data.catalog import day_files
from hedgegrid_data.catalog.trade_ticks import (
    RAW_SCALE,
    _check_high_precision_build,
    fixed_point,
)
from hedgegrid_data.tables.bars import INTERVAL_SECONDS, PRICE_COLUMNS

BAR_AGGREGATIONS = {"s": "SECOND", "m": "MINUTE", "h": "HOUR", "d": "DAY"}
VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")


def bar_type(instrument_id: InstrumentId, interval: str) -> BarType:
    """``BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL`` for ``1m``, ``...-4-HOUR-...`` for ``4h``."""
    if interval not in INTERVAL_SECONDS:
        raise ValueError(f"{interval!r} is not a daily kline interval")
    step, unit = interval[:-1], interval[-1]
    return BarType.from_str(f"{instrument_id.value}-{step}-{BAR_AGGREGATIONS[unit]}-LAST-EXTERNAL")


def bar_schema(bars: BarType, price_precision: int, size_precision: int) -> pa.Schema:
    fsb = pa.binary(PRECISION_BYTES)
    return pa.schema(
        [*(pa.field(c, fsb, nullable=False) for c in VALUE_COLUMNS),
         pa.field("ts_event", pa.uint64(), nullable=False), pa.field("ts_init", pa.uint64(), nullable=False)],
        metadata={
            "bar_type": str(bars),
            "instrument_id": bars.instrument_id.value,
            "price_precision": str(price_precision),
            "size_precision": str(size_precision),
        },
    )


def bar_table(klines: pa.Table, schema: pa.Schema, volume: str) -> pa.Table:
    """Bars of a normalized klines table; the casts to the schema's precisions fail rather than round."""
    price_type = pa.decimal128(38, int(schema.metadata[b"price_precision"]))
    size_type = pa.decimal128(38, int(schema.metadata[b"size_precision"]))
    ts = klines.column("close_time").cast(pa.int64()).cast(pa.uint64())
    return pa.Table.from_arrays(
        [*(fixed_point(pc.cast(klines.column(c), price_type).combine_chunks()) for c in PRICE_COLUMNS),
         fixed_point(pc.cast(klines.column(volume), size_type).combine_chunks()), ts, ts],
        schema=schema,
    )


def write_bar_day(root: Path, bars: pa.Table, day: dt.date) -> Path:
    """Write one day of bars (from :func:`bar_table`) as the day file of its bar type under ``root``."""
    _check_high_precision_build()
    identifier = bars.schema.metadata[b"bar_type"].decode()
    return day_files.write_day_table(root, Bar, identifier, day, bars)


def raw_values(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Nautilus raw fixed-point FSB(16) → the exact ``decimal128(38, 16)`` it encodes."""
    raw = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return pa.Array.from_buffers(pa.decimal128(38, RAW_SCALE), len(raw), [None, raw.buffers()[1]], offset=raw.offset)


def read_bar_day(path: Path) -> pa.Table:
    """A bar day file decoded to exact decimals: open, high, low, close, volume, ts_event, ts_init."""
    table = pq.read_table(path)
    return pa.table({**{c: raw_values(table.column(c)) for c in VALUE_COLUMNS},
                     "ts_event": table.column("ts_event"), "ts_init": table.column("ts_init")})
