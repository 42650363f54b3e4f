"""Cross-dataset reconciliation of one market, symbol and day, from the normalized tables.

- 1m bars rebuilt from the trades equal the archive's 1m klines (open, high, low, close, volume, count);
- aggTrades equal the sums of the trades they aggregate, and chain;
- every funding event has a mark price shortly before it (futures).

A check whose inputs are not materialized is reported as not applicable (passed, ``applicable: False``).
A mismatch blocks the datasets it compared (``gate.RECONCILED_DATASETS``): their day leaves the catalog and
its publication is refused until the sources are fixed and the day reconciled again. Trades and aggTrades
share the instrument's ``TradeTick`` day: it leaves the catalog only when the judged one is the declared trade
source (the other never publishes it). Staged days stay (the gate refuses them): once the day reconciles, a
dataset that was not at fault publishes without being re-normalized.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.republication import withdraw_day
from hedgegrid_data.quality.acceptances import acceptances_file, apply_acceptances, read_acceptances
from hedgegrid_data.quality.findings import Severity, Verdict, blocking, write_verdicts
from hedgegrid_data.quality.gate import RECONCILIATION, judged_datasets
from hedgegrid_data.quality.reconciliation import (
    bars_from_trades,
    funding_has_mark_price,
    mark_price_times,
    reconcile_agg_trades,
    reconcile_bars,
)
from hedgegrid_data.sources.binance_archive.agg_trades import quantity_column
from hedgegrid_data.sources.binance_archive.klines import (
    volume_column,
)
from hedgegrid_data.sources.binance_archive.klines_day import (
    kline_archive_file,
    normalized_kline_path,
)
from hedgegrid_data.sources.binance_archive.layout import SOURCE
from hedgegrid_data.store import DataStore
from hedgegrid_data.venues.binance import Market

MARK_PRICE_TOLERANCE_NS = 60 * 10**9


def reconciliation_group(market: Market) -> str:
    """The reconciliation asset's group (and asset) name; acceptances of its findings name it."""
    return f"binance_{market.value}_reconciliation"


def reconciliation_verdicts_file(market: Market, store: DataStore, day: dt.date, symbol: str) -> Path:
    return store.quality_file(SOURCE, market.value, RECONCILIATION, symbol, day)


def _not_applicable(check: str, missing: str) -> Verdict:
    return Verdict(check, True, Severity.ERROR, f"not applicable: {missing} not materialized", {"applicable": False})


def reconcile_day(store: DataStore, market: Market, symbol: str, day: dt.date, feeds: Iterable[Feed],
                  mark_price_tolerance_ns: int = MARK_PRICE_TOLERANCE_NS) -> list[Verdict]:
    """Reconcile the day, record the verdicts and, on a mismatch, withhold the catalog days the judged datasets
    publish: those of the publishing feeds among ``feeds`` (the archive's feeds of ``market``)."""
    trades = store.normalized_file(SOURCE, market.value, "trades", symbol, day)
    klines = normalized_kline_path(store, kline_archive_file(market, "klines", symbol, day, "1m"))
    agg_trades = store.normalized_file(SOURCE, market.value, "aggTrades", symbol, day)
    verdicts = []
    if trades.exists() and klines.exists():
        verdicts.append(reconcile_bars(bars_from_trades(pl.scan_parquet(trades)), pl.read_parquet(klines),
                                       volume_column(market)))
    else:
        verdicts.append(_not_applicable("klines_match_trades", "trades or 1m klines"))
    if trades.exists() and agg_trades.exists():
        verdicts.append(reconcile_agg_trades(
            pl.read_parquet(agg_trades), pl.read_parquet(trades, columns=["trade_id", "price", "qty"]),
            quantity_column(market)))
    else:
        verdicts.append(_not_applicable("agg_trades_match_trades", "trades or aggTrades"))
    if market is not Market.SPOT:
        funding = store.normalized_file(SOURCE, market.value, "fundingRate", symbol, day)
        marks = normalized_kline_path(store, kline_archive_file(market, "markPriceKlines", symbol, day, "1m"))
        if funding.exists() and marks.exists():
            verdicts.append(funding_has_mark_price(
                pl.read_parquet(funding, columns=["ts_event"]),
                mark_price_times(pl.read_parquet(marks, columns=["open_time", "close_time"])),
                mark_price_tolerance_ns))
        else:
            verdicts.append(_not_applicable("funding_has_mark_price", "funding rates or mark prices"))
    verdicts = apply_acceptances(verdicts, read_acceptances(acceptances_file(store)),
                                 reconciliation_group(market), f"{day.isoformat()}|{symbol}")
    write_verdicts(reconciliation_verdicts_file(market, store, day, symbol), verdicts)
    withheld: set[str] = set()
    for verdict in blocking(verdicts):
        withheld |= judged_datasets(verdict) or {feed.dataset for feed in feeds}
    for feed in feeds:
        if feed.market == market.value and feed.dataset in withheld:
            withdraw_day(feed, store, day, symbol, staged=False)
    return verdicts
