"""Normalized mark-price klines → Nautilus ``MarkPriceUpdate`` day files, Arrow-direct and exact.

One update per kline: its close, at its close time (``ts_event = ts_init``). The file is what
``ParquetDataCatalog.write_data`` writes: ``value`` FSB(16), ``ts_event``/``ts_init`` uint64,
metadata ``instrument_id`` and ``price_precision``. Mark prices carry more decimals than the tick
size (``9653.29201333``), so the precision is the data's: the fewest decimals, at least the
instrument's, that hold the day exactly.

Index prices have no catalog type in NautilusTrader 1.220: ``write_data`` writes an
``index_price_update`` file, but ``ParquetDataCatalog.query`` (and so ``BacktestNode``) cannot read
it back (``ArrowSerializer._deserialize_rust`` raises ``NotImplementedError`` for
``IndexPriceUpdate``). Index and premium-index klines are therefore published as normalized tables
only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from nautilus_trader.core.nautilus_pyo3 import PRECISION_BYTES
from nautilus_trader.model.data import MarkPriceUpdate
from nautilus_trader.model.identifiers import InstrumentId

from hedgegrid_data.catalog import day_files
from hedgegrid_data.catalog.trade_ticks import _check_high_precision_build, fixed_point


def mark_price_schema(instrument_id: InstrumentId, price_precision: int) -> pa.Schema:
    return pa.schema(
        [pa.field("value", pa.binary(PRECISION_BYTES), nullable=False),
         pa.field("ts_event", pa.uint64(), nullable=False), pa.field("ts_init", pa.uint64(), nullable=False)],
        metadata={"instrument_id": instrument_id.value, "price_precision": str(price_precision)},
    )


def mark_price_table(mark_klines: pa.Table, schema: pa.Schema) -> pa.Table:
    """One ``MarkPriceUpdate`` per kline: close at close time; the cast to the precision fails rather than rounds."""
    value_type = pa.decimal128(38, int(schema.metadata[b"price_precision"]))
    ts = mark_klines.column("close_time").cast(pa.int64()).cast(pa.uint64())
    value = fixed_point(pc.cast(mark_klines.column("close"), value_type).combine_chunks())
    return pa.Table.from_arrays([value, ts, ts], schema=schema)


def write_mark_price_day(root: Path, updates: pa.Table, day: dt.date) -> Path:
    """Write one day of updates (from :func:`mark_price_table`) as the instrument's day file under ``root``."""
    _check_high_precision_build()
    identifier = updates.schema.metadata[b"instrument_id"].decode()
    with day_files.day_file_writer(root, MarkPriceUpdate, identifier, day, updates.schema) as write:
        for batch in updates.to_batches():
            write(batch)
    return day_files.day_file_path(root, MarkPriceUpdate, identifier, day)
