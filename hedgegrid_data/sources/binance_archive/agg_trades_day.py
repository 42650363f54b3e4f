"""The aggTrades pipeline, step by step, as the assets and the benchmark run it.

1. ``normalize_agg_trades_day``: verified zip → normalized aggregated-trades parquet, a staged
   ``TradeTick`` day file (trade id = aggregate trade id) and the day's quality verdicts, in one streaming
   pass. A day failing a blocking check loses its staged file (and, when aggTrades are the trade source, its
   catalog day).
2. ``publish_agg_trades_day``: refused for a day whose verdicts block; check the staged day reads back
   through Nautilus as normalized, write the instrument, promote it into the catalog.

Trades and aggTrades are two sources of the same ``TradeTick``s: both write the one day file of the
instrument (same identifier, same name), so promoting either replaces the other and they can never
both be in the catalog for a day. Which one is published is the deployment's ``TradeSource``; the
aggTrades day is staged apart from the trades day so that neither overwrites the other's staging.

The quality checks are the trades checks (``quality.trades``) over the aggregates, except that aggregate
ids are judged by ``agg_trade_id_gaps``: the ids of placeholder and zero-quantity rows, excluded from the
table, leave gaps that those rows explain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.instruments import Instrument

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
from hedgegrid_data.quality.findings import Severity, Verdict, blocking
from hedgegrid_data.quality.gate import refuse_blocked
from hedgegrid_data.quality.report import write_day_quality
from hedgegrid_data.quality.trades import StreamCheck, TradeCheckThresholds
from hedgegrid_data.sources.binance_archive.agg_trades import (
    AggTradesDaySummary,
    quantity_column,
    trade_tick_input,
    write_normalized_agg_trades,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.sources.binance_archive.trades_day import trade_tick_tuple
from hedgegrid_data.store import DataStore
from hedgegrid_data.streaming import on_worker_thread
from hedgegrid_data.venues.binance import Market, build_instrument
from hedgegrid_data.venues.symbols import symbol_spec


def agg_trades_staging(store: DataStore) -> Path:
    """Staged catalog day files built from aggTrades (same layout as ``store.staging``)."""
    return store.root / "staging" / "agg_trades" / "catalog"


@contextmanager
def agg_trade_tick_day_sink(root: Path, instrument: Instrument, market: Market,
                            day: dt.date) -> Iterator[Callable[[pa.RecordBatch], None]]:
    """Yield ``write(normalized_agg_trades_batch)`` streaming one day of ``TradeTick``s under ``root``."""
    with trade_tick_day_sink(root, instrument, day) as write:
        yield lambda batch: write(trade_tick_input(batch, market))


def agg_trade_id_gaps(id_gaps: Verdict, summary: AggTradesDaySummary, tolerance: int = 0) -> Verdict:
    """The trades checker's id verdict over aggregate ids, judged net of the excluded rows' ids.

    Aggregate ids are consecutive; each placeholder or zero-quantity row excluded from the table takes
    one, so only missing ids beyond the excluded rows are aggregates the file lacks (ERROR).
    """
    excluded = summary.placeholder_rows + summary.zero_quantity_rows
    unexplained = max(0, id_gaps.metadata["missing_ids"] - excluded)
    return Verdict(
        "agg_trade_id_gaps", unexplained <= tolerance, Severity.ERROR,
        f"{unexplained} aggregate ids missing beyond the {excluded} excluded rows "
        f"({id_gaps.metadata['missing_ids']} ids absent in {id_gaps.metadata['gaps']} gaps)" if unexplained
        else f"aggregate ids are consecutive (the {excluded} excluded rows included)",
        {**id_gaps.metadata, "excluded_rows": excluded, "unexplained_missing_ids": unexplained},
    )


@dataclass(frozen=True)
class NormalizedAggTradesDay:
    summary: AggTradesDaySummary
    verdicts: list[Verdict]
    report: dict


def normalize_agg_trades_day(store: DataStore, archive_file: ArchiveFile,
                             thresholds: TradeCheckThresholds | None = None,
                             publishes_catalog: bool = False) -> NormalizedAggTradesDay:
    """``publishes_catalog``: aggTrades are the configured trade source, so a blocked day leaves the catalog."""
    market, day = archive_file.market, archive_file.day
    spec = symbol_spec(market, archive_file.symbol)
    instrument = build_instrument(spec)
    staging = agg_trades_staging(store)
    thresholds = thresholds or TradeCheckThresholds.for_market(market)
    check = StreamCheck(day_bounds_ns(day), thresholds, adapt=lambda batch: trade_tick_input(batch, market))
    summary = write_normalized_agg_trades(
        store.raw / archive_file.key,
        archive_file,
        spec,
        store.normalized_file(market, archive_file.data_type, archive_file.symbol, day),
        sinks=[
            lambda: on_worker_thread(lambda: agg_trade_tick_day_sink(staging, instrument, market, day)),
            lambda: on_worker_thread(check.sink),
        ],
    )
    verdicts = [agg_trade_id_gaps(v, summary, thresholds.max_missing_ids) if v.check == "trade_id_gaps" else v
                for v in check.verdicts()]
    quality = store.quality_file(market, archive_file.data_type, archive_file.symbol, day)
    report = write_day_quality(quality, day, archive_file.symbol, verdicts)
    if blocking(verdicts):
        remove_day(staging, TradeTick, instrument.id.value, day)
        if publishes_catalog:
            remove_day(store.catalog, TradeTick, instrument.id.value, day)
    return NormalizedAggTradesDay(summary, verdicts, report)


def _normalized_edge_ticks(path: Path, market: Market) -> tuple[int, tuple, tuple]:
    """Row count and the first/last normalized aggregates in ``trade_tick_tuple`` form."""
    columns = ["agg_trade_id", "price", quantity_column(market), "aggressor_side", "ts_event"]
    rows, first, last = parquet_edge_rows(path, columns)

    def as_tick(row: dict) -> tuple:
        return (str(row["agg_trade_id"]), f"{row['price']:f}", f"{row[columns[2]]:f}", row["aggressor_side"],
                row["ts_event"], row["ts_event"])

    return rows, as_tick(first), as_tick(last)


def publish_agg_trades_day(store: DataStore, archive_file: ArchiveFile) -> PublishedDay:
    """Check the staged day reads back through Nautilus as normalized, then promote it, replacing the
    instrument's ``TradeTick`` day whatever its source. ``rows_in`` counts the normalized table, ``rows_out``
    the catalog file."""
    market, day = archive_file.market, archive_file.day
    refuse_blocked(store, market, archive_file.symbol, day, archive_file.data_type, archive_file.file_name)
    instrument = build_instrument(symbol_spec(market, archive_file.symbol))
    normalized = store.normalized_file(market, archive_file.data_type, archive_file.symbol, day)
    if not normalized.exists():
        raise HedgegridDataError(f"{normalized}: no normalized aggTrades day to publish; materialize it first")
    identifier = instrument.id.value
    rows_in, first, last = _normalized_edge_ticks(normalized, market)
    integrity = verify_staged(agg_trades_staging(store), TradeTick, identifier, day, rows_in, first, last,
                              trade_tick_tuple)
    write_instrument(store.catalog, instrument)
    return promote_verified(agg_trades_staging(store), store.catalog, TradeTick, identifier, day, identifier,
                            rows_in, integrity)


def staged_agg_trades_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    return day_file_path(agg_trades_staging(store), TradeTick, instrument.id.value, archive_file.day)
