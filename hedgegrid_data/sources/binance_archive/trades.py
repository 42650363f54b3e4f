"""Binance trades CSV → normalized trades table: exact decimals, ns timestamps, aggressor side, validated.

The normalized table is market-specific only in its notional column (``quote_qty`` on spot and
USD-M, ``base_qty`` on COIN-M, whose ``qty`` is in contracts) and in spot's ``is_best_match``.
A day streams through in blocks; a file that is not already sorted and free of duplicate ids is
loaded whole, de-duplicated and sorted (conflicting duplicates are an error).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.feeds.trade_stream import BatchSink, OrderCheck, write_stream
from hedgegrid_data.feeds.trades_day import TradesSummary
from hedgegrid_data.sources import text_columns
from hedgegrid_data.sources.binance_archive import archive_csv
from hedgegrid_data.sources.binance_archive.layout import (
    ArchiveFile,
    time_unit_for,
    trades_columns,
    trades_notional_column,
)
from hedgegrid_data.streaming import prefetched
from hedgegrid_data.tables.trades import BUYER, SELLER, amount_rules, trade_fields
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import SymbolSpec

NOTIONAL_SCALE = 12


def normalized_trades_schema(spec: SymbolSpec) -> pa.Schema:
    """The canonical trades columns with the archive's notional and flags, in the archive's column order."""
    canonical = trade_fields(spec.price_precision, spec.size_precision)
    fields = [
        canonical["trade_id"], canonical["price"], canonical["qty"],
        pa.field(trades_notional_column(spec.market), pa.decimal128(38, NOTIONAL_SCALE), nullable=False),
        canonical["ts_event"],
        pa.field("is_buyer_maker", pa.bool_(), nullable=False),
        canonical["aggressor_side"],
    ]
    if spec.market is Market.SPOT:
        fields.append(pa.field("is_best_match", pa.bool_(), nullable=False))
    return pa.schema(fields)


def pandera_trades_schema(spec: SymbolSpec, day: dt.date) -> pa_pl.DataFrameSchema:
    """Value rules of a normalized trades day that the parsers do not already guarantee.

    Types are fixed by the Arrow schema; ids are digits only (never negative), times are checked
    inside the day as they are parsed and the aggressor side is derived from a checked boolean, so
    validation adds the rules on amounts: a trade moves something at a price, for a notional ≥ 0.
    """
    columns = {
        "trade_id": pa_pl.Column(pl.Int64),
        **amount_rules(spec.price_precision, spec.size_precision),
        trades_notional_column(spec.market): pa_pl.Column(pl.Decimal(38, NOTIONAL_SCALE), pa_pl.Check.ge(0)),
        "ts_event": pa_pl.Column(pl.Datetime("ns", "UTC")),
        "is_buyer_maker": pa_pl.Column(pl.Boolean),
        "aggressor_side": pa_pl.Column(pl.UInt8),
    }
    if spec.market is Market.SPOT:
        columns["is_best_match"] = pa_pl.Column(pl.Boolean)
    return pa_pl.DataFrameSchema(columns, strict=True, name=f"{spec.market.value} trades {spec.symbol} {day}")


@dataclass
class TradesDaySummary(TradesSummary):
    """What a normalized trades day contains, and how its file was written; reported as materialization metadata."""

    time_unit: TimeUnit | None = None
    header: bool = False


def _convert_block(block: text_columns.TextBlock, spec: SymbolSpec, unit: TimeUnit, bounds: tuple[int, int],
                   schema: pa.Schema, file: str) -> pa.RecordBatch:
    market = spec.market
    true, false = ("True", "False") if market is Market.SPOT else ("true", "false")
    is_buyer_maker = archive_csv.parse_boolean(block, "is_buyer_maker", true, false, file)
    columns = {
        "trade_id": text_columns.parse_integer(block, "id", file),
        "price": text_columns.parse_decimal(block, "price", spec.price_precision, file, "the instrument's price precision"),
        "qty": text_columns.parse_decimal(block, "qty", spec.size_precision, file, "the instrument's size precision"),
        trades_notional_column(market): text_columns.parse_decimal(
            block, trades_notional_column(market), NOTIONAL_SCALE, file, "the notional scale"
        ),
        "ts_event": text_columns.parse_epoch_ns(block, "time", unit, bounds, file).cast(pa.timestamp("ns", tz="UTC")),
        "is_buyer_maker": is_buyer_maker,
        # the buyer resting (maker) means the seller took liquidity
        "aggressor_side": pc.if_else(is_buyer_maker, pa.scalar(SELLER, pa.uint8()), pa.scalar(BUYER, pa.uint8())),
    }
    if market is Market.SPOT:
        columns["is_best_match"] = archive_csv.parse_boolean(block, "is_best_match", true, false, file)
    return pa.RecordBatch.from_arrays([columns[f.name] for f in schema], schema=schema)


def iter_normalized_trades(zip_path: Path, archive_file: ArchiveFile, spec: SymbolSpec,
                           summary: TradesDaySummary, *, check_order: bool = True) -> Iterator[pa.RecordBatch]:
    """Stream a verified trades zip as normalized, validated batches.

    With ``check_order`` the stream must already be in (ts_event, trade_id) order without repeated
    ids; ``NotSorted`` is raised before the first batch that breaks it.
    """
    file = archive_file.file_name
    schema = normalized_trades_schema(spec)
    bounds = day_bounds_ns(archive_file.day)
    expected_unit = time_unit_for(spec.market, archive_file.day)
    in_order = OrderCheck("trade_id")
    for block in prefetched(archive_csv.iter_text_blocks(zip_path, trades_columns(spec.market))):
        if summary.time_unit is None:
            summary.header = block.first_line == 2
            summary.time_unit = archive_csv.detect_time_unit(block, "time", file)
            archive_csv.check_time_unit(
                summary.time_unit, expected_unit, file,
                f"{spec.market.value} trades dated {archive_file.day.isoformat()}",
            )
        batch = _convert_block(block, spec, summary.time_unit, bounds, schema, file)
        summary.source_rows += batch.num_rows
        if check_order:
            in_order(batch)
        yield batch


def write_normalized_trades(zip_path: Path, archive_file: ArchiveFile, spec: SymbolSpec, out_path: Path,
                            *, sinks: Sequence[BatchSink] = ()) -> TradesDaySummary:
    """Normalize a verified trades zip into ``out_path`` (parquet), streaming, validated with pandera.

    Every normalized batch also goes to each of ``sinks`` in the same pass (e.g. the catalog's
    staged day file). Each output appears, atomically, only if the whole day is valid.
    """
    return write_stream(
        lambda summary, check_order: iter_normalized_trades(zip_path, archive_file, spec, summary,
                                                            check_order=check_order),
        lambda resorted: TradesDaySummary(resorted=resorted),
        normalized_trades_schema(spec), pandera_trades_schema(spec, archive_file.day), out_path, sinks,
        file=archive_file.file_name, line_of=lambda summary: lambda row: row + (2 if summary.header else 1),
        id_column="trade_id", what="trade",
    )
