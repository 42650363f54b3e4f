"""The day steps of Tardis' dataset feeds: each reader turns the day's verified CSV into the canonical table, the
shared day steps (``CanonicalTradesDay`` with receive times, ``CanonicalTableDay``) do the rest, and the day is
reconciled with the Binance archive's normalized tables of the same instrument and day when they exist
(``quality/cross_source.py``; not applicable otherwise).

| dataset | table | reconciliation (WARN) |
|---|---|---|
| trades | trades (+ ``ts_init``, Tardis' receive time) | ``trades_match_archive``: id by id against ``normalized/binance/<m>/trades`` |
| quotes | quotes | — (the archive has none) |
| derivative_ticker | mark prices | ``mark_prices_match_archive``: against the archive's 1m mark-price klines |
| derivative_ticker | funding updates | ``funding_matches_archive``: settled rates against the archive's funding file |
| book_snapshot_5, book_snapshot_25 | book depth (top 10 levels) → ``OrderBookDepth10`` | — |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
from nautilus_trader.model.data import OrderBookDepth10
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.catalog.order_book_depths import order_book_depth_tuple, write_order_book_depth_day
from hedgegrid_data.feeds.feed import CatalogSeries, CheckSpec, DaySteps, Feed, PublicationPlan, StagedDay
from hedgegrid_data.feeds.table_day import (
    FUNDING_UPDATES,
    MARK_PRICES,
    QUOTES,
    SECOND_NS,
    CanonicalTable,
    CanonicalTableDay,
    TableFile,
)
from hedgegrid_data.feeds.trades_day import CanonicalTradesDay, TradesFile
from hedgegrid_data.quality.cross_source import funding_matches, mark_prices_match, not_applicable, trades_match
from hedgegrid_data.quality.findings import Verdict
from hedgegrid_data.quality.trades import TradeCheckThresholds
from hedgegrid_data.sources.binance_archive.klines_day import kline_archive_file, normalized_kline_path
from hedgegrid_data.sources.binance_archive.layout import SOURCE as ARCHIVE
from hedgegrid_data.sources.tardis.datasets_csv import (
    book_snapshot_table,
    derivative_ticker_tables,
    quotes_table,
    trade_batches,
)
from hedgegrid_data.sources.tardis.layout import SOURCE, DatasetFile, TardisExchange
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.book_depth import BOOK_DEPTH_COLUMNS, DEPTH, SIDES, book_depth_rules, book_depth_schema
from hedgegrid_data.tables.funding import RATE_SCALE
from hedgegrid_data.tables.mark_prices import MARK_PRICE_SCALE
from hedgegrid_data.venues.binance import Market

TRADES_RECONCILED = CheckSpec("trades_match_archive", False, "Trades id by id against the Binance archive's day "
                                                             "(missing, extra, differing), when it is normalized.")
MARKS_RECONCILED = CheckSpec("mark_prices_match_archive", False, "Mark prices within the archive's 1m mark-price "
                                                                 "klines; minute closes compared.")
FUNDING_RECONCILED = CheckSpec("funding_matches_archive", False, "The rate in force before each funding boundary "
                                                                 "against the archive's settled rate.")



def _published_depth(row: dict, instrument: Instrument, day_table: object) -> tuple:
    """A normalized depth row as ``order_book_depth_tuple`` reads its object back (a missing level: 0, 0)."""
    def text(value: object, precision: int) -> str:
        return f"{value if value is not None else 0:.{precision}f}"

    p, s = instrument.price_precision, instrument.size_precision
    return (*(text(row[f"{side}_{what}_{i}"], p if what == "price" else s)
              for side in SIDES for i in range(DEPTH) for what in ("price", "size")), row["ts_event"], row["ts_init"])


BOOK_DEPTH = CanonicalTable(
    "book_depth", OrderBookDepth10, BOOK_DEPTH_COLUMNS,
    schema=lambda i: book_depth_schema(i.price_precision, i.size_precision),
    rules=lambda i: book_depth_rules(i.price_precision, i.size_precision), write=write_order_book_depth_day,
    published=_published_depth, as_tuple=order_book_depth_tuple, silence_ns=60 * SECOND_NS)


@dataclass(frozen=True)
class DatasetReaders(TardisExchange):
    """Reads the verified dataset files of one Tardis exchange (a Binance market) from the raw store."""

    def file(self, store: DataStore, data_type: str, day: dt.date, symbol: str) -> tuple[DatasetFile, Path]:
        file = DatasetFile(self.exchange, data_type, symbol, day)
        return file, self.fetched(store, SOURCE, file.key)

    def trades(self, store: DataStore, day: dt.date, symbol: str) -> TradesFile:
        file, path = self.file(store, "trades", day, symbol)
        instrument = self.instrument(symbol)
        return TradesFile(file.file_name, lambda: trade_batches(
            path, file.file_name, day, self.exchange, symbol, instrument.price_precision, instrument.size_precision))

    def quotes(self, store: DataStore, day: dt.date, symbol: str) -> TableFile:
        file, path = self.file(store, "quotes", day, symbol)
        instrument = self.instrument(symbol)
        return TableFile(file.file_name, quotes_table(path, file.file_name, day, self.exchange, symbol,
                                                      instrument.price_precision, instrument.size_precision))

    def _ticker(self, store: DataStore, day: dt.date, symbol: str, which: int) -> TableFile:
        file, path = self.file(store, "derivative_ticker", day, symbol)
        tables = derivative_ticker_tables(path, file.file_name, day, self.exchange, symbol, MARK_PRICE_SCALE,
                                          RATE_SCALE)
        return TableFile(file.file_name, tables[which], {"derivative_ticker_rows_kept": tables[which].num_rows})

    def book_depth(self, data_type: str) -> Callable[[DataStore, dt.date, str], TableFile]:
        def read(store: DataStore, day: dt.date, symbol: str) -> TableFile:
            file, path = self.file(store, data_type, day, symbol)
            instrument = self.instrument(symbol)
            return TableFile(file.file_name, book_snapshot_table(
                path, file.file_name, day, self.exchange, symbol, data_type, instrument.price_precision,
                instrument.size_precision))
        return read

    def mark_prices(self, store: DataStore, day: dt.date, symbol: str) -> TableFile:
        return self._ticker(store, day, symbol, 0)

    def funding_updates(self, store: DataStore, day: dt.date, symbol: str) -> TableFile:
        return self._ticker(store, day, symbol, 1)


Reconcile = Callable[[Feed, DataStore, dt.date, str], Verdict]


@dataclass(frozen=True)
class ReconciledDay:
    """The shared day ``steps`` with one cross-source verdict added to each staged day."""

    steps: DaySteps
    reconcile: Reconcile

    def series(self, symbol: str) -> list[CatalogSeries]:
        return self.steps.series(symbol)

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return self.steps.normalized_files(feed, store, day, symbol)

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        staged = self.steps.stage(feed, store, day, symbol)
        return replace(staged, verdicts=[*staged.verdicts, self.reconcile(feed, store, day, symbol)])

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        return self.steps.plan(feed, store, day, symbol)


def reconcile_trades(market: Market) -> Reconcile:
    """Trades id by id against the archive's normalized trades of the day (any Tardis trades feed of ``market``)."""
    def reconcile(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> Verdict:
        archive = store.normalized_file(ARCHIVE, market.value, "trades", symbol, day)
        if not archive.exists():
            return not_applicable(TRADES_RECONCILED.name, f"the Binance archive's trades of {day} are not normalized")
        return trades_match(pl.read_parquet(feed.normalized_file(store, day, symbol)), pl.read_parquet(archive),
                            TRADES_RECONCILED.name)
    return reconcile


def reconcile_marks(market: Market) -> Reconcile:
    def reconcile(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> Verdict:
        klines = normalized_kline_path(store, kline_archive_file(market, "markPriceKlines", symbol, day, "1m"))
        if not klines.exists():
            return not_applicable(MARKS_RECONCILED.name,
                                  f"the Binance archive's 1m mark-price klines of {day} are not normalized")
        return mark_prices_match(pl.read_parquet(feed.normalized_file(store, day, symbol)), pl.read_parquet(klines),
                                 MARKS_RECONCILED.name)
    return reconcile


def reconcile_funding(market: Market) -> Reconcile:
    def reconcile(feed: Feed, store: DataStore, day: dt.date, symbol: str) -> Verdict:
        archive = store.normalized_file(ARCHIVE, market.value, "fundingRate", symbol, day)
        if not archive.exists():
            return not_applicable(FUNDING_RECONCILED.name,
                                  f"the Binance archive's funding events of {day} are not normalized")
        # a boundary at 00:00 is announced by the previous day's updates
        days = [feed.normalized_file(store, d, symbol) for d in (day - dt.timedelta(days=1), day)]
        updates = pl.concat([pl.read_parquet(p) for p in days if p.exists()])
        return funding_matches(updates, pl.read_parquet(archive), FUNDING_RECONCILED.name)
    return reconcile


def trades_steps(readers: DatasetReaders, thresholds: TradeCheckThresholds | None = None) -> DaySteps:
    return ReconciledDay(CanonicalTradesDay(readers.trades, readers.instrument, thresholds or TradeCheckThresholds(),
                                            receive_times=True),
                         reconcile_trades(readers.market))


def quotes_steps(readers: DatasetReaders) -> DaySteps:
    return CanonicalTableDay(readers.quotes, readers.instrument, QUOTES)


def book_depth_steps(readers: DatasetReaders, data_type: str) -> DaySteps:
    return CanonicalTableDay(readers.book_depth(data_type), readers.instrument, BOOK_DEPTH)


def mark_price_steps(readers: DatasetReaders) -> DaySteps:
    return ReconciledDay(CanonicalTableDay(readers.mark_prices, readers.instrument, MARK_PRICES),
                         reconcile_marks(readers.market))


def funding_steps(readers: DatasetReaders) -> DaySteps:
    return ReconciledDay(CanonicalTableDay(readers.funding_updates, readers.instrument, FUNDING_UPDATES),
                         reconcile_funding(readers.market))
