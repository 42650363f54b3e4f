"""Tardis' feeds: per configured exchange (a Binance market) and dataset or replay channel, one ``Feed``, for the
configured symbols; instrument ids are Binance's (``BTCUSDT-PERP.BINANCE``), whichever source brings the data.

| group | from | table | catalog (only when ``publish`` lists the type) |
|---|---|---|---|
| ``tardis_<exchange>_trades`` | datasets ``trades`` | trades + receive time | ``TradeTick`` |
| ``tardis_<exchange>_quotes`` | datasets ``quotes`` | quotes | ``QuoteTick`` (published by default) |
| ``tardis_<exchange>_mark_prices`` | datasets ``derivative_ticker`` | mark prices | ``MarkPriceUpdate`` |
| ``tardis_<exchange>_funding_updates`` | datasets ``derivative_ticker`` | funding updates | ``FundingRateUpdate`` |
| ``tardis_<exchange>_book_snapshot_5``, ``_25`` | datasets ``book_snapshot_5``/``_25`` | book depth | ``OrderBookDepth10`` |

Replay (``channels``), source ``tardis_replay``: ``tardis_replay_<exchange>_trades`` (``trade``),
``_agg_trades`` (``aggTrade``), ``_quotes`` (``bookTicker``), ``_mark_prices`` and ``_funding_updates``
(``markPrice``); they publish only the types ``replay_publish`` lists (default none).

(``<exchange>``: ``binance``, ``binance_futures``, ``binance_delivery``.) The Binance archive already publishes
trades, mark prices and funding, so by default Tardis publishes only the datasets' quotes and keeps the rest as
tables, reconciled with the archive; the feed registry refuses a configuration where two feeds would publish one
series.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from nautilus_trader.model.data import FundingRateUpdate, MarkPriceUpdate, OrderBookDepth10, QuoteTick, TradeTick

from hedgegrid_data.epochs import day_end
from hedgegrid_data.feeds.feed import Automation, CatalogSeries, CheckSpec, DaySteps, Descriptions, Feed
from hedgegrid_data.feeds.table_day import FUNDING_UPDATES, MARK_PRICES, QUOTES
from hedgegrid_data.sources.binance_archive.feeds import TRADE_CHECKS as ARCHIVE_TRADE_CHECKS
from hedgegrid_data.sources.tardis.config import ExchangeConfig, TardisConfig, tardis_config
from hedgegrid_data.sources.tardis.datasets_day import (
    BOOK_DEPTH,
    FUNDING_RECONCILED,
    MARKS_RECONCILED,
    TRADES_RECONCILED,
    DatasetReaders,
    book_depth_steps,
    funding_steps,
    mark_price_steps,
    quotes_steps,
    trades_steps,
)
from hedgegrid_data.sources.tardis.layout import DatasetFile, ReplayFile, datasets_due
from hedgegrid_data.sources.tardis.replay_day import ReplayReaders, replay_steps
from hedgegrid_data.sources.tardis.source import TARDIS_DATASETS, TARDIS_REPLAY
from hedgegrid_data.venues.binance import instrument_id

VENUE = "binance"
TRADE_CHECKS = tuple(c for c in ARCHIVE_TRADE_CHECKS if c.name != "trade_id_gaps")  # the archive reconciles ids
DATASETS_AUTOMATION = Automation(schedule_at=dt.time(7, 0), due=datasets_due)
REPLAY_AUTOMATION = Automation(schedule_at=dt.time(1, 30), due=lambda day: day_end(day) + dt.timedelta(hours=1))
# channel → (table, Nautilus type, reconciliation check, what) of each replay feed
REPLAY_TABLES = {
    "trade": [("trades", TradeTick, (*TRADE_CHECKS, TRADES_RECONCILED), "trades (trade channel)")],
    "aggTrade": [("agg_trades", TradeTick, TRADE_CHECKS, "aggregate trades (aggTrade channel, id = aggregate id)")],
    "bookTicker": [("quotes", QuoteTick, QUOTES.checks, "best bid/ask quotes (bookTicker channel)")],
    "markPrice": [("mark_prices", MarkPriceUpdate, (*MARK_PRICES.checks, MARKS_RECONCILED),
                   "mark and index prices (markPrice channel)"),
                  ("funding_updates", FundingRateUpdate, (*FUNDING_UPDATES.checks, FUNDING_RECONCILED),
                   "funding-rate updates (markPrice channel)")],
}


def feed_prefix(exchange: str) -> str:
    return f"tardis_{exchange.replace('-', '_')}"


def _dataset_feed(config: TardisConfig, ex: ExchangeConfig, data_type: str, table: str, steps: DaySteps,
                  data_cls: type, checks: tuple[CheckSpec, ...], what: str) -> Feed:
    market = ex.market
    ids: Callable[[str], str] = lambda symbol: instrument_id(market, symbol).value
    publishes = data_cls if config.publishes(data_cls.__name__) else None
    return Feed(
        name=f"{feed_prefix(ex.exchange)}_{table}", source=TARDIS_DATASETS, venue=VENUE, market=ex.exchange,
        table="book_depth" if table.startswith("book_snapshot") else table, dataset=table, first_day=config.first_day, symbols=tuple(sorted(ex.symbols)),
        files=lambda day, symbol: [DatasetFile(ex.exchange, data_type, symbol, day)], steps=steps,
        instrument_ids=ids, publishes=publishes, normalized_checks=checks,
        report_series=lambda symbol: CatalogSeries(data_cls, ids(symbol)),
        descriptions=Descriptions(
            f"Tardis {ex.exchange} {data_type} CSV (.csv.gz) from datasets.tardis.dev, gzip-verified; sha256, size, "
            "ETag and Last-Modified kept as provenance.",
            f"Tardis {ex.exchange} {what} for one day: exact decimals from the text, exchange time as ts_event, "
            "Tardis' receive time as ts_init; pandera-validated.",
            f"Nautilus {data_cls.__name__} day file (and instrument) from Tardis {ex.exchange}."),
        automation=DATASETS_AUTOMATION)


def dataset_feeds(config: TardisConfig) -> list[Feed]:
    feeds = []
    for ex in config.exchanges:
        if not ex.symbols:
            continue
        readers = DatasetReaders(ex.exchange)
        if "trades" in ex.datasets:
            feeds.append(_dataset_feed(config, ex, "trades", "trades", trades_steps(readers), TradeTick,
                                       (*TRADE_CHECKS, TRADES_RECONCILED), "trades"))
        if "quotes" in ex.datasets:
            feeds.append(_dataset_feed(config, ex, "quotes", "quotes", quotes_steps(readers), QuoteTick,
                                       QUOTES.checks, "best bid/ask quotes"))
        if "derivative_ticker" in ex.datasets:
            feeds.append(_dataset_feed(config, ex, "derivative_ticker", "mark_prices", mark_price_steps(readers),
                                       MarkPriceUpdate, (*MARK_PRICES.checks, MARKS_RECONCILED),
                                       "mark and index prices (rows where they changed)"))
            feeds.append(_dataset_feed(config, ex, "derivative_ticker", "funding_updates", funding_steps(readers),
                                       FundingRateUpdate, (*FUNDING_UPDATES.checks, FUNDING_RECONCILED),
                                       "funding-rate updates (rows where the rate or funding time changed)"))
        for book in ("book_snapshot_5", "book_snapshot_25"):
            if book in ex.datasets:
                feeds.append(_dataset_feed(config, ex, book, book, book_depth_steps(readers, book), OrderBookDepth10,
                                           BOOK_DEPTH.checks, f"book snapshots ({book}: the top 10 levels)"))
    return feeds


def _replay_feed(config: TardisConfig, ex: ExchangeConfig, channel: str, table: str, data_cls: type,
                 checks: tuple[CheckSpec, ...], what: str) -> Feed:
    market = ex.market
    ids: Callable[[str], str] = lambda symbol: instrument_id(market, symbol).value
    return Feed(
        name=f"tardis_replay_{ex.exchange.replace('-', '_')}_{table}", source=TARDIS_REPLAY, venue=VENUE,
        market=ex.exchange, table=table if table != "agg_trades" else "trades", dataset=table,
        first_day=config.first_day, symbols=tuple(sorted(ex.symbols)),
        files=lambda day, symbol: [ReplayFile(ex.exchange, channel, symbol, day)],
        steps=replay_steps(ReplayReaders(ex.exchange), channel, "trades" if table == "agg_trades" else table),
        instrument_ids=ids, publishes=data_cls if config.publishes(data_cls.__name__, replay=True) else None,
        normalized_checks=checks, report_series=lambda symbol: CatalogSeries(data_cls, ids(symbol)),
        descriptions=Descriptions(
            f"Tardis {ex.exchange} {channel} messages of one day replayed through tardis-client (every minute "
            "verified), kept as one file with its sha256.",
            f"Tardis {ex.exchange} {what} for one day (by exchange time): exact decimals, exchange time as "
            "ts_event, Tardis' receive time as ts_init; pandera-validated.",
            f"Nautilus {data_cls.__name__} day file (and instrument) from Tardis' {ex.exchange} replay."),
        automation=REPLAY_AUTOMATION)


def replay_feeds(config: TardisConfig) -> list[Feed]:
    return [_replay_feed(config, ex, channel, *spec) for ex in config.exchanges if ex.symbols
            for channel in ex.channels for spec in REPLAY_TABLES[channel]]


def tardis_feeds(config: TardisConfig | None = None) -> list[Feed]:
    """Every Tardis feed of ``config`` (default: ``HEDGEGRID_TARDIS_FILE``'s; none when it is unset)."""
    config = config or tardis_config()
    if config is None:
        return []
    return [*dataset_feeds(config), *replay_feeds(config)]
