"""The canonical trades table: what every trade source produces, and what the ``TradeTick`` writer, the trades
checks and the cross-source reconciliation read.

Columns ``trade_id``, ``price`` and ``qty`` (exact ``decimal128`` at the instrument's precisions), ``ts_event``
(ns, UTC) and ``aggressor_side`` (Nautilus' values: 1 buyer, 2 seller); sources that know when each trade was
received (captures, vendors) add ``ts_init`` (ns, UTC), the ``TradeTick``'s ``ts_init``. A source whose own table names a column
otherwise (an aggregate id, a quantity in contracts) maps it with ``canonical_trades``.

The trade id's type is the source's (``TradeIds``): int64 where ids are integers that increase with the trade
order (Binance), text where they are not (Bybit's UUIDs): a day is then ordered by time, and within one time by
its position in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa

TRADE_COLUMNS = ("trade_id", "price", "qty", "ts_event", "aggressor_side")
BUYER, SELLER = 1, 2  # nautilus_trader AggressorSide values
TRADE_ID_MAX_LENGTH = 36  # what a Nautilus TradeId holds
RECEIVE_TIME = "ts_init"  # the optional column


@dataclass(frozen=True)
class TradeIds:
    """How a source's trade ids are typed and what they say about order.

    ``ordered``: ids increase with the trade order, so a day is ordered by (ts_event, trade_id) and a repeated id
    is a duplicate row; otherwise by ts_event and, within one time, by the row's position in the file.
    """

    arrow: pa.DataType
    polars: pl.DataType
    ordered: bool

    def rule(self) -> pa_pl.Column:
        if self.ordered:
            return pa_pl.Column(self.polars)
        return pa_pl.Column(self.polars, pa_pl.Check.str_length(1, TRADE_ID_MAX_LENGTH))


INTEGER_IDS = TradeIds(pa.int64(), pl.Int64(), ordered=True)
TEXT_IDS = TradeIds(pa.string(), pl.String(), ordered=False)


def trade_fields(price_precision: int, size_precision: int, ids: TradeIds = INTEGER_IDS) -> dict[str, pa.Field]:
    """The canonical columns as Arrow fields, by name (a source's schema places them in its own order)."""
    return {
        "trade_id": pa.field("trade_id", ids.arrow, nullable=False),
        "price": pa.field("price", pa.decimal128(38, price_precision), nullable=False),
        "qty": pa.field("qty", pa.decimal128(38, size_precision), nullable=False),
        "ts_event": pa.field("ts_event", pa.timestamp("ns", tz="UTC"), nullable=False),
        "aggressor_side": pa.field("aggressor_side", pa.uint8(), nullable=False),
        RECEIVE_TIME: pa.field(RECEIVE_TIME, pa.timestamp("ns", tz="UTC"), nullable=False),
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
