"""The capture feeds: one ``Feed`` per ``[[websocket]]`` import × table, source name ``websocket``.

| table | frames | catalog | checks (all WARN) |
|---|---|---|---|
| ``trades`` | ``trade`` | ``TradeTick`` (``ts_init`` = receive time) | id gaps, silences, coverage, spikes, disconnects |
| ``agg_trades`` | ``aggTrade`` | ``TradeTick`` (id = aggregate id) | the same |
| ``quotes`` | ``bookTicker`` | ``QuoteTick`` | quote silences, crossed quotes, disconnects |
| ``mark_prices`` (futures) | ``markPriceUpdate`` ``p``/``i`` | ``MarkPriceUpdate`` | silences, disconnects |
| ``funding_updates`` (futures) | ``markPriceUpdate`` ``r``/``T`` | ``FundingRateUpdate`` | silences, disconnects |

Bars (closed ``kline`` frames) are parsed by ``frames`` but get no feed yet: the archive's klines are the
published bars, and a capture's bars would need the klines path's multi-interval steps.

Feed ``binance_<market>_websocket_<import>_<table>``; store paths ``normalized/websocket/<market>/<import>_<table>/``;
instrument ids are the venue's (``BTCUSDT-PERP.BINANCE``). A feed publishes its type when the import says so
(``publish``), else when no other feed of the deployment publishes it for the instrument: captured quotes and
funding updates of spot do, captured trades do not (the archive publishes them; the registry refuses two).
Days are materialized by the ``<feed>_landing`` sensor, never on a schedule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from nautilus_trader.model.data import FundingRateUpdate, MarkPriceUpdate, QuoteTick, TradeTick

from hedgegrid_data.feeds.feed import Automation, CatalogSeries, CheckSpec, Descriptions, Feed
from hedgegrid_data.feeds.registry import published_series
from hedgegrid_data.feeds.table_day import FUNDING_UPDATES, MARK_PRICES, QUOTES
from hedgegrid_data.quality.trades import TradeCheckThresholds
from hedgegrid_data.sources.binance_stream.frames import AGG_TRADE, TRADE
from hedgegrid_data.sources.landing.index import LandingImport
from hedgegrid_data.sources.landing.source import LandingDay, LandingSource
from hedgegrid_data.sources.websocket.capture import CaptureReader
from hedgegrid_data.sources.websocket.days import DISCONNECTS, CaptureDay, CaptureTableDay, CaptureTradesDay
from hedgegrid_data.sources.websocket.imports import WebsocketImport, read_websocket_imports
from hedgegrid_data.venues.binance import instrument_id

SOURCE = "websocket"
VENUE = "binance"
TRADE_CHECKS = (
    CheckSpec("trade_id_gaps", False, "Missing ids between received trades (consecutive at Binance): a capture "
                                      "loses trades while disconnected; count and ranges, WARN."),
    CheckSpec("trade_silences", False, "Silences far longer than the day's own trade spacing."),
    CheckSpec("day_coverage", False, "First and last trades near the day's bounds (captures often cover less)."),
    CheckSpec("price_spikes", False, "Consecutive-trade jumps and robust outliers against the minute's median/MAD."),
    CheckSpec("volume_spikes", False, "Minutes whose volume dwarfs the preceding hour's mean."),
)
TABLES = {"trades": TradeTick, "agg_trades": TradeTick, "quotes": QuoteTick, "mark_prices": MarkPriceUpdate,
          "funding_updates": FundingRateUpdate}
WHAT = {"trades": "trade frames", "agg_trades": "aggTrade frames (trade id = aggregate id)",
        "quotes": "bookTicker frames (best bid and ask; spot frames carry no time: ts_event = receive time)",
        "mark_prices": "markPriceUpdate frames' mark and index prices",
        "funding_updates": "markPriceUpdate frames' funding rate and next funding time"}


def capture_feed(imp: WebsocketImport, source: LandingSource, table: str, publisher: bool) -> Feed:
    m = imp.market.value
    capture = CaptureDay(source, imp.market, table, int(imp.disconnect_seconds * 10**9))
    if table in ("trades", "agg_trades"):
        steps = CaptureTradesDay(capture, TRADE if table == "trades" else AGG_TRADE,
                                 TradeCheckThresholds.for_market(f"{SOURCE}_{m}"))
        checks = (*TRADE_CHECKS, DISCONNECTS)
    else:
        canonical = {"quotes": QUOTES, "mark_prices": MARK_PRICES, "funding_updates": FUNDING_UPDATES}[table]
        steps = CaptureTableDay(capture, canonical)
        checks = (*canonical.checks, DISCONNECTS)
    data_cls = TABLES[table]

    def files(day: dt.date, symbol: str) -> list[LandingDay]:
        return [LandingDay(capture.key(symbol), day)]

    return Feed(
        name=f"{VENUE}_{m}_{SOURCE}_{imp.name}_{table}", source=source, venue=VENUE, market=m, table=table,
        dataset=f"{imp.name}_{table}", first_day=imp.first_day, symbols=imp.symbols, files=files, steps=steps,
        instrument_ids=lambda symbol: instrument_id(imp.market, symbol).value, publishes=data_cls,
        publisher=publisher, consecutive_ids=table in ("trades", "agg_trades"), normalized_checks=checks,
        report_series=lambda symbol: CatalogSeries(data_cls, instrument_id(imp.market, symbol).value),
        descriptions=Descriptions(
            f"Binance {m} WebSocket captures of import {imp.name!r} covering the day ({imp.landing}/{imp.glob}), "
            "copied with their sha256.",
            f"Binance {m} {WHAT[table]} of the day from every capture covering it, exact, receive time as ts_init.",
            f"Nautilus {data_cls.__name__} day file (and instrument)"
            + ("" if publisher else "; not published: another feed is the declared publisher")),
        automation=Automation(nightly=False))  # the landing sensor requests the days files cover


def websocket_feeds(imports_file: Path | None, others: Iterable[Feed] = ()) -> list[Feed]:
    """The capture feeds of the imports file's ``[[websocket]]`` entries (none without a file); ``others``: the
    deployment's other feeds, whose published series the captures do not publish unless told to."""
    if imports_file is None:
        return []
    published = published_series(others)
    feeds = []
    for imp in read_websocket_imports(imports_file):
        source = LandingSource(SOURCE, LandingImport(imp.name, imp.landing, imp.glob, CaptureReader()),
                               kinds=frozenset({"binance", "websocket", "jsonl"}))
        for table in imp.tables:
            series = {(instrument_id(imp.market, s).value, TABLES[table]) for s in imp.symbols}
            publisher = imp.publishes(table)
            if publisher is None:
                publisher = not series & published
            if publisher:
                published |= series
            feeds.append(capture_feed(imp, source, table, publisher))
    return feeds
