"""Normalized book depth (``tables/book_depth.py``) → Nautilus ``OrderBookDepth10`` day files, Arrow-direct and
exact.

The file is what ``ParquetDataCatalog.write_data`` writes for ``OrderBookDepth10``: ``bid_price_0..9``,
``ask_price_0..9``, ``bid_size_0..9``, ``ask_size_0..9`` as fixed-point FSB(16), ``bid_count_0..9`` and
``ask_count_0..9`` uint32 (1 for a level, 0 for a missing one, whose price and size are 0: Nautilus' null order),
``flags`` uint8 (0), ``sequence`` uint64 (0), ``ts_event``/``ts_init`` uint64; metadata ``instrument_id`` and the
instrument's precisions (more decimals than those fail the cast, never a rounding).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from nautilus_trader.core.nautilus_pyo3 import PRECISION_BYTES
from nautilus_trader.model.data import OrderBookDepth10
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.catalog import day_files
from hedgegrid_data.catalog.trade_ticks import _check_high_precision_build, fixed_point
from hedgegrid_data.tables.book_depth import DEPTH, SIDES

STATISTICS_COLUMNS = ["ts_event", "ts_init"]


def order_book_depth_schema(instrument: Instrument) -> pa.Schema:
    raw = pa.binary(PRECISION_BYTES)
    fields = [pa.field(f"{side}_{what}_{i}", raw, nullable=False)
              for what in ("price", "size") for side in SIDES for i in range(DEPTH)]
    fields += [pa.field(f"{side}_count_{i}", pa.uint32(), nullable=False) for side in SIDES for i in range(DEPTH)]
    fields += [pa.field("flags", pa.uint8(), nullable=False), pa.field("sequence", pa.uint64(), nullable=False),
               pa.field("ts_event", pa.uint64(), nullable=False), pa.field("ts_init", pa.uint64(), nullable=False)]
    return pa.schema(fields, metadata={"instrument_id": instrument.id.value,
                                       "price_precision": str(instrument.price_precision),
                                       "size_precision": str(instrument.size_precision)})


def order_book_depth_table(depth: pa.Table, instrument: Instrument) -> pa.Table:
    """A normalized depth day → rows of ``order_book_depth_schema``; a missing level is Nautilus' null order."""
    schema = order_book_depth_schema(instrument)
    types = {"price": pa.decimal128(38, instrument.price_precision),
             "size": pa.decimal128(38, instrument.size_precision)}
    columns: dict[str, pa.Array] = {}
    for side in SIDES:
        for i in range(DEPTH):
            present = pc.is_valid(depth.column(f"{side}_price_{i}")).combine_chunks()
            for what in ("price", "size"):
                name = f"{side}_{what}_{i}"
                values = pc.cast(depth.column(name), types[what]).combine_chunks()
                columns[name] = fixed_point(pc.fill_null(values, pa.scalar(0, types[what])), name)
            columns[f"{side}_count_{i}"] = pc.cast(present, pa.uint32())
    rows = depth.num_rows
    columns["flags"] = pa.array([0] * rows, pa.uint8())
    columns["sequence"] = pa.array([0] * rows, pa.uint64())
    for name in ("ts_event", "ts_init"):
        columns[name] = depth.column(name).combine_chunks().cast(pa.int64()).cast(pa.uint64())
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def write_order_book_depth_day(root: Path, depth: pa.Table, instrument: Instrument, day: dt.date) -> Path:
    """Write one day of depth snapshots of ``instrument`` under ``root`` (a catalog or its staging tree); atomic."""
    _check_high_precision_build()
    return day_files.write_day_table(root, OrderBookDepth10, instrument.id.value, day,
                                     order_book_depth_table(depth, instrument), STATISTICS_COLUMNS)


def order_book_depth_tuple(depth: OrderBookDepth10) -> tuple:
    """Every level's price and size text (bids, then asks), then the times."""
    return (*(str(v) for o in depth.bids for v in (o.price, o.size)),
            *(str(v) for o in depth.asks for v in (o.price, o.size)), depth.ts_event, depth.ts_init)
