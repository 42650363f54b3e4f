"""The trades pipeline, step by step, as the assets and the benchmark run it.

1. ``normalize_trades_day``: verified zip → normalized parquet, a staged ``TradeTick`` day file and the
   day's quality verdicts, in one streaming pass (nothing appears unless the whole day is valid). A day
   failing a blocking check loses its staged file and its catalog day: bad data never stays visible.
2. ``publish_trades_day``: write the instrument, promote the staged day into the catalog — refused for
   a day whose verdicts block.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import TradeTick

from hedgegrid_data.catalog.day_files import day_file_path, promote_day, remove_day
from hedgegrid_data.catalog.instruments import write_instrument
from hedgegrid_data.catalog.trade_ticks import trade_tick_day_sink
from hedgegrid_data.instruments import build_instrument
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.markets import ArchiveFile, day_bounds_ns
from hedgegrid_data.normalization.trades import TradesDaySummary, write_normalized_trades
from hedgegrid_data.quality.catalog_integrity import check_day_file, overlapping_files
from hedgegrid_data.quality.findings import Verdict, blocking, write_verdicts
from hedgegrid_data.quality.gate import refuse_blocked
from hedgegrid_data.quality.report import day_report, write_day_report
from hedgegrid_data.quality.trades import TradeCheckThresholds, TradesDayChecker
from hedgegrid_data.store import DataStore
from hedgegrid_data.streaming import on_worker_thread
from hedgegrid_data.symbols import symbol_spec


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
    checker = TradesDayChecker(day_bounds_ns(archive_file.day),
                               thresholds or TradeCheckThresholds.for_market(archive_file.market))
    summary = write_normalized_trades(
        store.raw / archive_file.key,
        archive_file,
        spec,
        _normalized_path(store, archive_file),
        sinks=[
            lambda: on_worker_thread(lambda: trade_tick_day_sink(store.staging, instrument, archive_file.day)),
            lambda: on_worker_thread(lambda: nullcontext(checker.add)),
        ],
    )
    verdicts = checker.verdicts()
    quality = _quality_path(store, archive_file)
    write_verdicts(quality, verdicts)
    report = day_report(f"{archive_file.day.isoformat()}|{archive_file.symbol}", verdicts)
    write_day_report(quality.parent, archive_file.day, report)
    if blocking(verdicts):
        remove_day(store.staging, TradeTick, instrument.id.value, archive_file.day)
        if publishes_catalog:
            remove_day(store.catalog, TradeTick, instrument.id.value, archive_file.day)
    return NormalizedTradesDay(summary, verdicts, report)


def _normalized_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    return store.normalized_file(archive_file.market, archive_file.data_type, archive_file.symbol, archive_file.day)


def _quality_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    return store.quality_file(archive_file.market, archive_file.data_type, archive_file.symbol, archive_file.day)


@dataclass(frozen=True)
class PublishedDay:
    path: Path
    instrument_id: str
    rows_in: int
    rows_out: int
    bytes: int
    integrity: Verdict


def trade_tick_tuple(tick: TradeTick) -> tuple:
    return tick.trade_id.value, str(tick.price), str(tick.size), int(tick.aggressor_side), tick.ts_event, tick.ts_init


def _normalized_edge_rows(path: Path) -> tuple[int, tuple, tuple]:
    """Row count and the first/last normalized rows in ``trade_tick_tuple`` form."""
    parquet = pq.ParquetFile(path)
    columns = ["trade_id", "price", "qty", "aggressor_side", "ts_event"]

    def row(group: pa.Table, index: int) -> tuple:
        one = group.slice(index, 1)
        values = one.set_column(4, "ts_event", one.column("ts_event").cast(pa.int64())).to_pylist()[0]
        ts = values["ts_event"]
        return str(values["trade_id"]), f"{values['price']:f}", f"{values['qty']:f}", values["aggressor_side"], ts, ts

    first_group = parquet.read_row_group(0, columns=columns)
    last_group = parquet.read_row_group(parquet.num_row_groups - 1, columns=columns)
    return parquet.metadata.num_rows, row(first_group, 0), row(last_group, last_group.num_rows - 1)


def publish_trades_day(store: DataStore, archive_file: ArchiveFile) -> PublishedDay:
    """Check the staged day reads back through Nautilus as normalized, then promote it into the catalog."""
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    normalized = _normalized_path(store, archive_file)
    refuse_blocked(store, archive_file.market, archive_file.symbol, archive_file.day, archive_file.data_type,
                   archive_file.file_name)
    staged = staged_trades_path(store, archive_file)
    if not staged.exists():
        raise HedgegridDataError(f"{staged}: no staged TradeTick day to promote; materialize the normalized day first")
    rows_in, first, last = _normalized_edge_rows(normalized)
    integrity = check_day_file(staged, TradeTick, rows_in, first, last, trade_tick_tuple)
    if integrity.blocks:
        raise HedgegridDataError(f"{staged}: {integrity.summary}; not published")
    write_instrument(store.catalog, instrument)
    path = promote_day(store.staging, store.catalog, TradeTick, instrument.id.value, archive_file.day)
    overlapping = overlapping_files(store.catalog, TradeTick, instrument.id.value)
    if overlapping:
        raise HedgegridDataError(f"{path.parent}: files overlap after promotion: {overlapping}")
    return PublishedDay(
        path=path,
        instrument_id=instrument.id.value,
        rows_in=rows_in,
        rows_out=pq.ParquetFile(path).metadata.num_rows,
        bytes=path.stat().st_size,
        integrity=integrity,
    )


def staged_trades_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    return day_file_path(store.staging, TradeTick, instrument.id.value, archive_file.day)
