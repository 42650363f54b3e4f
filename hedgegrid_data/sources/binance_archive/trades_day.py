"""The day steps of the archive's trades and aggTrades feeds: one streaming pass from the verified zip to the
normalized table, the staged ``TradeTick`` day and the trades checks; and what the staged day must read back as.

Both stream through ``feeds/trade_stream.py``, the normalized parquet, the staged day file and the checker each
on a thread of its own. Trades and aggTrades are two sources of the same ``TradeTick``s (trade id = aggregate
id for aggTrades): each stages apart from the other, and only the feed declared the instrument's publisher
writes the catalog day.

The quality checks are the trades checks (``quality/trades.py``), except that aggregate ids are judged by
``agg_trade_id_gaps``: the ids of placeholder and zero-quantity rows, excluded from the table, leave gaps that
those rows explain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from nautilus_trader.model.data import TradeTick

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.catalog.trade_ticks import trade_tick_day_sink
from hedgegrid_data.epochs import day_bounds_ns, utc_text
from hedgegrid_data.feeds.feed import (
    CatalogSeries,
    Feed,
    PublicationPlan,
    StagedDay,
)
from hedgegrid_data.feeds.trades_day import trade_tick_plan
from hedgegrid_data.quality.findings import Severity, Verdict
from hedgegrid_data.quality.trades import StreamCheck, TradeCheckThresholds, within_missing_tolerance
from hedgegrid_data.sources.binance_archive.agg_trades import (
    AggTradesDaySummary,
    quantity_column,
    trade_tick_input,
    write_normalized_agg_trades,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.sources.binance_archive.trades import write_normalized_trades
from hedgegrid_data.store import DataStore
from hedgegrid_data.streaming import on_worker_thread
from hedgegrid_data.venues.binance import Market, build_instrument, instrument_id
from hedgegrid_data.venues.symbols import symbol_spec


def agg_trade_id_gaps(id_gaps: Verdict, summary: AggTradesDaySummary,
                      thresholds: TradeCheckThresholds = TradeCheckThresholds()) -> Verdict:
    """The trades checker's id verdict over aggregate ids, judged net of the excluded rows' ids.

    Aggregate ids are consecutive; each placeholder or zero-quantity row excluded from the table takes
    one, so only missing ids beyond the excluded rows are aggregates the file lacks (ERROR, within the
    thresholds' ``max_missing_ids`` or ``max_missing_share`` of the ids the day spans).
    """
    excluded = summary.placeholder_rows + summary.zero_quantity_rows
    unexplained = max(0, id_gaps.metadata["missing_ids"] - excluded)
    spanned = id_gaps.metadata["last_id"] - id_gaps.metadata["first_id"] + 1
    return Verdict(
        "agg_trade_id_gaps", within_missing_tolerance(unexplained, spanned, thresholds), Severity.ERROR,
        f"{unexplained} aggregate ids missing beyond the {excluded} excluded rows "
        f"({id_gaps.metadata['missing_ids']} ids absent in {id_gaps.metadata['gaps']} gaps)" if unexplained
        else f"aggregate ids are consecutive (the {excluded} excluded rows included)",
        {**id_gaps.metadata, "excluded_rows": excluded, "unexplained_missing_ids": unexplained},
    )


@dataclass(frozen=True)
class ArchiveTradesDay:
    """``DaySteps`` of a trades (``data_type="trades"``) or aggTrades (``"aggTrades"``) feed of one market."""

    market: Market
    data_type: str
    thresholds: TradeCheckThresholds | None = None

    @property
    def aggregates(self) -> bool:
        return self.data_type == "aggTrades"

    def archive_file(self, day: dt.date, symbol: str) -> ArchiveFile:
        return ArchiveFile(self.market, self.data_type, symbol, day)

    def series(self, symbol: str) -> list[CatalogSeries]:
        return [CatalogSeries(TradeTick, instrument_id(self.market, symbol).value)]

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return [feed.normalized_file(store, day, symbol)]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        staging = feed.staging(store)
        archive_file = self.archive_file(day, symbol)
        spec = symbol_spec(self.market, symbol)
        instrument = build_instrument(spec)
        thresholds = self.thresholds or TradeCheckThresholds.for_market(self.market.value)
        market = self.market
        out = feed.normalized_file(store, day, symbol)

        @contextmanager
        def staged_ticks() -> Iterator[Callable[[pa.RecordBatch], None]]:
            with trade_tick_day_sink(staging, instrument, day) as write:
                yield (lambda batch: write(trade_tick_input(batch, market))) if self.aggregates else write

        adapt = (lambda batch: trade_tick_input(batch, market)) if self.aggregates else None
        check = StreamCheck(day_bounds_ns(day), thresholds, adapt=adapt, consecutive_ids=feed.consecutive_ids)
        write_normalized = write_normalized_agg_trades if self.aggregates else write_normalized_trades
        summary = write_normalized(
            store.raw / archive_file.key, archive_file, spec, out,
            sinks=[lambda: on_worker_thread(staged_ticks), lambda: on_worker_thread(check.sink)],
        )
        verdicts = check.verdicts()
        if self.aggregates:
            assert isinstance(summary, AggTradesDaySummary)
            verdicts = [agg_trade_id_gaps(v, summary, thresholds) if v.check == "trade_id_gaps"
                        else v for v in verdicts]
        metadata: dict[str, object] = {
            "rows": summary.rows, "source_rows": summary.source_rows,
            "duplicates_dropped": summary.duplicates_dropped, "resorted": summary.resorted,
            "first_event_time": utc_text(summary.first_ts_ns), "last_event_time": utc_text(summary.last_ts_ns),
            "first_trade_id": summary.first_trade_id, "last_trade_id": summary.last_trade_id,
            "time_unit": summary.time_unit.value if summary.time_unit else "", "header": summary.header,
            "bytes": out.stat().st_size, "path": out,
            "staged_catalog_file": day_file_path(staging, TradeTick, instrument.id.value, day),
        }
        if isinstance(summary, AggTradesDaySummary):
            metadata |= {"placeholder_rows_excluded": summary.placeholder_rows,
                         "zero_quantity_rows_excluded": summary.zero_quantity_rows,
                         "first_agg_trade_id": summary.first_agg_trade_id,
                         "last_agg_trade_id": summary.last_agg_trade_id, "trades_covered": summary.trades_covered}
        return StagedDay(verdicts, metadata,
                         {"rows_validated": summary.rows if self.aggregates else summary.source_rows})

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        """The staged day must read back as the normalized day: its row count, first and last trades."""
        instrument = build_instrument(symbol_spec(self.market, symbol))
        if self.aggregates:
            return trade_tick_plan(instrument, feed.normalized_file(store, day, symbol), "agg_trade_id",
                                   quantity_column(self.market))
        return trade_tick_plan(instrument, feed.normalized_file(store, day, symbol))
