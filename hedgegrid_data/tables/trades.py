"""The canonical trades table: what every trade source produces, and what the ``TradeTick`` writer, the trades
checks and the cross-source reconciliation read.

Columns ``trade_id`` (int64), ``price`` and ``qty`` (exact ``decimal128`` at the instrument's precisions),
``ts_event`` (ns, UTC) and ``aggressor_side`` (Nautilus' values: 1 buyer, 2 seller). A source whose own table
names a column otherwise (an aggregate id, a quantity in contracts) maps it with ``canonical_trades``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa

TRADE_COLUMNS = ("trade_id", "price", "qty", "ts_event", "aggressor_side")
BUYER, SELLER = 1, 2  # nautilus_trader AggressorSide values


def trade_fields(price_precision: int, size_precision: int) -> dict[str, pa.Field]:
    """The canonical columns as Arrow fields, by name (a source's schema places them in its own order)."""
    return {
        "trade_id": pa.field("trade_id", pa.int64(), nullable=False),
        "price": pa.field("price", pa.decimal128(38, price_precision), nullable=False),
        "qty": pa.field("qty", pa.decimal128(38, size_precision), nullable=False),
        "ts_event": pa.field("ts_event", pa.timestamp("ns", tz="UTC"), nullable=False),
        "aggressor_side": pa.field("aggressor_side", pa.uint8(), nullable=False),
    }


def amount_rules(price_precision: int, size_precision: int, qty: str = "qty") -> dict[str, pa_pl.Column]:
    """Value rules no parser can guarantee by construction: a trade moves something (> 0) at a price (> 0)."""
    return {
        "price": pa_pl.Column(pl.Decimal(38, price_precision), pa_pl.Check.gt(0)),
        qty: pa_pl.Column(pl.Decimal(38, size_precision), pa_pl.Check.gt(0)),
    }


def canonical_trades(batch: pa.RecordBatch, names: Mapping[str, str] | None = None) -> pa.RecordBatch:
    """A source's normalized batch as the canonical columns; ``names`` maps a canonical name to the source's."""
    names = names or {}
    return pa.RecordBatch.from_arrays([batch.column(names.get(c, c)) for c in TRADE_COLUMNS],
                                      names=list(TRADE_COLUMNS))
