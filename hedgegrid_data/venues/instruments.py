"""What every venue's Nautilus instrument shares, whatever its kind (pair, perpetual, future)."""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.objects import Price, Quantity


def instrument_terms(instrument_id: InstrumentId, symbol: str, tick_size: str, step_size: str, price_precision: int,
                     size_precision: int) -> dict[str, object]:
    """The keyword arguments every venue's Nautilus instrument shares: identity, precisions, increments (today's
    exchange filters at the precision of every era), and no margins or fees (the backtest's venue sets those)."""
    return dict(
        instrument_id=instrument_id,
        raw_symbol=Symbol(symbol),
        price_precision=price_precision,
        size_precision=size_precision,
        price_increment=Price(Decimal(tick_size), price_precision),
        size_increment=Quantity(Decimal(step_size), size_precision),
        margin_init=Decimal(0),
        margin_maint=Decimal(0),
        maker_fee=Decimal(0),
        taker_fee=Decimal(0),
        ts_event=0,
        ts_init=0,
    )
