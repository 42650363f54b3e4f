"""The ``[[websocket]]`` entries of the imports file (``HEDGEGRID_IMPORTS``): which capture folders to import.

```toml
[[websocket]]
name = "hft_um"                  # letters, digits and '_': feed names and store paths
landing = "/srv/captures/um"     # the landing folder (relative: to the imports file's folder)
glob = "*.gz"                    # its capture files (default "*"; hidden, .part and .tmp files never count)
venue = "binance"
market = "um"                    # spot, um, cm
symbols = ["BTCUSDT"]            # or symbol = "BTCUSDT"; each must be in the symbols file of its market
tables = ["trades", "quotes"]    # optional; default: every table of the market (see TABLES)
publish = ["quotes"]             # optional: true, false or tables; default: the tables no other feed publishes
first_day = "2024-01-01"         # optional: the first day of the partitions (default 2020-01-01)
disconnect_seconds = 10          # optional: a gap between received frames longer than this is a disconnect
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data.venues.binance import FUTURES_MARKETS, Market
from hedgegrid_data.venues.symbols import symbol_spec, valid_symbol

SPOT_TABLES = ("trades", "agg_trades", "quotes")
FUTURES_TABLES = (*SPOT_TABLES, "mark_prices", "funding_updates")
DEFAULT_FIRST_DAY = "2020-01-01"
KNOWN = {"name", "landing", "glob", "venue", "market", "symbol", "symbols", "tables", "publish", "first_day",
         "disconnect_seconds"}


def market_tables(market: Market) -> tuple[str, ...]:
    return FUTURES_TABLES if market in FUTURES_MARKETS else SPOT_TABLES


@dataclass(frozen=True)
class WebsocketImport:
    name: str
    landing: Path
    glob: str
    market: Market
    symbols: tuple[str, ...]
    tables: tuple[str, ...]
    publish: bool | tuple[str, ...] | None  # None: the tables no other feed publishes
    first_day: str
    disconnect_seconds: float

    def publishes(self, table: str) -> bool | None:
        """Whether the import's ``table`` feed is its instruments' publisher: configured, or None (decide by the
        other feeds)."""
        if self.publish is None:
            return None
        return self.publish if isinstance(self.publish, bool) else table in self.publish


def read_websocket_imports(path: Path) -> list[WebsocketImport]:
    """The ``[[websocket]]`` entries of ``path``; a wrong entry is an error naming it."""
    with path.open("rb") as f:
        entries = tomllib.load(f).get("websocket", [])
    imports = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path} [[websocket]] #{number} ({entry.get('name', '?')})"
        unknown = set(entry) - KNOWN
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        try:
            if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", entry["name"]):
                raise ValueError(f"name {entry['name']!r}: letters, digits and '_' only")
            if entry.get("venue", "binance") != "binance":
                raise ValueError(f"venue {entry['venue']!r}: only binance frames are parsed")
            market = Market(entry["market"])
            symbols = entry.get("symbols") or [entry["symbol"]]
            for symbol in symbols:
                symbol_spec(market, valid_symbol(symbol, where))
            tables = tuple(entry.get("tables", market_tables(market)))
            wrong = [t for t in tables if t not in market_tables(market)]
            if wrong:
                raise ValueError(f"tables {wrong} are not among {market_tables(market)}")
            publish = entry.get("publish")
            if isinstance(publish, list):
                publish = tuple(publish)
            landing = Path(entry["landing"])
            imports.append(WebsocketImport(
                name=entry["name"], landing=landing if landing.is_absolute() else path.parent / landing,
                glob=entry.get("glob", "*"), market=market, symbols=tuple(symbols), tables=tables, publish=publish,
                first_day=entry.get("first_day", DEFAULT_FIRST_DAY),
                disconnect_seconds=float(entry.get("disconnect_seconds", 10))))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    names = [i.name for i in imports]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: [[websocket]] names must be unique: {names}")
    return imports
