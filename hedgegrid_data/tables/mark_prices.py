"""The canonical mark-price table: each mark price a venue published (with its index price where the message
carries one), what every mark-price stream source produces and what the ``MarkPriceUpdate`` writer reads.

Columns ``mark_price`` (exact, ``MARK_PRICE_SCALE`` decimals: venues print mark prices with more decimals than
the tick size), ``index_price`` (the same scale, null where the source has none), ``ts_event`` (the venue's time)
and ``ts_init`` (the receive time, else ``ts_event``), both ns UTC. The archive's mark-price *klines* are bars
(``tables/bars.py``); this table is the stream of updates.
"""

from __future__ import annotations

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa

MARK_PRICE_COLUMNS = ("mark_price", "index_price", "ts_event", "ts_init")
MARK_PRICE_SCALE = 12


def mark_price_schema() -> pa.Schema:
    value = pa.decimal128(38, MARK_PRICE_SCALE)
    utc_ns = pa.timestamp("ns", tz="UTC")
    return pa.schema([
        pa.field("mark_price", value, nullable=False),
        pa.field("index_price", value, nullable=True),
        pa.field("ts_event", utc_ns, nullable=False),
        pa.field("ts_init", utc_ns, nullable=False),
    ])


def mark_price_rules() -> dict[str, pa_pl.Column]:
    value = pl.Decimal(38, MARK_PRICE_SCALE)
    return {"mark_price": pa_pl.Column(value, pa_pl.Check.gt(0)),
            "index_price": pa_pl.Column(value, pa_pl.Check.gt(0), nullable=True)}
