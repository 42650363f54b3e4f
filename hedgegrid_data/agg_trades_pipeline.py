"""The aggTrades pipeline, step by step, as the assets and the benchmark run it.

1. ``normalize_agg_trades_day``: verified zip → normalized aggregated-trades parquet and a staged
   ``TradeTick`` day file (trade id = aggregate trade id), in one streaming pass.
2. ``publish_agg_trades_day``: write the instrument, promote the staged day into the catalog.

Trades and aggTrades are two sources of the same ``TradeTick``s: both write the one day file of the
instrument (same identifier, same name), so promoting either replaces the other and they can never
both be in the catalog for a day. Which one is published is the deployment's ``TradeSource``; the
aggTrades day is staged apart from the trades day so that neither overwrites the other's staging.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.catalog.day_files import day_file_path, promote_day
from hedgegrid_data.catalog.instruments import write_instrument
from hedgegrid_data.catalog.trade_ticks import trade_tick_day_sink
from hedgegrid_data.instruments import build_instrument
from hedgegrid_data.markets import ArchiveFile, Market
from hedgegrid_data.normalization.agg_trades import AggTradesDaySummary, trade_tick_input, write_normalized_agg_trades
from hedgegrid_data.store import DataStore
from hedgegrid_data.streaming import on_worker_thread
from hedgegrid_data.symbols import symbol_spec


def agg_trades_staging(store: DataStore) -> Path:
    """Staged catalog day files built from aggTrades (same layout as ``store.staging``)."""
    return store.root / "staging" / "agg_trades" / "catalog"


@contextmanager
def agg_trade_tick_day_sink(root: Path, instrument: Instrument, market: Market,
                            day: dt.date) -> Iterator[Callable[[pa.RecordBatch], None]]:
    """Yield ``write(normalized_agg_trades_batch)`` streaming one day of ``TradeTick``s under ``root``."""
    with trade_tick_day_sink(root, instrument, day) as write:
        yield lambda batch: write(trade_tick_input(batch, market))


def normalize_agg_trades_day(store: DataStore, archive_file: ArchiveFile) -> AggTradesDaySummary:
    market, day = archive_file.market, archive_file.day
    spec = symbol_spec(market, archive_file.symbol)
    instrument = build_instrument(spec)
    staging = agg_trades_staging(store)
    return write_normalized_agg_trades(
        store.raw / archive_file.key,
        archive_file,
        spec,
        store.normalized_file(market, archive_file.data_type, archive_file.symbol, day),
        sinks=[lambda: on_worker_thread(lambda: agg_trade_tick_day_sink(staging, instrument, market, day))],
    )


@dataclass(frozen=True)
class PublishedAggTradesDay:
    path: Path
    instrument_id: str
    rows_in: int
    rows_out: int
    bytes: int


def publish_agg_trades_day(store: DataStore, archive_file: ArchiveFile) -> PublishedAggTradesDay:
    """Promote the staged day, replacing the instrument's ``TradeTick`` day whatever its source.

    ``rows_in`` counts the normalized table, ``rows_out`` the catalog file.
    """
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    normalized = store.normalized_file(archive_file.market, archive_file.data_type, archive_file.symbol,
                                       archive_file.day)
    write_instrument(store.catalog, instrument)
    path = promote_day(agg_trades_staging(store), store.catalog, TradeTick, instrument.id.value, archive_file.day)
    return PublishedAggTradesDay(
        path=path,
        instrument_id=instrument.id.value,
        rows_in=pq.ParquetFile(normalized).metadata.num_rows,
        rows_out=pq.ParquetFile(path).metadata.num_rows,
        bytes=path.stat().st_size,
    )


def staged_agg_trades_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    instrument = build_instrument(symbol_spec(archive_file.market, archive_file.symbol))
    return day_file_path(agg_trades_staging(store), TradeTick, instrument.id.value, archive_file.day)
