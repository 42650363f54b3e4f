"""The symbol universe per market and the exchange filters each symbol's instrument is built from."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from hedgegrid_data import settings
from hedgegrid_data.venues.binance import Market


def increment_precision(increment: str) -> int:
    """Decimal places of an exchange increment after normalization: ``"0.01000000"`` → 2, ``"1"`` → 0."""
    exponent = Decimal(increment).normalize().as_tuple().exponent
    assert isinstance(exponent, int), f"not a finite increment: {increment!r}"
    return max(0, -exponent)


@dataclass(frozen=True)
class SymbolSpec:
    """One symbol of one market, as configured in the symbols file."""

    market: Market
    symbol: str
    base: str
    quote: str
    tick_size: str
    step_size: str
    contract_size: str | None = None

    @property
    def price_precision(self) -> int:
        return increment_precision(self.tick_size)

    @property
    def size_precision(self) -> int:
        return increment_precision(self.step_size)


@cache
def _load(path: Path) -> dict[Market, dict[str, SymbolSpec]]:
    with path.open("rb") as f:
        raw = tomllib.load(f)
    unknown = set(raw) - {m.value for m in Market}
    if unknown:
        raise ValueError(f"{path}: unknown market section(s) {sorted(unknown)}; expected spot, um, cm")
    universe: dict[Market, dict[str, SymbolSpec]] = {}
    for market in Market:
        entries = raw.get(market.value, {})
        universe[market] = {
            symbol: SymbolSpec(market=market, symbol=symbol, **fields) for symbol, fields in entries.items()
        }
        if market is Market.COINM:
            missing = [s for s, spec in universe[market].items() if spec.contract_size is None]
            if missing:
                raise ValueError(f"{path}: COIN-M symbols need contract_size: {missing}")
    return universe


def symbol_universe(path: Path | None = None) -> dict[Market, dict[str, SymbolSpec]]:
    """All configured symbols, by market (from ``HEDGEGRID_SYMBOLS_FILE`` or the checked-in file)."""
    return _load((path or settings.symbols_file()).resolve())


def symbol_spec(market: Market, symbol: str) -> SymbolSpec:
    try:
        return symbol_universe()[market][symbol]
    except KeyError:
        raise KeyError(f"{symbol} is not a configured {market.value} symbol ({settings.symbols_file()})") from None
