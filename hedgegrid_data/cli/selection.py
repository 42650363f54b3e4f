"""What a command line asks for, as feeds, symbols and days: pure, no Dagster.

``--source`` is a feed source's name (``feed.source.name``: ``binance``, ``bybit``, and whatever other sources
register in ``configured_feeds()``), ``--market`` one of that source's markets (needed when it has several),
``--data-types`` the catalog kinds a person thinks in, each mapped to the feeds' canonical tables:

| data type | feed tables |
|---|---|
| ``trades`` | ``trades``: the feed that publishes the market's ``TradeTick``s (Binance: trades or aggTrades, whichever ``HEDGEGRID_TRADE_SOURCE`` declares); the only one if none publishes |
| ``mark`` | ``mark_prices`` |
| ``funding`` | ``funding``, ``funding_updates`` |
| ``quotes`` | ``quotes`` |
| ``bars`` | ``bars`` |

Every mistake (an unknown source, market, data type or symbol, a day before a feed's first) is a
``SelectionError`` that lists what would have been valid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hedgegrid_data.feeds.feed import Feed

DATA_TYPES: dict[str, tuple[str, ...]] = {
    "trades": ("trades",),
    "mark": ("mark_prices",),
    "funding": ("funding", "funding_updates"),
    "quotes": ("quotes",),
    "bars": ("bars",),
}


class SelectionError(ValueError):
    """The command line names something the configured feeds do not have."""


@dataclass(frozen=True)
class Selection:
    """Feeds × symbols × days, in the order they are ingested: day by day, then feed, then symbol."""

    feeds: tuple[Feed, ...]
    symbols: tuple[str, ...]
    days: tuple[dt.date, ...]

    def units(self) -> list[tuple[dt.date, Feed, str]]:
        return [(day, feed, symbol) for day in self.days for feed in self.feeds for symbol in self.symbols]


def split_list(values: Iterable[str] | None) -> list[str]:
    """``["a,b", "c"]`` → ``["a", "b", "c"]`` (options that may repeat and take comma-separated lists)."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def parse_day(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SelectionError(f"{what}: {text!r} is not a day (YYYY-MM-DD)") from None


def days_between(start: dt.date, end: dt.date) -> tuple[dt.date, ...]:
    """The UTC days from ``start`` to ``end``, both included."""
    if end < start:
        raise SelectionError(f"--end {end} is before --start {start}")
    return tuple(start + dt.timedelta(days=i) for i in range((end - start).days + 1))


def _known(values: Iterable[str]) -> str:
    return ", ".join(sorted(set(values))) or "none"


def source_feeds(feeds: Iterable[Feed], source: str, market: str | None) -> list[Feed]:
    """The feeds of ``source`` (and ``market``); ``market`` may be left out when the source has one."""
    feeds = list(feeds)
    of_source = [f for f in feeds if f.source.name == source]
    if not of_source:
        raise SelectionError(f"unknown source {source!r}; configured sources: {_known(f.source.name for f in feeds)}")
    markets = sorted({f.market for f in of_source})
    if market is None:
        if len(markets) > 1:
            raise SelectionError(f"{source} has several markets: give --market ({', '.join(markets)})")
        return of_source
    if market not in markets:
        raise SelectionError(f"{source} has no market {market!r}; its markets: {', '.join(markets)}")
    return [f for f in of_source if f.market == market]


def feeds_for(feeds: Sequence[Feed], data_type: str) -> list[Feed]:
    """The feeds of one source and market that ingest ``data_type``."""
    if data_type not in DATA_TYPES:
        raise SelectionError(f"unknown data type {data_type!r}; data types: {', '.join(DATA_TYPES)}")
    matching = [f for f in feeds if f.table in DATA_TYPES[data_type]]
    if data_type == "trades" and len(matching) > 1:
        publishing = [f for f in matching if f.publishes is not None and f.publisher]
        if len(publishing) != 1:
            raise SelectionError(f"{len(publishing)} of the trades feeds {[f.name for f in matching]} publish "
                                 "TradeTicks: cannot tell which one --data-types trades means")
        matching = publishing
    if not matching:
        available = [t for t, tables in DATA_TYPES.items() if any(f.table in tables for f in feeds)]
        where = f"{feeds[0].source.name} {feeds[0].market}" if feeds else "the selection"
        raise SelectionError(f"{where} has no {data_type} feed; its data types: {_known(available)}")
    return matching


def select(feeds: Iterable[Feed], source: str, market: str | None, data_types: Sequence[str],
           symbols: Sequence[str], start: dt.date, end: dt.date) -> Selection:
    """The feeds, symbols and days of an ``ingest``; every symbol must be configured for every feed."""
    of_source = source_feeds(feeds, source, market)
    if not data_types:
        raise SelectionError(f"no data types given; data types: {', '.join(DATA_TYPES)}")
    chosen: list[Feed] = []
    for data_type in data_types:
        chosen += [f for f in feeds_for(of_source, data_type) if f not in chosen]
    if not symbols:
        raise SelectionError(f"no symbol given; configured: {_known(s for f in chosen for s in f.symbols)}")
    for feed in chosen:
        unknown = [s for s in symbols if s not in feed.symbols]
        if unknown:
            raise SelectionError(f"{feed.name} has no symbol {', '.join(unknown)}; configured symbols: "
                                 f"{_known(feed.symbols)}")
    days = days_between(start, end)
    for feed in chosen:
        if start < feed.start_date:
            raise SelectionError(f"{feed.name} starts on {feed.start_date}; --start {start} is before it")
    return Selection(tuple(chosen), tuple(dict.fromkeys(symbols)), days)
