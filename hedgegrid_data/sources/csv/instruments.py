"""The Nautilus instrument of an import's symbol: the venue's identity, never the source's.

Binance imports (``venue = "BINANCE"``, market ``spot``/``um``/``cm``) get exactly the archive's instrument
(``venues/binance.py`` from the symbols file, increments overridable in the entry): CSV rows of Binance land on
``BTCUSDT-PERP.BINANCE`` like the archive's. Any other venue gets ``<SYMBOL>.<VENUE>`` (``spot``: a
``CurrencyPair``; any other market a linear ``CryptoPerpetual``, or inverse with a ``contract_size``) from the
entry's ``tick_size``, ``step_size``, ``base`` and ``quote``.
"""

from __future__ import annotations

from dataclasses import replace

from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair, Instrument
from nautilus_trader.model.objects import Quantity

from hedgegrid_data.sources.csv.mapping import CsvImport, MappingError
from hedgegrid_data.venues.binance import Market, build_instrument
from hedgegrid_data.venues.instruments import instrument_terms
from hedgegrid_data.venues.symbols import increment_precision, symbol_spec


def import_instrument(imp: CsvImport, symbol: str) -> Instrument:
    """The instrument ``symbol`` of ``imp``'s rows belongs to."""
    if symbol not in imp.symbols:
        raise MappingError(f"{symbol} is not a symbol of csv import {imp.name!r}: {list(imp.symbols)}")
    if imp.venue == "BINANCE":
        try:
            market = Market(imp.market)
        except ValueError:
            raise MappingError(f"csv import {imp.name!r}: Binance markets are {[m.value for m in Market]}, not "
                               f"{imp.market!r}") from None
        spec = symbol_spec(market, symbol)
        overrides = {k: getattr(imp, k) for k in ("tick_size", "step_size", "contract_size") if getattr(imp, k)}
        return build_instrument(replace(spec, **overrides) if overrides else spec)
    assert imp.tick_size and imp.step_size and imp.base and imp.quote  # required by the mapping
    terms = instrument_terms(InstrumentId(Symbol(symbol), Venue(imp.venue)), symbol, imp.tick_size, imp.step_size,
                             increment_precision(imp.tick_size), increment_precision(imp.step_size))
    base, quote = Currency.from_str(imp.base), Currency.from_str(imp.quote)
    if imp.market == "spot":
        return CurrencyPair(base_currency=base, quote_currency=quote, **terms)
    inverse = imp.contract_size is not None
    return CryptoPerpetual(base_currency=base, quote_currency=quote, settlement_currency=base if inverse else quote,
                           is_inverse=inverse,
                           multiplier=Quantity.from_str(imp.contract_size) if inverse else Quantity.from_int(1),
                           **terms)

