"""The archive's symbol universe: which symbols a market × data type has, and the first day of each.

The listing is the only complete symbol list (delisted and renamed symbols included): ``CommonPrefixes``
under ``data/<market>/<cadence>/<type>/`` are the symbols, and the first key in a symbol's folder names its
first file (keys sort by date). ``archive_universe`` does the listing; the unpartitioned asset
``<feed>_universe`` keeps the result under ``universe/`` and checks that every configured symbol of a feed is
in the archive. ``python -m hedgegrid_data.universe`` prints it.
"""


import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.secrets import redact_url
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile, folder_of
from hedgegrid_data.sources.binance_archive.listing import ArchiveListing
from hedgegrid_data.sources.binance_archive.resources import BinanceListingResource
from hedgegrid_data.venues.symbols import valid_symbol

_PERIOD = re.compile(r"-(\d{4}-\d{2}(?:-\d{2})?)\.zip$")
_SYMBOL_PLACEHOLDER = "HEDGEGRIDSYMBOL"  # survives archive_symbol (no "_")


def symbol_folders(archive_file: Callable[[dt.date, str], ArchiveFile],
                   day: dt.date) -> tuple[str, Callable[[str], str]]:
    """The listing prefix holding one folder per symbol, and the folder holding one symbol's files.

    ``data/futures/um/daily/trades/`` and ``data/futures/um/daily/trades/BTCUSDT/`` for trades;
    kline-like types add the interval folder (``.../klines/BTCUSDT/1m/``).
    """
    sample = archive_file(day, _SYMBOL_PLACEHOLDER).key
    root = sample[: sample.index(f"/{_SYMBOL_PLACEHOLDER}/") + 1]

    def folder(symbol: str) -> str:
        return folder_of(archive_file(day, symbol).key)

    return root, folder


def _first_file(feed: Feed) -> Callable[[dt.date, str], ArchiveFile]:
    return lambda day, symbol: feed.files(day, symbol)[0]  # type: ignore[return-value]


def archive_root(feed: Feed) -> str:
    """Listing prefix with one folder per symbol of the feed's (first) file series, e.g.
    ``data/futures/um/daily/trades/``."""
    return symbol_folders(_first_file(feed), feed.start_date)[0]


def symbol_folder(feed: Feed, symbol: str) -> str:
    """The folder of the symbol's (first) file series, e.g. ``data/futures/um/daily/trades/BTCUSDT/``."""
    return symbol_folders(_first_file(feed), feed.start_date)[1](symbol)


def archive_symbols(feed: Feed) -> list[str]:
    """The archive's folder names for the configured symbols (COIN-M index klines: the pair, ``BTCUSD``)."""
    return sorted({_first_file(feed)(feed.start_date, s).symbol for s in feed.symbols})


@dataclass(frozen=True)
class ListedSymbol:
    symbol: str
    first_date: dt.date | None
    first_key: str | None

    def to_json(self) -> dict[str, str | None]:
        return {"symbol": self.symbol, "first_date": self.first_date.isoformat() if self.first_date else None,
                "first_key": self.first_key}


def symbol_of_prefix(prefix: str, root: str) -> str:
    """``data/spot/daily/trades/BTCUSDT/`` under ``data/spot/daily/trades/`` → ``BTCUSDT``."""
    if not prefix.startswith(root):
        raise ValueError(f"{prefix!r} is not under {root!r}")
    return prefix[len(root):].strip("/")


def period_start_of_key(key: str) -> dt.date | None:
    """The first day of the period a file covers: ``...-2019-09-08.zip`` → 2019-09-08, ``...-2019-09.zip`` → 09-01."""
    match = _PERIOD.search(key)
    if match is None:
        return None
    text = match.group(1)
    return dt.date.fromisoformat(text if len(text) == 10 else f"{text}-01")


def archive_universe(listing: ArchiveListing, root: str, folder_for: Callable[[str], str], *,
                     first_dates: bool = True, symbols: Sequence[str] | None = None,
                     workers: int = 8) -> list[ListedSymbol]:
    """Symbols under ``root`` (optionally only ``symbols``), each with its first file when ``first_dates``."""
    listed = sorted(valid_symbol(symbol_of_prefix(p, root), f"listing of {root}") for p in listing.prefixes(root))
    if symbols is not None:
        wanted = set(symbols)
        listed = [s for s in listed if s in wanted]
    if not first_dates:
        return [ListedSymbol(s, None, None) for s in listed]

    def first(symbol: str) -> ListedSymbol:
        obj = listing.first_object(folder_for(symbol))
        return ListedSymbol(symbol, period_start_of_key(obj.key) if obj else None, obj.key if obj else None)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(first, listed))


def universe_markdown(rows: Sequence[ListedSymbol], limit: int = 50) -> str:
    lines = ["| symbol | first date |", "|---|---|"]
    lines += [f"| {r.symbol} | {r.first_date or ''} |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"| … {len(rows) - limit} more | |")
    return "\n".join(lines)


def universe_path(data_root: Path, feed: Feed) -> Path:
    return data_root / "universe" / feed.source.name / feed.market / f"{feed.name}.json"


def build_universe_asset(feed: Feed, group_name: str = "binance_archive_universe") -> AssetsDefinition:
    """Unpartitioned ``<feed>_universe``: the archive's symbols and first dates for the feed's files."""
    name = f"{feed.name}_universe"
    root = archive_root(feed)
    check_name = "configured_symbols_listed"

    @asset(
        name=name,
        group_name=group_name,
        pool="binance_http",
        kinds={"binance", "json"},
        description=(f"Symbols (and each one's first day) the archive lists under {root}; "
                     "checks that every configured symbol is among them."),
        check_specs=[AssetCheckSpec(check_name, asset=name, blocking=False,
                                    description="Every configured symbol has a folder in the archive.")],
    )
    def universe(context: AssetExecutionContext, binance_listing: BinanceListingResource,
                 data_store: DataStoreResource) -> MaterializeResult:
        with binance_listing.open() as listing:
            rows = archive_universe(listing, root, lambda symbol: symbol_folder(feed, symbol))
        out = universe_path(data_store.store.root, feed)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, json.dumps([r.to_json() for r in rows], indent=1).encode())
        listed = {r.symbol for r in rows}
        configured = archive_symbols(feed)
        missing = sorted(set(configured) - listed)
        context.log.info(f"{len(rows)} symbol(s) under {root}; configured but absent: {missing}")
        return MaterializeResult(
            metadata={
                "symbols": len(rows),
                "listing_url": redact_url(binance_listing.listing_url),
                "prefix": root,
                "earliest_first_date": min((str(r.first_date) for r in rows if r.first_date), default=""),
                "not_configured": len(listed - set(configured)),
                "preview": MetadataValue.md(universe_markdown(rows)),
                "path": MetadataValue.path(str(out)),
            },
            check_results=[AssetCheckResult(
                check_name=check_name, passed=not missing, severity=AssetCheckSeverity.WARN,
                description=f"configured symbols absent from the archive: {', '.join(missing)}" if missing else None,
                metadata={"configured": len(configured), "missing": ", ".join(missing)},
            )],
        )

    return universe
