"""The day steps of Bybit's trades feeds: the shared canonical trades steps over the dialect reader, with text
trade ids (a day is ordered by time, then by line: in whole-second files the line order is the trade order), and
publication adding the cross-venue check against the same instrument on Binance when its day is in the catalog."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.parquet as pq
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.catalog.trade_ticks import trade_tick_prices
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.feed import CatalogSeries, Feed, PublicationPlan, StagedDay
from hedgegrid_data.feeds.trades_day import CanonicalTradesDay, TradesFile
from hedgegrid_data.quality.cross_venue import CrossVenueThresholds, cross_venue_prices, not_applicable
from hedgegrid_data.quality.findings import Verdict
from hedgegrid_data.quality.trades import TradeCheckThresholds
from hedgegrid_data.sources.bybit_archive.dialects import DayReader
from hedgegrid_data.sources.bybit_archive.layout import SOURCE, BybitFile
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.trades import TEXT_IDS
from hedgegrid_data.venues.bybit import BybitMarket, BybitSymbolSpec, build_instrument


@dataclass(frozen=True)
class BybitTradesDay:
    """``DaySteps`` of the trades feed of one Bybit market, for the configured ``specs`` (symbol → spec).

    Thresholds default to the quality file's ``[bybit_<market>.trades]`` and ``[bybit_<market>.cross_venue]``,
    read when a day is judged.
    """

    market: BybitMarket
    specs: Mapping[str, BybitSymbolSpec]
    thresholds: TradeCheckThresholds | None = None
    cross_venue: CrossVenueThresholds | None = None

    @property
    def quality_section(self) -> str:
        return f"{SOURCE}_{self.market.value}"

    def spec(self, symbol: str) -> BybitSymbolSpec:
        try:
            return self.specs[symbol]
        except KeyError:
            raise HedgegridDataError(f"{symbol} is not a configured Bybit {self.market.value} symbol") from None

    def instrument(self, symbol: str) -> Instrument:
        return build_instrument(self.spec(symbol))

    def read(self, store: DataStore, day: dt.date, symbol: str) -> TradesFile:
        file = BybitFile(self.market, symbol, day)
        path = store.raw / SOURCE / file.key
        if not path.is_file():
            raise HedgegridDataError(f"{path}: not fetched; materialize the raw asset first")
        reader = DayReader(path, file, self.spec(symbol))
        return TradesFile(file.file_name, reader.batches, reader.metadata)

    @property
    def canonical(self) -> CanonicalTradesDay:
        thresholds = self.thresholds or TradeCheckThresholds.for_market(self.quality_section)
        return CanonicalTradesDay(self.read, self.instrument, thresholds, ids=TEXT_IDS)

    def series(self, symbol: str) -> list[CatalogSeries]:
        return self.canonical.series(symbol)

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return self.canonical.normalized_files(feed, store, day, symbol)

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        return self.canonical.stage(feed, store, day, symbol)

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        plan = self.canonical.plan(feed, store, day, symbol)
        verdict = self.compare_venues(feed, store, day, symbol)
        return replace(plan, extra_checks={**plan.extra_checks,
                                           verdict.check: (verdict.passed, {"summary": verdict.summary,
                                                                            **verdict.metadata})})

    def compare_venues(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> Verdict:
        """The day's minute prices against the Binance counterpart's day in the catalog, when it is there."""
        spec = self.spec(symbol)
        counterpart = spec.binance_counterpart
        if counterpart is None:
            return not_applicable("no Binance counterpart configured", None)
        theirs = day_file_path(store.catalog, TradeTick, counterpart, day)
        if not theirs.is_file():
            return not_applicable(f"{counterpart} has no {day} in the catalog to compare with", counterpart)
        ours = pq.read_table(feed.normalized_file(store, day, symbol), columns=["ts_event", "price"])
        return cross_venue_prices(ours, trade_tick_prices(theirs), spec.instrument_id.value, counterpart,
                                  self.cross_venue or CrossVenueThresholds.for_section(self.quality_section))
