"""CSV imports as feeds: one ``Feed`` per ``[[csv]]`` entry of the imports file, on the landing-folder source.

| table | day steps | catalog |
|---|---|---|
| ``trades`` | ``CanonicalTradesDay`` (text ids, or integer with ``ids = "integer"``) | ``TradeTick`` |
| ``bars`` | ``CsvBarsDay`` (the import's ``interval``) | ``Bar`` ``<instrument>-<interval>-LAST-EXTERNAL`` |
| ``mark_prices`` | ``CanonicalTableDay(MARK_PRICES)`` | ``MarkPriceUpdate`` |
| ``funding`` | ``CanonicalTableDay(SETTLED_FUNDING)`` (settled events) | ``FundingRateUpdate`` |

Identity: the group is ``csv_<import>_<table>``; store paths are ``<layer>/csv/<market>/<import>_<table>/…`` and
the raw copies ``raw/csv/<import>/``. The instrument is the venue's (``instruments.py``). ``publisher`` defaults to
true unless another feed already publishes the type for the instrument (Binance's archive; the registry refuses
two publishers).
No nightly schedule: the ``<feed>_landing`` sensor materializes the days new or changed files cover.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from nautilus_trader.model.data import Bar, FundingRateUpdate, MarkPriceUpdate, TradeTick
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data import settings
from hedgegrid_data.catalog.bars import bar_type
from hedgegrid_data.feeds.feed import Automation, CatalogSeries, CheckSpec, DaySteps, Descriptions, Feed
from hedgegrid_data.feeds.registry import published_series
from hedgegrid_data.feeds.table_day import MARK_PRICES, CanonicalTableDay
from hedgegrid_data.feeds.trades_day import CanonicalTradesDay
from hedgegrid_data.quality.trades import TradeCheckThresholds
from hedgegrid_data.sources.csv.bars_day import BAR_CHECKS, CsvBarsDay
from hedgegrid_data.sources.csv.days import CsvContent, CsvDays
from hedgegrid_data.sources.csv.funding import SETTLED_FUNDING
from hedgegrid_data.sources.csv.instruments import import_instrument
from hedgegrid_data.sources.csv.mapping import CsvImport, load_imports
from hedgegrid_data.sources.landing.index import LandingImport
from hedgegrid_data.sources.landing.source import LandingDay, LandingSource
from hedgegrid_data.tables.trades import INTEGER_IDS, TEXT_IDS

SOURCE = "csv"
TRADE_CHECKS = (
    CheckSpec("trade_silences", False, "Silences far longer than the day's own trade spacing."),
    CheckSpec("day_coverage", False, "First and last trades near the day's bounds."),
    CheckSpec("price_spikes", False, "Consecutive-trade jumps and robust outliers against the minute's median/MAD."),
    CheckSpec("volume_spikes", False, "Minutes whose volume dwarfs the preceding hour's mean."),
)
PUBLISHES = {"trades": TradeTick, "bars": Bar, "mark_prices": MarkPriceUpdate, "funding": FundingRateUpdate}


def csv_feed(imp: CsvImport, publisher: bool = True) -> Feed:
    """The feed of one import; ``publisher``: whether it is its instruments' declared publisher."""
    source = LandingSource(SOURCE, LandingImport(imp.name, imp.landing, imp.glob, CsvContent(imp)),
                           kinds=frozenset({"csv", "landing"}))

    @cache
    def instrument(symbol: str) -> Instrument:
        return import_instrument(imp, symbol)

    days = CsvDays(imp, source.raw_root, instrument)
    steps: DaySteps
    if imp.table == "trades":
        steps = CanonicalTradesDay(days.trades, instrument, TradeCheckThresholds(),
                                   ids=INTEGER_IDS if imp.ids == "integer" else TEXT_IDS)
        checks = TRADE_CHECKS
    elif imp.table == "bars":
        assert imp.interval is not None
        steps = CsvBarsDay(days.table, instrument, imp.interval)
        checks = BAR_CHECKS
    else:
        table = MARK_PRICES if imp.table == "mark_prices" else SETTLED_FUNDING
        steps = CanonicalTableDay(days.table, instrument, table)
        checks = table.checks
    data_cls = PUBLISHES[imp.table]

    def series(symbol: str) -> CatalogSeries:
        if imp.table == "bars":
            assert imp.interval is not None
            return CatalogSeries(Bar, str(bar_type(instrument(symbol).id, imp.interval)))
        return CatalogSeries(data_cls, instrument(symbol).id.value)

    where = f"{imp.landing}/{imp.glob}"
    return Feed(
        name=imp.feed_name, source=source, venue=imp.venue.lower(), market=imp.market, table=imp.table,
        dataset=f"{imp.name}_{imp.table}", first_day=imp.first_day, symbols=imp.symbols,
        files=lambda day, symbol: [LandingDay(symbol, day)], steps=steps,
        instrument_ids=lambda symbol: instrument(symbol).id.value, publishes=data_cls, publisher=publisher,
        consecutive_ids=False, normalized_checks=checks, report_series=series,
        descriptions=Descriptions(
            f"CSV files of import {imp.name!r} ({where}) covering the day, copied into raw/{SOURCE}/{imp.name}/ "
            "with their sha256.",
            f"{imp.venue} {imp.market} {imp.table.replace('_', ' ')} of the day from the CSV import {imp.name!r}: "
            "exact decimals, ns times; pandera-validated.",
            f"Nautilus {data_cls.__name__} day file (and instrument)"
            + ("." if publisher else "; not published: another feed is the declared publisher.")),
        automation=Automation(nightly=False))


def csv_feeds(imports_file: Path | None = None, others: Iterable[Feed] = ()) -> list[Feed]:
    """The feeds of every ``[[csv]]`` entry of the imports file (``HEDGEGRID_IMPORTS``); none without one.

    An import's ``publisher`` defaults to true unless one of ``others`` (the deployment's other feeds, or an
    earlier import) already publishes the same type for one of its instruments: Binance instruments keep
    their tables while the archive publishes them."""
    path = imports_file or settings.imports_file()
    if path is None:
        return []
    published = published_series(others)
    feeds = []
    for imp in load_imports(path):
        feed = csv_feed(imp)
        series = {(feed.instrument_ids(s), feed.publishes) for s in feed.symbols}
        publisher = imp.publisher if imp.publisher is not None else not series & published
        if publisher:
            published |= series
        feeds.append(feed if publisher else csv_feed(imp, publisher=False))
    return feeds
