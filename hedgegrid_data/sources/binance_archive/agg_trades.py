"""Binance aggTrades CSV → normalized aggregated-trades table: exact decimals, ns timestamps, validated.

Columns: ``agg_trade_id, price, qty, first_trade_id, last_trade_id, ts_event, is_buyer_maker,
aggressor_side`` (+ ``is_best_match`` on spot). The quantity is named like the trades table's
``qty`` (base asset) except on COIN-M, where it counts contracts and the table has no other column
to say so: there it is ``qty_contracts``.

Rows that are not trades are counted and excluded, never kept and never dropped silently: spot
placeholder rows (price 0, quantity 0, first and last trade id −1) and zero-quantity rows
(binance-public-data #342). Streaming, ordering, de-duplication and the outputs follow the trades
normalization through ``trade_stream``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.feeds.trade_stream import BatchSink, OrderCheck, write_stream
from hedgegrid_data.sources import text_columns
from hedgegrid_data.sources.binance_archive import archive_csv
from hedgegrid_data.sources.binance_archive.layout import (
    ArchiveFile,
    agg_trades_columns,
    time_unit_for,
)
from hedgegrid_data.streaming import prefetched
from hedgegrid_data.tables.trades import BUYER, SELLER, amount_rules, canonical_trades
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import SymbolSpec

DATA_TYPE = "aggTrades"
PLACEHOLDER_TRADE_ID = "-1"


def quantity_column(market: Market) -> str:
    return "qty_contracts" if market is Market.COINM else "qty"


def normalized_agg_trades_schema(spec: SymbolSpec) -> pa.Schema:
    fields = [
        pa.field("agg_trade_id", pa.int64(), nullable=False),
        pa.field("price", pa.decimal128(38, spec.price_precision), nullable=False),
        pa.field(quantity_column(spec.market), pa.decimal128(38, spec.size_precision), nullable=False),
        pa.field("first_trade_id", pa.int64(), nullable=False),
        pa.field("last_trade_id", pa.int64(), nullable=False),
        pa.field("ts_event", pa.timestamp("ns", tz="UTC"), nullable=False),
        pa.field("is_buyer_maker", pa.bool_(), nullable=False),
        pa.field("aggressor_side", pa.uint8(), nullable=False),
    ]
    if spec.market is Market.SPOT:
        fields.append(pa.field("is_best_match", pa.bool_(), nullable=False))
    return pa.schema(fields)


def pandera_agg_trades_schema(spec: SymbolSpec, day: dt.date) -> pa_pl.DataFrameSchema:
    """Value rules of a normalized aggTrades day (types are fixed by the Arrow schema)."""
    start, end = day_bounds_ns(day)
    columns = {
        "agg_trade_id": pa_pl.Column(pl.Int64, pa_pl.Check.ge(0)),
        **amount_rules(spec.price_precision, spec.size_precision, quantity_column(spec.market)),
        "first_trade_id": pa_pl.Column(pl.Int64, pa_pl.Check.ge(0)),
        "last_trade_id": pa_pl.Column(pl.Int64, pa_pl.Check.ge(0)),
        "ts_event": pa_pl.Column(
            pl.Datetime("ns", "UTC"),
            pa_pl.Check.in_range(
                dt.datetime.fromtimestamp(start / 1e9, dt.timezone.utc),
                dt.datetime.fromtimestamp((end + 1) / 1e9, dt.timezone.utc),
                include_max=False,
            ),
        ),
        "is_buyer_maker": pa_pl.Column(pl.Boolean),
        "aggressor_side": pa_pl.Column(pl.UInt8, pa_pl.Check.isin([BUYER, SELLER])),
    }
    if spec.market is Market.SPOT:
        columns["is_best_match"] = pa_pl.Column(pl.Boolean)
    trade_id_range = pa_pl.Check(
        lambda data: data.lazyframe.select(pl.col("first_trade_id") <= pl.col("last_trade_id")),
        name="first_trade_id_le_last_trade_id",
        error="first_trade_id <= last_trade_id",
    )
    return pa_pl.DataFrameSchema(columns, checks=[trade_id_range], strict=True,
                                 name=f"{spec.market.value} aggTrades {spec.symbol} {day}")


@dataclass
class AggTradesDaySummary:
    """What a normalized aggTrades day contains and what was excluded; reported as materialization metadata.

    ``source_rows == rows + placeholder_rows + zero_quantity_rows + duplicates_dropped``.
    """

    rows: int = 0
    source_rows: int = 0
    placeholder_rows: int = 0
    zero_quantity_rows: int = 0
    duplicates_dropped: int = 0
    resorted: bool = False
    first_agg_trade_id: int | None = None
    last_agg_trade_id: int | None = None
    first_trade_id: int | None = None
    last_trade_id: int | None = None
    trades_covered: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    time_unit: TimeUnit | None = None
    header: bool = False

    def observe(self, batch: pa.RecordBatch) -> None:
        ids = batch.column("agg_trade_id")
        first, last = batch.column("first_trade_id"), batch.column("last_trade_id")
        ts = batch.column("ts_event").cast(pa.int64())
        if self.first_agg_trade_id is None:
            self.first_agg_trade_id = ids[0].as_py()
            self.first_trade_id = first[0].as_py()
            self.first_ts_ns = ts[0].as_py()
        self.last_agg_trade_id = ids[-1].as_py()
        self.last_trade_id = last[-1].as_py()
        self.last_ts_ns = ts[-1].as_py()
        self.trades_covered += pc.sum(pc.subtract(last, first)).as_py() + batch.num_rows
        self.rows += batch.num_rows


@dataclass
class SourceLines:
    """Maps a kept row's position in the normalized stream back to its line in the file.

    Only the positions of excluded rows are kept (as arrays), so memory grows with exclusions, not rows.
    """

    first_line: int = 1
    _excluded: list[np.ndarray] = field(default_factory=list)

    def exclude(self, source_positions: np.ndarray) -> None:
        self._excluded.append(source_positions)

    def line_of(self, position: int) -> int:
        excluded = np.concatenate(self._excluded) if self._excluded else np.empty(0, np.int64)
        # the i-th excluded row precedes the kept row at ``position`` iff fewer than ``position`` + 1
        # kept rows come before it, i.e. excluded[i] - i <= position
        before = int(np.searchsorted(excluded - np.arange(len(excluded)), position, side="right"))
        return self.first_line + position + before


def _placeholder_rows(block: text_columns.TextBlock, price: pa.Array, quantity: pa.Array) -> pa.Array:
    return pc.and_(
        pc.and_(pc.equal(price, 0), pc.equal(quantity, 0)),
        pc.and_(pc.equal(block.column("first_trade_id"), PLACEHOLDER_TRADE_ID),
                pc.equal(block.column("last_trade_id"), PLACEHOLDER_TRADE_ID)),
    )


def _convert_block(block: text_columns.TextBlock, spec: SymbolSpec, unit: TimeUnit, bounds: tuple[int, int],
                   schema: pa.Schema, file: str) -> tuple[pa.RecordBatch, pa.Array]:
    """Every row of the block converted, and the mask of its placeholder rows."""
    market = spec.market
    true, false = ("True", "False") if market is Market.SPOT else ("true", "false")
    price = text_columns.parse_decimal(block, "price", spec.price_precision, file, "the instrument's price precision")
    quantity = text_columns.parse_decimal(block, "quantity", spec.size_precision, file,
                                         "the instrument's size precision")
    placeholder = _placeholder_rows(block, price, quantity)
    is_buyer_maker = archive_csv.parse_boolean(block, "is_buyer_maker", true, false, file)
    columns = {
        "agg_trade_id": text_columns.parse_integer(block, "agg_trade_id", file),
        "price": price,
        quantity_column(market): quantity,
        "first_trade_id": text_columns.parse_integer(block, "first_trade_id", file, placeholder),
        "last_trade_id": text_columns.parse_integer(block, "last_trade_id", file, placeholder),
        "ts_event": text_columns.parse_epoch_ns(block, "transact_time", unit, bounds, file).cast(
            pa.timestamp("ns", tz="UTC")),
        "is_buyer_maker": is_buyer_maker,
        # the buyer resting (maker) means the seller took liquidity
        "aggressor_side": pc.if_else(is_buyer_maker, pa.scalar(SELLER, pa.uint8()), pa.scalar(BUYER, pa.uint8())),
    }
    if market is Market.SPOT:
        columns["is_best_match"] = archive_csv.parse_boolean(block, "is_best_match", true, false, file)
    return pa.RecordBatch.from_arrays([columns[f.name] for f in schema], schema=schema), placeholder


def iter_normalized_agg_trades(zip_path: Path, archive_file: ArchiveFile, spec: SymbolSpec,
                               summary: AggTradesDaySummary, *, lines: SourceLines | None = None,
                               check_order: bool = True) -> Iterator[pa.RecordBatch]:
    """Stream a verified aggTrades zip as normalized batches, placeholder and zero-quantity rows excluded.

    With ``check_order`` the kept rows must already be in (ts_event, agg_trade_id) order without
    repeated ids; ``NotSorted`` is raised before the first batch that breaks it.
    """
    file = archive_file.file_name
    schema = normalized_agg_trades_schema(spec)
    quantity = quantity_column(spec.market)
    bounds = day_bounds_ns(archive_file.day)
    expected_unit = time_unit_for(spec.market, archive_file.day)
    in_order = OrderCheck("agg_trade_id")
    for block in prefetched(archive_csv.iter_text_blocks(zip_path, agg_trades_columns(spec.market))):
        if summary.time_unit is None:
            summary.header = block.first_line == 2
            summary.time_unit = archive_csv.detect_time_unit(block, "transact_time", file)
            archive_csv.check_time_unit(
                summary.time_unit, expected_unit, file,
                f"{spec.market.value} aggTrades dated {archive_file.day.isoformat()}",
            )
            if lines is not None:
                lines.first_line = block.first_line
        batch, placeholder = _convert_block(block, spec, summary.time_unit, bounds, schema, file)
        keep = pc.not_equal(batch.column(quantity), 0)
        kept = pc.sum(keep).as_py() or 0
        if kept < batch.num_rows:
            placeholders = pc.sum(placeholder).as_py() or 0
            summary.placeholder_rows += placeholders
            summary.zero_quantity_rows += batch.num_rows - kept - placeholders
            if lines is not None:
                lines.exclude(np.flatnonzero(~keep.to_numpy(zero_copy_only=False)) + summary.source_rows)
            summary.source_rows += batch.num_rows
            batch = batch.filter(keep)
        else:
            summary.source_rows += batch.num_rows
        if not batch.num_rows:
            continue
        if check_order:
            in_order(batch)
        yield batch


def write_normalized_agg_trades(zip_path: Path, archive_file: ArchiveFile, spec: SymbolSpec, out_path: Path,
                                *, sinks: Sequence[BatchSink] = ()) -> AggTradesDaySummary:
    """Normalize a verified aggTrades zip into ``out_path`` (parquet), streaming, validated with pandera.

    Every normalized batch also goes to each of ``sinks`` in the same pass (e.g. a staged
    ``TradeTick`` day file). Each output appears, atomically, only if the whole day is valid.
    """
    lines = SourceLines()
    return write_stream(
        lambda summary, check_order: iter_normalized_agg_trades(
            zip_path, archive_file, spec, summary, lines=lines if check_order else None, check_order=check_order),
        lambda resorted: AggTradesDaySummary(resorted=resorted),
        normalized_agg_trades_schema(spec), pandera_agg_trades_schema(spec, archive_file.day), out_path, sinks,
        file=archive_file.file_name, line_of=lambda summary: lines.line_of, id_column="agg_trade_id",
        what="aggregate trade",
    )


def trade_tick_input(batch: pa.RecordBatch, market: Market) -> pa.RecordBatch:
    """A normalized aggTrades batch as the canonical trades (trade id = aggregate id)."""
    return canonical_trades(batch, {"trade_id": "agg_trade_id", "qty": quantity_column(market)})
