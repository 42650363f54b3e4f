"""Normalized quotes (``tables/quotes.py``) → Nautilus ``QuoteTick`` day files, Arrow-direct and exact.

The file is what ``ParquetDataCatalog.write_data`` writes for quotes: ``bid_price``, ``ask_price``, ``bid_size``,
``ask_size`` as fixed-point FSB(16), ``ts_event``/``ts_init`` uint64, metadata ``instrument_id`` and the
instrument's precisions (a value with more decimals than those fails the cast, it is never rounded).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from nautilus_trader.core.nautilus_pyo3 import PRECISION_BYTES
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.catalog import day_files
from hedgegrid_data.catalog.trade_ticks import _check_high_precision_build, fixed_point

STATISTICS_COLUMNS = ["ts_event", "ts_init"]


def quote_tick_schema(instrument: Instrument) -> pa.Schema:
    raw = pa.binary(PRECISION_BYTES)
    return pa.schema(
        [pa.field(name, raw, nullable=False) for name in ("bid_price", "ask_price", "bid_size", "ask_size")]
        + [pa.field("ts_event", pa.uint64(), nullable=False), pa.field("ts_init", pa.uint64(), nullable=False)],
        metadata={"instrument_id": instrument.id.value, "price_precision": str(instrument.price_precision),
                  "size_precision": str(instrument.size_precision)},
    )


def quote_tick_table(quotes: pa.Table, instrument: Instrument) -> pa.Table:
    """A normalized quotes day → rows of ``quote_tick_schema``; casting to the instrument's precisions fails
    rather than rounds."""
    price = pa.decimal128(38, instrument.price_precision)
    size = pa.decimal128(38, instrument.size_precision)

    def raw(name: str, type_: pa.DataType) -> pa.Array:
        return fixed_point(pc.cast(quotes.column(name), type_).combine_chunks(), name)

    def ns(name: str) -> pa.Array:
        return quotes.column(name).combine_chunks().cast(pa.int64()).cast(pa.uint64())

    return pa.Table.from_arrays(
        [raw("bid_price", price), raw("ask_price", price), raw("bid_size", size), raw("ask_size", size),
         ns("ts_event"), ns("ts_init")],
        schema=quote_tick_schema(instrument))


def write_quote_tick_day(root: Path, quotes: pa.Table, instrument: Instrument, day: dt.date) -> Path:
    """Write one day of quotes of ``instrument`` under ``root`` (a catalog or its staging tree); atomic."""
    _check_high_precision_build()
    return day_files.write_day_table(root, QuoteTick, instrument.id.value, day, quote_tick_table(quotes, instrument),
                                     STATISTICS_COLUMNS)


def quote_tick_tuple(tick: QuoteTick) -> tuple:
    return str(tick.bid_price), str(tick.bid_size), str(tick.ask_price), str(tick.ask_size), tick.ts_event, tick.ts_init
