"""The ``[[csv]]`` entries of the imports file (TOML, or YAML with a ``csv:`` list): what each import's files hold
and how their columns map onto a canonical table.

An entry names the import (``name``: asset names ``csv_<name>_<table>``), its landing folder and file ``glob``, the
``table`` it fills (``trades``, ``bars``, ``mark_prices``, ``funding``), the identity (``venue``, ``market``,
``symbol`` or ``symbols`` with a ``symbol_column`` the rows are filtered on), the ``timestamp`` column and format,
and optional ``columns`` overrides and ``sides`` mapping. Columns are found automatically by their usual names
(``ROLES``); a role two headers could fill, or a required role no header fills, is an error: never a guess.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.tables.bars import INTERVAL_SECONDS
from hedgegrid_data.venues.symbols import valid_symbol

TABLES = ("trades", "bars", "mark_prices", "funding")
TIMESTAMP_FORMATS = ("auto", "iso8601", "epoch", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
IMPORT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
VENUE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
MARKET_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")

# role → (required, usual header names, compared by ``header_key``); the first role of a table lists its time.
ROLES: dict[str, dict[str, tuple[bool, tuple[str, ...]]]] = {
    "trades": {
        "timestamp": (True, ("timestamp", "time", "ts", "datetime", "date_time", "transact_time", "trade_time",
                             "ts_event", "exchange_timestamp", "created_at")),
        "trade_id": (False, ("id", "trade_id", "tid", "trdMatchID", "match_id", "agg_trade_id", "tradeid")),
        "price": (True, ("price", "px", "trade_price", "close")),
        "qty": (True, ("size", "qty", "quantity", "volume", "amount", "base_amount", "base_volume")),
        "side": (True, ("side", "aggressor", "aggressor_side", "taker_side", "is_buyer_maker", "buyer_maker")),
    },
    "bars": {
        "timestamp": (True, ("open_time", "timestamp", "time", "ts", "datetime", "date", "start", "start_time")),
        "open": (True, ("open", "o")),
        "high": (True, ("high", "h")),
        "low": (True, ("low", "l")),
        "close": (True, ("close", "c", "price")),
        "volume": (True, ("volume", "vol", "qty", "size", "amount", "base_volume", "v")),
    },
    "mark_prices": {
        "timestamp": (True, ("timestamp", "time", "ts", "datetime", "ts_event", "event_time")),
        "mark_price": (True, ("mark_price", "markprice", "mark", "price", "close")),
        "index_price": (False, ("index_price", "indexprice", "index")),
    },
    "funding": {
        "timestamp": (True, ("calc_time", "funding_time", "timestamp", "time", "ts", "datetime")),
        "rate": (True, ("rate", "funding_rate", "last_funding_rate", "fundingrate")),
        "funding_interval_hours": (False, ("funding_interval_hours", "interval_hours")),
    },
}


class MappingError(ValueError):
    """An imports file entry that cannot describe its files, naming the entry and the field."""


def header_key(name: str) -> str:
    """A header compared without case, spaces or punctuation: ``Trade ID`` and ``trade_id`` are the same."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class CsvImport:
    """One ``[[csv]]`` entry of the imports file."""

    name: str
    landing: Path
    table: str
    venue: str
    market: str
    symbols: tuple[str, ...]
    first_day: str
    glob: str = "*"
    symbol_column: str | None = None
    timestamp_column: str | None = None
    timestamp_format: str = "auto"
    columns: Mapping[str, str] = field(default_factory=dict)
    sides: Mapping[str, str] | None = None
    publisher: bool | None = None
    ids: str = "text"
    tick_size: str | None = None
    step_size: str | None = None
    base: str | None = None
    quote: str | None = None
    contract_size: str | None = None
    interval: str | None = None
    funding_interval_hours: int | None = None
    delimiter: str = ","

    @property
    def feed_name(self) -> str:
        return f"csv_{self.name}_{self.table}"

    def roles(self) -> dict[str, tuple[bool, tuple[str, ...]]]:
        return ROLES[self.table]

    def resolve_columns(self, header: Sequence[str], file: str) -> dict[str, str]:
        """Role → header name for this file: the ``columns`` overrides, then the usual names; a required role
        without a column, an override naming no column, or a role two columns could fill is an error."""
        by_key: dict[str, list[str]] = {}
        for name in header:
            by_key.setdefault(header_key(name), []).append(name)
        resolved: dict[str, str] = {}
        explicit = {**self.columns, **({"timestamp": self.timestamp_column} if self.timestamp_column else {})}
        if self.symbol_column:
            explicit["symbol"] = self.symbol_column
        for role, column in explicit.items():
            if column not in header:
                raise ArchiveDataError(file, f"column {column!r} (mapped to {role} by import {self.name!r}) is not "
                                             f"in the header {list(header)}", line=1)
            resolved[role] = column
        taken = set(resolved.values())
        for role, (required, names) in self.roles().items():
            if role in resolved:
                continue
            candidates = [c for n in names for c in by_key.get(header_key(n), []) if c not in taken]
            candidates = list(dict.fromkeys(candidates))
            if len(candidates) > 1:
                raise ArchiveDataError(file, f"columns {candidates} could each be the {role}: name one with "
                                             f"columns.{role} in import {self.name!r}", line=1)
            if candidates:
                resolved[role] = candidates[0]
                taken.add(candidates[0])
            elif required:
                raise ArchiveDataError(file, f"no {role} column: none of {list(names)} is in the header "
                                             f"{list(header)} (map one with columns.{role} in import "
                                             f"{self.name!r})", line=1)
        return resolved


