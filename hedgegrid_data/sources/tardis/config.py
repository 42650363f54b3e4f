"""The Tardis configuration (``HEDGEGRID_TARDIS_FILE``, TOML): which exchanges, symbols, datasets and replay
channels to ingest, from which day, and which Nautilus types Tardis publishes. Unset: no Tardis feed exists.

```toml
first_day = "2024-01-01"          # first partition
publish = ["QuoteTick"]           # datasets feeds that publish; default: quotes only (the Binance archive publishes
                                  # trades, mark prices and funding)
replay_publish = []               # replay feeds that publish (default: none, tables for reconciliation)

["binance-futures"]
symbols = ["BTCUSDT"]             # each must be in the Binance symbols file (its increments make the instrument)
datasets = ["trades", "quotes", "derivative_ticker"]   # and book_snapshot_5 or book_snapshot_25
channels = ["trade", "aggTrade", "markPrice", "bookTicker"]   # replay
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data.sources.tardis.layout import DATASETS, DERIVATIVE_DATASETS, EXCHANGES, market_of
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_universe, valid_symbol

ENV = "HEDGEGRID_TARDIS_FILE"
PUBLISHABLE = ("TradeTick", "QuoteTick", "MarkPriceUpdate", "FundingRateUpdate", "OrderBookDepth10")
CHANNELS = ("trade", "aggTrade", "markPrice", "bookTicker")
DEFAULT_PUBLISH = ("QuoteTick",)


@dataclass(frozen=True)
class ExchangeConfig:
    exchange: str
    symbols: tuple[str, ...]
    datasets: tuple[str, ...]
    channels: tuple[str, ...]

    @property
    def market(self) -> Market:
        return market_of(self.exchange)


@dataclass(frozen=True)
class TardisConfig:
    first_day: str
    publish: frozenset[str]
    exchanges: tuple[ExchangeConfig, ...]
    replay_publish: frozenset[str] = frozenset()

    def publishes(self, type_name: str, replay: bool = False) -> bool:
        return type_name in (self.replay_publish if replay else self.publish)


def _list(path: Path, section: str, raw: dict, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = raw.get(key, [])
    if not isinstance(values, list) or any(v not in allowed for v in values):
        raise ValueError(f"{path} [{section}] {key} = {values!r}: expected a list of {list(allowed)}")
    return tuple(values)


def load_config(path: Path) -> TardisConfig:
    with path.open("rb") as f:
        raw = tomllib.load(f)
    first_day = raw.pop("first_day", None)
    if not isinstance(first_day, str):
        raise TypeError(f"{path}: first_day = \"YYYY-MM-DD\" is required")
    publish = _list(path, "top", {"publish": raw.pop("publish", list(DEFAULT_PUBLISH))}, "publish", PUBLISHABLE)
    replay_publish = _list(path, "top", {"replay_publish": raw.pop("replay_publish", [])}, "replay_publish",
                           PUBLISHABLE)
    unknown = set(raw) - set(EXCHANGES)
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {sorted(unknown)}; expected exchanges {sorted(EXCHANGES)}")
    universe = symbol_universe()
    exchanges = []
    for exchange, section in raw.items():
        market = market_of(exchange)
        extra = set(section) - {"symbols", "datasets", "channels"}
        if extra:
            raise ValueError(f"{path} [{exchange}]: unknown key(s) {sorted(extra)}")
        symbols = tuple(valid_symbol(s, f"{path} [{exchange}]") for s in section.get("symbols", []))
        missing = [s for s in symbols if s not in universe[market]]
        if missing:
            raise ValueError(f"{path} [{exchange}]: {missing} not in the Binance symbols file's [{market.value}] "
                             "section (their increments make the instrument)")
        allowed = DATASETS if market is not Market.SPOT else tuple(d for d in DATASETS if d not in DERIVATIVE_DATASETS)
        datasets = _list(path, exchange, section, "datasets", allowed)
        channels = _list(path, exchange, section, "channels",
                         CHANNELS if market is not Market.SPOT else tuple(c for c in CHANNELS if c != "markPrice"))
        exchanges.append(ExchangeConfig(exchange, symbols, datasets, channels))
    return TardisConfig(first_day, frozenset(publish), tuple(exchanges), frozenset(replay_publish))


def tardis_config() -> TardisConfig | None:
    """The configuration ``HEDGEGRID_TARDIS_FILE`` names, or None (no Tardis feeds) when it is unset."""
    path = os.environ.get(ENV)
    return load_config(Path(path)) if path else None
