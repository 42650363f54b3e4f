"""The trades pipeline, step by step, as the assets and the benchmark run it.

1. ``normalize_trades_day``: verified zip → normalized parquet, a staged ``TradeTick`` day file and the
   day's quality verdicts, in one streaming pass (nothing appears unless the whole day is valid). A day
   failing a blocking check loses its staged file and its catalog day: bad data never stays visible.
2. ``publish_trades_day``: write the instrument, promote the staged day into the catalog — refused for
   a day whose verdicts block.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nautilus_trader.model.data import TradeTick

from hedgegrid_data.catalog.day_files import day_file_path, remove_day
from hedgegrid_data.catalog.instruments import write_instrument
from hedgegrid_data.catalog.integrity import parquet_edge_rows
from hedgegrid_data.catalog.publication import (
    PublishedDay,
    promote_verified,
    verify_staged,
)
from hedgegrid_data.catalog.trade_ticks import trade_tick_day_sink
from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.quality.findings import Verdict, blocking
from hedgegrid_data.quality.gate import refuse_blocked
from hedgegrid_data.quality.report import write_day_quality
from hedgegrid_data.quality.trades import StreamCheck, TradeCheckThresholds
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.sources.binance_archive.trades import (
    TradesDaySummary,
    write_normalized_trades,
)
from hedgegrid_data.store import DataStore
from hedgegrid_data.streaming import on_worker_thread
from hedgegrid_data.venues.binance import build_instrument
from hedgegrid_data.venues.symbols import symbol_spec


@dataclass(frozen=True)
class NormalizedTradesDay:
    summary: TradesDaySummary
    verdicts: list[Verdict]
    report: dict


def normalize_trades_day(store: DataStore, archive_file: ArchiveFile,
                         thresholds: TradeCheckThresholds | None = None,
                         publishes_catalog: bool = True) -> NormalizedTradesDay:
    """``publishes_catalog``: trades are the configured trade source, so a blocked day leaves the catalog."""
    spec = symbol_spec(archive_file.market, archive_file.symbol)
    instrument = build_instrument(spec)
    check = StreamCheck(day_bounds_ns(archive_file.day),
                        thresholds or TradeCheckThresholds.for_market(archive_file.market))
    summary = write_normalized_trades(
        store.raw / archive_file.key,
        archive_file,
        spec,
        _normalized_path(store, archive_file),
        sinks=[
            lambda: on_worker_thread(lambda: trade_tick_day_sink(store.staging, instrument, archive_file.day)),
            lambda: on_worker_thread(check.sink),
        ],
    )
    verdicts = check.verdicts()
    report = write_day_quality(_quality_path(store, archive_file), archive_file.day, archive_file.symbol, verdicts)
    if blocking(verdicts):
        remove_day(store.staging, TradeTick, instrument.id.value, archive_file.day)
        if publishes_catalog:
            remove_day(store.catalog, TradeTick, instrument.id.value, archive_file.day)
    return NormalizedTradesDay(summary, verdicts, report)


def _normalized_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    return store.normalized_file(archive_file.market, archive_file.data_type, archive_file.symbol, archive_file.day)


def _quality_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    return store.quality_file(archive_file.market, archive_file.data_type, archive_file.symbol, archive_file.day)


def trade_tick_tuple(tick: TradeTick) -> tuple:
    return tick.trade_id.value, str(tick.price), str(tick.size), int(tick.aggressor_side), tick.ts_event, tick.ts_init


def _normalized_edge_ticks(path: Path) -> tuple[int, tuple, tuple]:
    """Row count and the first/last normalized trades in ``trade_tick_tuple`` form."""
    rows, first, last = parquet_edge_rows(path, ["trade_id", "price", "qty", "aggressor_side", "ts_event"])

    def as_tick(row: dict) -> tuple:
        return (str(row["trade_id"]), f"{row['price']:f}", f"{row['qty']:f}", row["aggressor_side"],
                row["ts_event"], row["ts_event"])

    return rows, as_tick(first), as_tick(last)


def publish_trades_day(store: DataStore, archive_file: ArchiveFile) -> PublishedDay:
    """Check the staged day reads back through Nautilus as normalized, then promote it into the catalog."""
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    normalized = _normalized_path(store, archive_file)
    refuse_blocked(store, archive_file.market, archive_file.symbol, archive_file.day, archive_file.data_type,
                   archive_file.file_name)
    if not normalized.exists():
        raise HedgegridDataError(f"{normalized}: no normalized trades day to publish; materialize it first")
    identifier = instrument.id.value
    rows_in, first, last = _normalized_edge_ticks(normalized)
    integrity = verify_staged(store.staging, TradeTick, identifier, archive_file.day, rows_in, first, last,
                              trade_tick_tuple)
    write_instrument(store.catalog, instrument)
    return promote_verified(store.staging, store.catalog, TradeTick, identifier, archive_file.day, identifier,
                            rows_in, integrity)


def staged_trades_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    return day_file_path(store.staging, TradeTick, instrument.id.value, archive_file.day)