def _text(entry: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str | None:
    value = entry.get(key, default)
    if value is not None and not isinstance(value, str):
        raise MappingError(f"{where}: {key} must be text, not {value!r}")
    return value


def _increment(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _text(entry, key, where)
    if value is not None and not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        raise MappingError(f"{where}: {key} = {value!r} is not a decimal increment (write it as text: \"0.01\")")
    return value


def parse_import(entry: Mapping[str, Any], where: str, base_dir: Path) -> CsvImport:
    """One entry → ``CsvImport``; anything unknown or malformed is a ``MappingError`` naming ``where``."""
    known = {f for f in CsvImport.__dataclass_fields__} | {"symbol", "timestamp"}
    unknown = sorted(set(entry) - known - {"timestamp_column", "timestamp_format"})
    if unknown:
        raise MappingError(f"{where}: unknown keys {unknown}")
    name = _text(entry, "name", where)
    if not name or not IMPORT_NAME.fullmatch(name):
        raise MappingError(f"{where}: name {name!r} must be lower-case letters, digits and '_' (at most 40)")
    where = f"{where} ({name})"
    table = _text(entry, "table", where)
    if table not in TABLES:
        raise MappingError(f"{where}: table {table!r} is not one of {list(TABLES)}")
    venue = _text(entry, "venue", where) or ""
    if not VENUE_NAME.fullmatch(venue):
        raise MappingError(f"{where}: venue {venue!r} must be upper-case letters, digits and '_' (VENDORX)")
    market = _text(entry, "market", where) or ""
    if not MARKET_NAME.fullmatch(market):
        raise MappingError(f"{where}: market {market!r} must be lower-case letters, digits and '_'")
    landing = _text(entry, "landing", where)
    if not landing:
        raise MappingError(f"{where}: landing (the folder its files arrive in) is required")
    if "symbol" in entry and "symbols" in entry:
        raise MappingError(f"{where}: give symbol or symbols, not both")
    symbols = entry.get("symbols", [entry["symbol"]] if "symbol" in entry else [])
    if not isinstance(symbols, list) or not symbols:
        raise MappingError(f"{where}: symbol (or symbols, a list) is required")
    symbols = tuple(valid_symbol(s, f"{where} symbols") for s in symbols)
    symbol_column = _text(entry, "symbol_column", where)
    if len(symbols) > 1 and symbol_column is None:
        raise MappingError(f"{where}: several symbols need a symbol_column to tell their rows apart")
    timestamp = entry.get("timestamp", {})
    if isinstance(timestamp, str):
        timestamp = {"column": timestamp}
    if not isinstance(timestamp, Mapping) or set(timestamp) - {"column", "format"}:
        raise MappingError(f"{where}: timestamp must be a column name or a table with column and format")
    timestamp_format = timestamp.get("format", "auto")
    if timestamp_format not in TIMESTAMP_FORMATS:
        raise MappingError(f"{where}: timestamp format {timestamp_format!r} is not one of {list(TIMESTAMP_FORMATS)}")
    columns = entry.get("columns", {})
    if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()):
        raise MappingError(f"{where}: columns must map roles to header names")
    unknown_roles = sorted(set(columns) - set(ROLES[table]))
    if unknown_roles:
        raise MappingError(f"{where}: columns {unknown_roles} are no roles of {table}: {list(ROLES[table])}")
    sides = entry.get("sides")
    if sides is not None and (not isinstance(sides, Mapping) or not sides
                              or not set(map(str, sides.values())) <= {"buy", "sell"}):
        raise MappingError(f"{where}: sides must map each side value of the files to \"buy\" or \"sell\"")
    ids = _text(entry, "ids", where, "text")
    if ids not in ("text", "integer"):
        raise MappingError(f"{where}: ids must be \"text\" or \"integer\"")
    interval = _text(entry, "interval", where)
    if table == "bars" and interval not in INTERVAL_SECONDS:
        raise MappingError(f"{where}: bars need an interval, one of {list(INTERVAL_SECONDS)}")
    first_day = _text(entry, "first_day", where)
    if not first_day or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", first_day):
        raise MappingError(f"{where}: first_day (YYYY-MM-DD, the first day of the partitions) is required")
    publisher = entry.get("publisher")
    if publisher is not None and not isinstance(publisher, bool):
        raise MappingError(f"{where}: publisher must be true or false")
    hours = entry.get("funding_interval_hours")
    if hours is not None and not isinstance(hours, int):
        raise MappingError(f"{where}: funding_interval_hours must be an integer")
    if venue != "BINANCE":
        for key in ("tick_size", "step_size", "base", "quote"):
            if entry.get(key) is None:
                raise MappingError(f"{where}: {key} is required for venue {venue} (Binance's come from its symbols "
                                   "file)")
    landing_path = Path(landing).expanduser()
    return CsvImport(
        name=name, landing=landing_path if landing_path.is_absolute() else base_dir / landing_path, table=table,
        venue=venue, market=market, symbols=symbols, first_day=first_day, glob=_text(entry, "glob", where, "*") or "*",
        symbol_column=symbol_column, timestamp_column=timestamp.get("column"), timestamp_format=timestamp_format,
        columns=dict(columns), sides={str(k): str(v) for k, v in sides.items()} if sides else None,
        publisher=publisher, ids=ids, tick_size=_increment(entry, "tick_size", where),
        step_size=_increment(entry, "step_size", where), base=_text(entry, "base", where),
        quote=_text(entry, "quote", where), contract_size=_increment(entry, "contract_size", where),
        interval=interval, funding_interval_hours=hours, delimiter=_text(entry, "delimiter", where, ",") or ",")


def load_imports(path: Path) -> list[CsvImport]:
    """The ``[[csv]]`` entries of an imports file (``.toml``; ``.yaml``/``.yml`` with a top-level ``csv:`` list).
    Relative landing folders are relative to the file. Two entries sharing a name are an error."""
    if path.suffix in (".yaml", ".yml"):
        import yaml

        raw = yaml.safe_load(path.read_text()) or {}
    else:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    entries = raw.get("csv", [])
    if not isinstance(entries, list):
        raise MappingError(f"{path}: csv must be a list of entries ([[csv]] in TOML)")
    imports = [parse_import(e, f"{path}: csv entry {i + 1}", path.parent) for i, e in enumerate(entries)]
    names = [i.name for i in imports]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MappingError(f"{path}: csv import names must be unique: {repeated}")
    return imports
