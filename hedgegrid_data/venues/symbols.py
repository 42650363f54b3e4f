"""The symbol universe per market and the exchange filters each symbol's instrument is built from.

A symbol's increments are today's exchange filters; its precisions hold every era of its history. Exchanges
coarsen increments over a symbol's life (Binance's spot BTCUSDT step was 0.000001 until 2021-ish, 0.00001
since), and a backtest over years needs one instrument whose precision holds both eras: ``size_decimals`` /
``price_decimals`` (optional, at least the increment's decimals) give that precision, so older data with more
decimals is ingested exactly and newer data is padded, never rounded.

Symbol names are validated where they enter (this file, the archive listing, partition keys): letters, digits,
``_`` and ``-`` only, so that no name can leave the data directory or split a partition key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from hedgegrid_data import settings
from hedgegrid_data.venues.binance import Market

SYMBOL_NAME = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,63}")
MAX_PRECISION = 16  # what a Nautilus fixed-point value holds (high-precision build)


def valid_symbol(symbol: str, where: str) -> str:
    """``symbol`` when it is a plain exchange symbol name (``BTCUSDT``, ``BTCUSD_PERP``, ``BTC-30AUG24``), else an
    error naming ``where`` it came from."""
    if not isinstance(symbol, str) or not SYMBOL_NAME.fullmatch(symbol):
        raise ValueError(f"{where}: {symbol!r} is not a symbol name (upper-case letters, digits, '_' and '-', "
                         "at most 64)")
    return symbol


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
    price_decimals: int | None = None
    size_decimals: int | None = None

    def __post_init__(self) -> None:
        for name, increment, decimals in (("price_decimals", self.tick_size, self.price_decimals),
                                          ("size_decimals", self.step_size, self.size_decimals)):
            if decimals is not None and not increment_precision(increment) <= decimals <= MAX_PRECISION:
                raise ValueError(f"{self.market.value}.{self.symbol}: {name} = {decimals} must lie between the "
                                 f"increment's {increment_precision(increment)} decimals and {MAX_PRECISION}")

    @property
    def price_precision(self) -> int:
        """Decimals of every price the symbol ever had: ``price_decimals``, else the tick size's."""
        return self.price_decimals if self.price_decimals is not None else increment_precision(self.tick_size)

    @property
    def size_precision(self) -> int:
        """Decimals of every size the symbol ever had: ``size_decimals``, else the step size's."""
        return self.size_decimals if self.size_decimals is not None else increment_precision(self.step_size)


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
            valid_symbol(symbol, f"{path} [{market.value}]"): SymbolSpec(market=market, symbol=symbol, **fields)
            for symbol, fields in entries.items()
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

