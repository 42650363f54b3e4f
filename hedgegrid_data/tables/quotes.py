"""The canonical quotes table: the best bid and ask as a venue or vendor published them, what every quotes source
produces and what the ``QuoteTick`` writer reads.

Columns ``bid_price``, ``bid_size``, ``ask_price``, ``ask_size`` (exact ``decimal128`` at the instrument's
precisions; a size may be 0 where a side is empty), ``ts_event`` (the venue's time, ns UTC) and ``ts_init`` (when
the quote was received: a capture's or vendor's receive time, else ``ts_event``).
"""

from __future__ import annotations

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa

QUOTE_COLUMNS = ("bid_price", "bid_size", "ask_price", "ask_size", "ts_event", "ts_init")


def quote_schema(price_precision: int, size_precision: int) -> pa.Schema:
    price, size = pa.decimal128(38, price_precision), pa.decimal128(38, size_precision)
    utc_ns = pa.timestamp("ns", tz="UTC")
    return pa.schema([
        pa.field("bid_price", price, nullable=False),
        pa.field("bid_size", size, nullable=False),
        pa.field("ask_price", price, nullable=False),
        pa.field("ask_size", size, nullable=False),
        pa.field("ts_event", utc_ns, nullable=False),
        pa.field("ts_init", utc_ns, nullable=False),
    ])


def quote_rules(price_precision: int, size_precision: int) -> dict[str, pa_pl.Column]:
    """Value rules: prices above 0, sizes not below 0 (crossed books are judged by a check, not refused)."""
    price, size = pl.Decimal(38, price_precision), pl.Decimal(38, size_precision)
    return {
        "bid_price": pa_pl.Column(price, pa_pl.Check.gt(0)),
        "bid_size": pa_pl.Column(size, pa_pl.Check.ge(0)),
        "ask_price": pa_pl.Column(price, pa_pl.Check.gt(0)),
        "ask_size": pa_pl.Column(size, pa_pl.Check.ge(0)),
    }
