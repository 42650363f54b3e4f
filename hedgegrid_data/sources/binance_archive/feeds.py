"""The Binance archive's feeds: every dataset of spot, USD-M and COIN-M the platform builds, one ``Feed`` each.

Groups (and the prefix of every asset key, job and sensor) are ``binance_<market>_<dataset>``:

| dataset | markets | catalog |
|---|---|---|
| ``trades`` | spot, um, cm | ``TradeTick`` (when trades are the declared trade source) |
| ``agg_trades`` | spot, um, cm | ``TradeTick``, trade id = aggregate id (when aggTrades are) |
| ``klines`` | spot, um, cm | ``Bar`` per archive interval and per higher timeframe built from the finest (1m) |
| ``mark_price_klines`` | um, cm | ``MarkPriceUpdate`` |
| ``index_price_klines``, ``premium_index_klines`` | um, cm | — (tables only) |
| ``funding_rate`` | um, cm | ``FundingRateUpdate`` (month files; days due at the month's end) |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nautilus_trader.model.data import Bar, FundingRateUpdate, MarkPriceUpdate, TradeTick

from hedgegrid_data.catalog.bars import bar_type
from hedgegrid_data.epochs import month_end
from hedgegrid_data.feeds.feed import Automation, CatalogSeries, CheckSpec, DaySteps, Descriptions, Feed
from hedgegrid_data.settings import TradeSource
from hedgegrid_data.sources.binance_archive.funding_day import ArchiveFundingDay, funding_archive_file
from hedgegrid_data.sources.binance_archive.klines import BASE_INTERVAL
from hedgegrid_data.sources.binance_archive.klines_day import (
    DEFAULT_KLINE_INTERVALS,
    ArchiveKlinesDay,
    ArchivePriceIndexDay,
    BarPlan,
    kline_archive_file,
)
from hedgegrid_data.sources.binance_archive.layout import ARCHIVE_START, ArchiveFile
from hedgegrid_data.sources.binance_archive.source import BINANCE_ARCHIVE
from hedgegrid_data.sources.binance_archive.trades_day import ArchiveTradesDay
from hedgegrid_data.venues.binance import FUTURES_MARKETS, Market, instrument_id
from hedgegrid_data.venues.symbols import symbol_universe

if TYPE_CHECKING:
    from dagster import MultiPartitionsDefinition

VENUE = "binance"
FileLister = Callable[[dt.date, str], list[ArchiveFile]]

TRADE_CHECKS = (
    CheckSpec("trade_id_gaps", True, "Missing trade ids (Binance ids are consecutive): exact count and ranges."),
    CheckSpec("trade_silences", False, "Silences far longer than the day's own trade spacing."),
    CheckSpec("day_coverage", False, "First and last trades near the day's bounds."),
    CheckSpec("price_spikes", False, "Consecutive-trade jumps and robust outliers against the minute's median/MAD."),
    CheckSpec("volume_spikes", False, "Minutes whose volume dwarfs the preceding hour's mean."),
)
AGG_TRADE_CHECKS = (
    CheckSpec("agg_trade_id_gaps", True, "Missing aggregate ids beyond the excluded placeholder and zero-quantity "
                                         "rows."),
    CheckSpec("trade_silences", False, "Silences far longer than the day's own aggregate spacing."),
    CheckSpec("day_coverage", False, "First and last aggregates near the day's bounds."),
    CheckSpec("price_spikes", False, "Consecutive-aggregate jumps and robust outliers against the minute's "
                                     "median/MAD."),
    CheckSpec("volume_spikes", False, "Minutes whose volume dwarfs the preceding hour's mean."),
)
BAR_CHECKS = (
    CheckSpec("ohlcv_rules", True, "high ≥ max(open, close), low ≤ min(open, close), high ≥ low, volume ≥ 0, "
                                   "taker-buy ≤ volume, open times increasing, close = open + interval − 1 unit."),
    CheckSpec("bar_gaps", False, "Expected bars per day and interval; missing bars as windows (maintenance)."),
)
FUNDING_CHECKS = (
    CheckSpec("day_has_funding_events", False, "WARN when the month file has no event on this day."),
    CheckSpec("funding_schedule", False, "WARN for boundaries of the day's funding schedule without an event."),
)
PRICE_INDEX_DATASETS = {
    "markPriceKlines": "mark_price_klines",
    "indexPriceKlines": "index_price_klines",
    "premiumIndexKlines": "premium_index_klines",
}
FUNDING_WINDOW_DAYS = 62  # the month whose file was last published, whatever day of the next month it appears


def archive_symbols(market: Market) -> tuple[str, ...]:
    return tuple(sorted(symbol_universe()[market]))


def archive_partitions(market: Market) -> MultiPartitionsDefinition:
    """UTC days from the archive's first day of the market × the market's configured symbols."""
    from hedgegrid_data.partitions import day_symbol_partitions

    return day_symbol_partitions(ARCHIVE_START[market], archive_symbols(market))


def _feed(market: Market, dataset: str, table: str, data_type: str, files: FileLister, steps: DaySteps,
          publishes: type | None, descriptions: Descriptions, **fields: Any) -> Feed:
    def identity(symbol: str) -> str:
        return instrument_id(market, symbol).value

    return Feed(name=f"{VENUE}_{market.value}_{dataset}", source=BINANCE_ARCHIVE, venue=VENUE, market=market.value,
                table=table, dataset=data_type, first_day=ARCHIVE_START[market], symbols=archive_symbols(market),
                files=files, steps=steps,
                instrument_ids=identity, publishes=publishes, descriptions=descriptions, **fields)


def _daily_files(market: Market, data_type: str) -> FileLister:
    def files(day: dt.date, symbol: str) -> list[ArchiveFile]:
        return [ArchiveFile(market, data_type, symbol, day)]

    return files


def _trade_ticks(market: Market) -> Callable[[str], CatalogSeries]:
    return lambda symbol: CatalogSeries(TradeTick, instrument_id(market, symbol).value)


def trades_feed(market: Market, publisher: bool = True) -> Feed:
    """Trades of ``market``; ``publisher``: they are the catalog's ``TradeTick``s (else aggTrades are)."""
    m = market.value
    return _feed(
        market, "trades", "trades", "trades", _daily_files(market, "trades"), ArchiveTradesDay(market, "trades"),
        TradeTick, Descriptions(
            f"Binance {m} daily trades zip, sha256-verified against its CHECKSUM.",
            f"Binance {m} trades for one day: exact decimals, ns times, aggressor side; pandera-validated.",
            f"Nautilus TradeTick day file (and instrument) for Binance {m} trades."),
        publisher=publisher, consecutive_ids=True, normalized_checks=TRADE_CHECKS,
        report_series=_trade_ticks(market))


