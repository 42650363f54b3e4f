"""Binance as a venue: its markets and the identity of their instruments, whichever source brings the data.

Instruments are built from the symbol universe, one id scheme per market. Ids follow Nautilus' own Binance
adapter so that backtests line up with live trading: spot ``BTCUSDT.BINANCE`` (CurrencyPair), USD-M ``BTCUSDT-PERP.BINANCE`` and COIN-M
``BTCUSD-PERP.BINANCE`` (inverse CryptoPerpetual whose multiplier is the contract size).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair, Instrument
from nautilus_trader.model.objects import Quantity

from hedgegrid_data.venues.instruments import instrument_terms

if TYPE_CHECKING:
    from hedgegrid_data.venues.symbols import SymbolSpec


BINANCE = Venue("BINANCE")


class Market(enum.Enum):
    """A Binance market; the value is the short name used in asset keys, groups and local paths."""

    SPOT = "spot"
    USDM = "um"
    COINM = "cm"


FUTURES_MARKETS = (Market.USDM, Market.COINM)


def instrument_id(market: Market, symbol: str) -> InstrumentId:
    if market is Market.SPOT:
        return InstrumentId(Symbol(symbol), BINANCE)
    if market is Market.COINM:
        return InstrumentId(Symbol(symbol.replace("_PERP", "-PERP")), BINANCE)
    return InstrumentId(Symbol(f"{symbol}-PERP"), BINANCE)


def _currency(code: str) -> Currency:
    return Currency.from_str(code)


def build_instrument(spec: SymbolSpec) -> Instrument:
    """The instrument for ``spec``, with price/size precision from the normalized increments."""
    common = dict(
        **instrument_terms(instrument_id(spec.market, spec.symbol), spec.symbol, spec.tick_size, spec.step_size,
                           spec.price_precision, spec.size_precision),
        base_currency=_currency(spec.base),
        quote_currency=_currency(spec.quote),
    )
    if spec.market is Market.SPOT:
        return CurrencyPair(**common)
    inverse = spec.market is Market.COINM
    return CryptoPerpetual(
        settlement_currency=_currency(spec.base if inverse else spec.quote),
        is_inverse=inverse,
        multiplier=Quantity.from_str(spec.contract_size) if inverse else Quantity.from_int(1),
        **common,
    )
