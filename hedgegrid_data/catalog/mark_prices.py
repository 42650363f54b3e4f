"""Normalized mark-price klines → Nautilus ``MarkPriceUpdate`` day files, Arrow-direct and exact.

From the archive's mark-price klines: one update per kline, its close at its close time (``ts_event =
ts_init``); from a stream of updates (``tables/mark_prices.py``): each update with its own times. The file is what
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
from hedgegrid_data.tables.mark_prices import MARK_PRICE_SCALE


def exact_precision(values: pa.Array | pa.ChunkedArray, at_least: int, at_most: int = MARK_PRICE_SCALE) -> int:
    """The fewest decimals (at least ``at_least``) that hold every one of the exact ``values`` without rounding."""
    for precision in range(at_least, at_most + 1):
        try:
            pc.cast(values, pa.decimal128(38, precision))
        except pa.ArrowInvalid:
            continue
        return precision
    raise ValueError(f"values need more than {at_most} decimals")


def mark_price_update_schema(instrument_id: InstrumentId, price_precision: int) -> pa.Schema:
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


def mark_price_updates(marks: pa.Table, instrument_id: InstrumentId, at_least: int) -> pa.Table:
    """A canonical mark-price day (``tables/mark_prices.py``) → ``MarkPriceUpdate`` rows at the day's exact
    precision (at least ``at_least``, the instrument's)."""
    precision = exact_precision(marks.column("mark_price"), at_least)
    value = fixed_point(pc.cast(marks.column("mark_price"), pa.decimal128(38, precision)).combine_chunks(), "mark price")

    def ns(name: str) -> pa.Array:
        return marks.column(name).combine_chunks().cast(pa.int64()).cast(pa.uint64())

    return pa.Table.from_arrays([value, ns("ts_event"), ns("ts_init")],
                                schema=mark_price_update_schema(instrument_id, precision))


def write_mark_price_day(root: Path, updates: pa.Table, day: dt.date) -> Path:
    """Write one day of updates (from :func:`mark_price_table` or :func:`mark_price_updates`) as the instrument's day file under ``root``."""
    _check_high_precision_build()
    identifier = updates.schema.metadata[b"instrument_id"].decode()
    return day_files.write_day_table(root, MarkPriceUpdate, identifier, day, updates)


def mark_price_tuple(update: MarkPriceUpdate) -> tuple:
    return str(update.value), update.ts_event, update.ts_init