def agg_trades_feed(market: Market, publisher: bool = False) -> Feed:
    """aggTrades of ``market``; ``publisher``: they are the catalog's ``TradeTick``s (trade id = aggregate id)."""
    m = market.value
    return _feed(
        market, "agg_trades", "trades", "aggTrades", _daily_files(market, "aggTrades"),
        ArchiveTradesDay(market, "aggTrades"), TradeTick, Descriptions(
            f"Binance {m} daily aggTrades zip, sha256-verified against its CHECKSUM.",
            f"Binance {m} aggregated trades for one day: exact decimals, ns times, aggressor side; placeholder and "
            "zero-quantity rows counted and excluded; pandera-validated.",
            f"Nautilus TradeTick day file (trade id = aggregate id) and instrument for Binance {m}, published only "
            "when aggTrades are the declared trade source."),
        publisher=publisher, consecutive_ids=True, normalized_checks=AGG_TRADE_CHECKS,
        report_series=_trade_ticks(market))


def klines_feed(market: Market, intervals: Sequence[str] = DEFAULT_KLINE_INTERVALS,
                timeframes: Sequence[str] | None = None) -> Feed:
    """Klines of ``market``: ``intervals`` are downloaded from the archive, ``timeframes`` built from the finest
    of them (by default every one of 5m, 15m, 1h, 4h, 1d that it makes: all from 1m, 4h and 1d from 1h).

    A timeframe that is also a downloaded interval must equal the archive's file bar by bar.
    """
    plan = BarPlan.buildable(intervals) if timeframes is None else BarPlan.of(intervals, timeframes)
    m = market.value

    def files(day: dt.date, symbol: str) -> list[ArchiveFile]:
        return [kline_archive_file(market, "klines", symbol, day, i) for i in plan.intervals]

    return _feed(
        market, "klines", "bars", "klines", files, ArchiveKlinesDay(market, plan), Bar, Descriptions(
            f"Binance {m} daily klines ({', '.join(plan.intervals)}) zips, sha256-verified against their CHECKSUM.",
            f"Binance {m} klines ({', '.join(plan.intervals)}) for one day: all 12 columns, exact decimals, ns "
            f"times, every bar checked; bars staged for {', '.join(plan.published)}.",
            f"Nautilus Bar day files ({', '.join(plan.published)}, EXTERNAL, stamped at the kline close) and the "
            f"instrument for Binance {m} klines."),
        normalized_checks=BAR_CHECKS,
        catalog_checks=(CheckSpec("bars_agree_with_archive", True, f"Bars built from {plan.base} equal the archive's "
                                                                   "own file of that interval, bar by bar."),),
        report_series=lambda symbol: CatalogSeries(Bar, str(bar_type(instrument_id(market, symbol), plan.base))))


