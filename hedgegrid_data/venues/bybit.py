"""Bybit as a venue: its markets, the identity of their instruments and the symbol universe they are built from.

Ids follow Nautilus' own Bybit adapter, whose symbol carries the product type: ``ETHUSDT-SPOT.BYBIT``
(``CurrencyPair``), ``BTCUSDT-LINEAR.BYBIT`` (``CryptoPerpetual``; USDT dated futures and USDC contracts are
``-LINEAR`` too) and ``BTCUSD-INVERSE.BYBIT`` (inverse ``CryptoPerpetual``, sizes in USD contracts); a symbol
with an ``expiry`` is a ``CryptoFuture``. Increments come from ``bybit_symbols.toml``
(``HEDGEGRID_BYBIT_SYMBOLS_FILE``); precision is the normalized increment's, and data with more decimals than it
allows is an error.
"""

from __future__ import annotations

import datetime as dt
import enum
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CryptoFuture, CryptoPerpetual, CurrencyPair, Instrument
from nautilus_trader.model.objects import Quantity

from hedgegrid_data import settings
from hedgegrid_data.venues import binance
from hedgegrid_data.venues.instruments import instrument_terms
from hedgegrid_data.venues.symbols import increment_precision, valid_symbol

BYBIT = Venue("BYBIT")


class BybitMarket(enum.Enum):
    """A Bybit market; the value names it in asset keys, groups and local paths, its upper case in instrument ids."""

    LINEAR = "linear"
    INVERSE = "inverse"
    SPOT = "spot"


def instrument_id(market: BybitMarket, symbol: str) -> InstrumentId:
    return InstrumentId(Symbol(f"{symbol}-{market.value.upper()}"), BYBIT)


@dataclass(frozen=True)
class BybitSymbolSpec:
    """One symbol of one Bybit market, as configured in the Bybit symbols file."""

    market: BybitMarket
    symbol: str
    base: str
    quote: str
    tick_size: str
    step_size: str
    expiry: str | None = None
    binance: str | None = None  # the Binance counterpart's instrument id; "" for none, None for the default

    @property
    def price_precision(self) -> int:
        return increment_precision(self.tick_size)

    @property
    def size_precision(self) -> int:
        return increment_precision(self.step_size)

    @property
    def instrument_id(self) -> InstrumentId:
        return instrument_id(self.market, self.symbol)

    @property
    def binance_counterpart(self) -> str | None:
        """The same instrument on Binance, the cross-venue check's reference: a perpetual's perpetual, a pair's
        pair; dated futures have none unless configured."""
        if self.binance is not None:
            return self.binance or None
        if self.expiry is not None:
            return None
        if self.market is BybitMarket.SPOT:
            return binance.instrument_id(binance.Market.SPOT, self.symbol).value
        if self.market is BybitMarket.LINEAR:
            return binance.instrument_id(binance.Market.USDM, self.symbol).value
        return binance.instrument_id(binance.Market.COINM, f"{self.symbol}_PERP").value


def _epoch_ns(text: str) -> int:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 10**9


def build_instrument(spec: BybitSymbolSpec) -> Instrument:
    """The instrument for ``spec``, as the Bybit adapter names it, with precisions from the normalized increments."""
    base, quote = Currency.from_str(spec.base), Currency.from_str(spec.quote)
    common = dict(**instrument_terms(spec.instrument_id, spec.symbol, spec.tick_size, spec.step_size,
                                     spec.price_precision, spec.size_precision), quote_currency=quote)
    if spec.market is BybitMarket.SPOT:
        return CurrencyPair(base_currency=base, **common)
    inverse = spec.market is BybitMarket.INVERSE
    settlement = base if inverse else quote
    if spec.expiry is not None:
        return CryptoFuture(underlying=base, settlement_currency=settlement, activation_ns=0,
                            expiration_ns=_epoch_ns(spec.expiry), is_inverse=inverse, **common)
    return CryptoPerpetual(base_currency=base, settlement_currency=settlement, is_inverse=inverse,
                           multiplier=Quantity.from_int(1), **common)


BybitUniverse = dict[BybitMarket, dict[str, BybitSymbolSpec]]


@cache
def _load(path: Path) -> BybitUniverse:
    with path.open("rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - {m.value for m in BybitMarket}
    if unknown:
        raise ValueError(f"{path}: unknown Bybit market section(s) {sorted(unknown)}; expected linear, inverse, spot")
    universe: BybitUniverse = {}
    for market in BybitMarket:
        universe[market] = {valid_symbol(symbol, f"{path} [{market.value}]"):
                            BybitSymbolSpec(market=market, symbol=symbol, **fields)
                            for symbol, fields in raw.get(market.value, {}).items()}
    return universe


def bybit_universe(path: Path | None = None) -> BybitUniverse:
    """All configured Bybit symbols, by market (``HEDGEGRID_BYBIT_SYMBOLS_FILE`` or the checked-in file)."""
    return _load((path or settings.bybit_symbols_file()).resolve())
