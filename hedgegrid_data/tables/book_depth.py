"""The canonical book-depth table: the top ``DEPTH`` levels of each side of a book snapshot, what the
``OrderBookDepth10`` writer reads.

Columns ``bid_price_<i>``, ``bid_size_<i>``, ``ask_price_<i>``, ``ask_size_<i>`` for levels 0 (best) to 9, exact
``decimal128`` at the instrument's precisions and null where the snapshot has no such level (a five-level
snapshot's levels 5-9), then ``ts_event`` and ``ts_init`` (ns UTC).
"""

from __future__ import annotations

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa

DEPTH = 10  # OrderBookDepth10
SIDES = ("bid", "ask")
LEVEL_COLUMNS = tuple(f"{side}_{what}_{i}" for i in range(DEPTH) for side in SIDES for what in ("price", "size"))
BOOK_DEPTH_COLUMNS = (*LEVEL_COLUMNS, "ts_event", "ts_init")


def book_depth_schema(price_precision: int, size_precision: int) -> pa.Schema:
    utc_ns = pa.timestamp("ns", tz="UTC")
    return pa.schema([
        *(pa.field(c, pa.decimal128(38, price_precision if "_price_" in c else size_precision), nullable=True)
          for c in LEVEL_COLUMNS),
        pa.field("ts_event", utc_ns, nullable=False), pa.field("ts_init", utc_ns, nullable=False)])


def book_depth_rules(price_precision: int, size_precision: int) -> dict[str, pa_pl.Column]:
    """Every present level has a price above 0 and a size of at least 0."""
    return {c: pa_pl.Column(pl.Decimal(38, price_precision if "_price_" in c else size_precision),
                            pa_pl.Check.gt(0) if "_price_" in c else pa_pl.Check.ge(0), nullable=True)
            for c in LEVEL_COLUMNS}