def price_index_feed(market: Market, data_type: str, interval: str = BASE_INTERVAL) -> Feed:
    """Mark, index or premium-index klines of a futures market; only mark prices reach the catalog
    (NautilusTrader 1.220's catalog cannot read index prices back, and has no premium type)."""
    if market is Market.SPOT:
        raise ValueError("mark, index and premium-index klines exist for USD-M and COIN-M only")
    m = market.value
    marks = data_type == "markPriceKlines"

    def files(day: dt.date, symbol: str) -> list[ArchiveFile]:
        return [kline_archive_file(market, data_type, symbol, day, interval)]

    return _feed(
        market, PRICE_INDEX_DATASETS[data_type], "mark_prices" if marks else "price_index", data_type, files,
        ArchivePriceIndexDay(market, data_type, interval), MarkPriceUpdate if marks else None, Descriptions(
            f"Binance {m} daily {data_type} {interval} zip, sha256-verified against its CHECKSUM.",
            f"Binance {m} {data_type} {interval} for one day: open_time, OHLC (exact), close_time, source_points; "
            "every bar checked." + (" MarkPriceUpdates staged." if marks else ""),
            f"Nautilus MarkPriceUpdate day file (kline close at close time) for Binance {m}."),
        normalized_checks=BAR_CHECKS,
        report_series=(lambda symbol: CatalogSeries(MarkPriceUpdate, instrument_id(market, symbol).value))
        if marks else None)


def funding_feed(market: Market) -> Feed:
    """Funding rates of a futures market: every day of a month comes from the month's file."""
    if market is Market.SPOT:
        raise ValueError("spot has no funding rates")
    m = market.value

    def files(day: dt.date, symbol: str) -> list[ArchiveFile]:
        return [funding_archive_file(market, symbol, day)]

    return _feed(
        market, "funding_rate", "funding", "fundingRate", files, ArchiveFundingDay(market), FundingRateUpdate,
        Descriptions(
            f"Binance {m} monthly fundingRate zip containing the day, sha256-verified against its CHECKSUM; "
            "downloaded once per month and reused by the month's days.",
            f"Binance {m} funding events of one day: exact rate, funding interval, funding boundary (calc_time "
            "floored to the hour) and next funding time; pandera-validated.",
            f"Nautilus FundingRateUpdate day file (and instrument) for Binance {m}; readers must call "
            "hedgegrid_data.catalog.funding_rates.register_funding_rate_codec()."),
        normalized_checks=FUNDING_CHECKS,
        report_series=lambda symbol: CatalogSeries(FundingRateUpdate, instrument_id(market, symbol).value),
        automation=Automation(nightly=False, due=month_end, window_days=FUNDING_WINDOW_DAYS))


def archive_feeds(kline_intervals: Sequence[str] = DEFAULT_KLINE_INTERVALS,
                  trade_source: TradeSource = "trades") -> list[Feed]:
    """Every feed of the archive, in the order the UI lists them; ``trade_source`` is the declared publisher of
    the catalog's ``TradeTick``s."""
    return [
        *(trades_feed(m, publisher=trade_source == "trades") for m in Market),
        *(agg_trades_feed(m, publisher=trade_source == "aggTrades") for m in Market),
        *(klines_feed(m, kline_intervals) for m in Market),
        *(price_index_feed(m, data_type) for m in FUTURES_MARKETS for data_type in PRICE_INDEX_DATASETS),
        *(funding_feed(m) for m in FUTURES_MARKETS),
    ]
