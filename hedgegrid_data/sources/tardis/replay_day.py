"""The day steps of Tardis' replay feeds: the day's raw replay file (``<28-char receive time> <Binance frame>``
lines) parsed by the one Binance frame parser (``sources/binance_stream/frames.py``), filed by exchange time, then
the shared day steps and, for trades, mark prices and funding, the reconciliation with the Binance archive.

| channel | event | table | reconciliation (WARN) |
|---|---|---|---|
| ``trade`` | ``trade`` | trades + receive time | ``trades_match_archive`` |
| ``aggTrade`` | ``aggTrade`` | trades, id = aggregate id | — |
| ``bookTicker`` | ``bookTicker`` | quotes | — |
| ``markPrice`` | ``markPriceUpdate`` | mark prices; funding updates | ``mark_prices_match_archive``; ``funding_matches_archive`` |

A message belongs to the day of its exchange time: a replayed day includes the receive-time minute either side of
it (with an API key), and rows whose exchange time is the previous or next day's are left to that day (whose replay
includes them too); both are counted. An exchange time more than a minute
outside the day, an event the channel does not carry, or any frame the parser refuses fails the day naming the file
and line.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import day_bounds_ns, utc_text
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.feeds.feed import DaySteps
from hedgegrid_data.feeds.table_day import FUNDING_UPDATES, MARK_PRICES, QUOTES, CanonicalTableDay, TableFile
from hedgegrid_data.feeds.trades_day import CanonicalTradesDay, TradesFile
from hedgegrid_data.sources.binance_stream.frames import (
    AGG_TRADE,
    BOOK_TICKER,
    MARK_PRICE,
    TRADE,
    Frames,
    iso_prefix,
    parse_lines,
)
from hedgegrid_data.sources.tardis.datasets_day import (
    ReconciledDay,
    reconcile_funding,
    reconcile_marks,
    reconcile_trades,
)
from hedgegrid_data.sources.tardis.layout import REPLAY_SOURCE, ReplayFile, TardisExchange
from hedgegrid_data.store import DataStore

CHANNEL_EVENTS = {"trade": TRADE, "aggTrade": AGG_TRADE, "bookTicker": BOOK_TICKER, "markPrice": MARK_PRICE}
EDGE_NS = 120 * 10**9  # how far outside its day a replayed day's exchange times may lie (edge minute + skew)


def in_day(table: pa.Table, day: dt.date, file: str) -> tuple[pa.Table, dict[str, int]]:
    """The rows whose exchange time lies in ``day``; rows of the neighbouring days within ``EDGE_NS`` are left to
    them (counted); any further out fails naming the line."""
    start, end = day_bounds_ns(day)
    ts = table.column("ts_event").cast(pa.int64())
    far = pc.or_(pc.less(ts, start - EDGE_NS), pc.greater(ts, end + EDGE_NS))
    if pc.any(far).as_py():
        row = pc.index(far, True).as_py()
        raise ArchiveDataError(file, f"exchange time {utc_text(ts[row].as_py())} lies outside {day} by more than its "
                                     "edge minutes", line=table.column("line")[row].as_py())
    before, after = pc.less(ts, start), pc.greater(ts, end)
    kept = table.filter(pc.invert(pc.or_(before, after)))
    return kept, {"previous_day_rows_left": pc.sum(before).as_py() or 0,
                  "next_day_rows_left": pc.sum(after).as_py() or 0}


@dataclass(frozen=True)
class ReplayReaders(TardisExchange):
    """Reads the verified replay files of one Tardis exchange (a Binance market) from the raw store."""

    def frames(self, store: DataStore, channel: str, day: dt.date, symbol: str) -> tuple[str, Frames]:
        file = ReplayFile(self.exchange, channel, symbol, day)
        path = self.fetched(store, REPLAY_SOURCE, file.key)

        def lines() -> Iterator[bytes]:
            with gzip.open(path, "rb") as f:
                yield from f

        frames = parse_lines(lines(), file.file_name, receive_time=iso_prefix)
        unexpected = {e: n for e, n in frames.events.items() if e != CHANNEL_EVENTS[channel]}
        if unexpected:
            raise ArchiveDataError(file.file_name, f"events the {channel} channel does not carry: {unexpected}")
        others = frames.symbols(CHANNEL_EVENTS[channel]) - {symbol}
        if others:
            raise ArchiveDataError(file.file_name, f"frames of other symbols {sorted(others)} in {symbol}'s replay")
        return file.file_name, frames

    def _metadata(self, frames: Frames, dropped: dict[str, int]) -> dict[str, object]:
        return {"frames": frames.lines, **{f"events_{e}": n for e, n in frames.events.items()}, **dropped}

    def trades(self, channel: str):
        def read(store: DataStore, day: dt.date, symbol: str) -> TradesFile:
            instrument = self.instrument(symbol)
            name, frames = self.frames(store, channel, day, symbol)
            table, dropped = in_day(frames.trades(symbol, instrument.price_precision, instrument.size_precision,
                                                  CHANNEL_EVENTS[channel]), day, name)
            return TradesFile(name, lambda: iter(table.drop(["line"]).to_batches()), self._metadata(frames, dropped))
        return read

    def table(self, channel: str, which: str):
        def read(store: DataStore, day: dt.date, symbol: str) -> TableFile:
            instrument = self.instrument(symbol)
            name, frames = self.frames(store, channel, day, symbol)
            built = {"quotes": lambda: frames.quotes(symbol, instrument.price_precision, instrument.size_precision),
                     "mark_prices": lambda: frames.mark_prices(symbol),
                     "funding_updates": lambda: frames.funding_updates(symbol)}[which]()
            table, dropped = in_day(built, day, name)
            return TableFile(name, table, self._metadata(frames, dropped))
        return read


def replay_steps(readers: ReplayReaders, channel: str, table: str) -> DaySteps:
    """The day steps of the replay feed of ``channel`` building ``table``."""
    if table == "trades":
        steps = CanonicalTradesDay(readers.trades(channel), readers.instrument, receive_times=True)
        return ReconciledDay(steps, reconcile_trades(readers.market)) if channel == "trade" else steps
    canonical = {"quotes": QUOTES, "mark_prices": MARK_PRICES, "funding_updates": FUNDING_UPDATES}[table]
    steps = CanonicalTableDay(readers.table(channel, table), readers.instrument, canonical)
    if table == "mark_prices":
        return ReconciledDay(steps, reconcile_marks(readers.market))
    if table == "funding_updates":
        return ReconciledDay(steps, reconcile_funding(readers.market))
    return steps

