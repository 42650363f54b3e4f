"""Binance kline-like CSVs → normalized tables: exact decimals, ns times, every value parsed; 1m → higher timeframes.

Covers the four kline-like types. ``klines`` keep all 12 archive columns, named for what they hold:
COIN-M volumes are contracts and its "quote volume" column holds base-asset volume, so there they
are ``volume_contracts``/``base_volume``. ``markPriceKlines``, ``indexPriceKlines`` and
``premiumIndexKlines`` carry no volumes (the archive writes 0, which is checked: a non-zero
volume means a ``klines`` file under the wrong type folder) and their count is the number of
source points, so their table is ``open_time, open, high, low, close, close_time, source_points``.

A day of klines is at most 86,400 rows (1s), so a file is read whole. Kline prices are exact at the
instrument's price precision (more decimals is an error naming file and line); volumes and the
price-index values, whose decimals the instrument does not bound, are kept exact at ``EXACT_SCALE``.

What cannot be read fails closed, naming file and line: malformed text, a wrong time unit, times
outside the day, an open time off the interval grid. A bar that reads fine but breaks an OHLCV rule
(high below close, open times not increasing, ...) is data, judged by ``quality.bars.ohlcv_rules``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandera.polars as pa_pl
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns, utc_text
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources import text_columns
from hedgegrid_data.sources.binance_archive import archive_csv
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile, time_unit_for
from hedgegrid_data.tables.bars import INTERVAL_SECONDS, PRICE_COLUMNS, interval_ns
from hedgegrid_data.tables.validation import validate_rows
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import SymbolSpec

ARCHIVE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
                   "taker_buy_volume", "taker_buy_quote_volume", "ignore")
EXACT_SCALE = 12
PRICE_INDEX_TYPES = ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines")
PRICE_INDEX_COLUMNS = ("open_time", *PRICE_COLUMNS, "close_time", "source_points")

BASE_INTERVAL = "1m"
HIGHER_TIMEFRAMES = ("5m", "15m", "1h", "4h", "1d")


def kline_columns(market: Market) -> tuple[str, ...]:
    """Normalized ``klines`` column names in file order."""
    if market is Market.COINM:
        return ("open_time", *PRICE_COLUMNS, "volume_contracts", "close_time", "base_volume", "count",
                "taker_buy_volume_contracts", "taker_buy_base_volume", "ignore")
    return ARCHIVE_COLUMNS


def volume_column(market: Market) -> str:
    """The normalized column that is a Nautilus bar's volume (COIN-M: contracts, like its trade sizes)."""
    return kline_columns(market)[5]


def taker_buy_column(market: Market) -> str:
    """The normalized taker-buy share of ``volume_column`` (same unit)."""
    return kline_columns(market)[9]


def normalized_schema(data_type: str, spec: SymbolSpec) -> pa.Schema:
    ts = pa.timestamp("ns", tz="UTC")
    exact = pa.decimal128(38, EXACT_SCALE)
    if data_type in PRICE_INDEX_TYPES:
        types = [ts, exact, exact, exact, exact, ts, pa.int64()]
        return pa.schema([pa.field(n, t, nullable=False) for n, t in zip(PRICE_INDEX_COLUMNS, types)])
    if data_type != "klines":
        raise ValueError(f"{data_type} is not a kline-like type")
    price = pa.decimal128(38, spec.price_precision)
    types = [ts, price, price, price, price, exact, ts, exact, pa.int64(), exact, exact, pa.int64()]
    return pa.schema([pa.field(n, t, nullable=False) for n, t in zip(kline_columns(spec.market), types)])


def _polars_type(arrow_type: pa.DataType) -> pl.DataType:
    if pa.types.is_decimal(arrow_type):
        return pl.Decimal(arrow_type.precision, arrow_type.scale)
    if pa.types.is_timestamp(arrow_type):
        return pl.Datetime("ns", "UTC")
    return pl.Int64()


def pandera_schema(data_type: str, spec: SymbolSpec, day: dt.date) -> pa_pl.DataFrameSchema:
    """Value rules of a normalized kline-like day; types are fixed by the Arrow schema.

    The OHLCV rules (price order, volume ≥ 0, taker-buy ≤ volume, times) are not here: they are the
    ``ohlcv_rules`` verdict, which keeps a violating day out of the catalog without failing the read.
    """
    start, end = day_bounds_ns(day)
    in_day = pa_pl.Check.in_range(dt.datetime.fromtimestamp(start / 1e9, dt.timezone.utc),
                                  dt.datetime.fromtimestamp((end + 1) / 1e9, dt.timezone.utc), include_max=False)
    columns = {}
    for field in normalized_schema(data_type, spec):
        if field.name in ("open_time", "close_time"):
            checks = [in_day]
        elif field.name in PRICE_COLUMNS:
            checks = [] if data_type == "premiumIndexKlines" else [pa_pl.Check.gt(0)]
        elif field.name in ("ignore", volume_column(spec.market)):
            checks = []
        else:
            checks = [pa_pl.Check.ge(0)]
        columns[field.name] = pa_pl.Column(_polars_type(field.type), checks)
    return pa_pl.DataFrameSchema(columns, strict=True, name=f"{spec.market.value} {data_type} {spec.symbol} {day}")


@dataclass(frozen=True)
class KlineDay:
    """One verified kline-like archive file, normalized; ``first_line`` is the file line of its first bar."""

    archive_file: ArchiveFile
    table: pa.Table
    time_unit: TimeUnit
    first_line: int

    @property
    def header(self) -> bool:
        return self.first_line == 2

    @property
    def rows(self) -> int:
        return self.table.num_rows

    @property
    def interval(self) -> str:
        assert self.archive_file.interval is not None
        return self.archive_file.interval

    @property
    def missing_bars(self) -> int:
        """Bars the day should have but the file lacks (the archive misses some during maintenance)."""
        return 86_400 // INTERVAL_SECONDS[self.interval] - self.rows

    def open_ns(self) -> np.ndarray:
        return self.table.column("open_time").cast(pa.int64()).to_numpy()

    def close_ns(self) -> np.ndarray:
        return self.table.column("close_time").cast(pa.int64()).to_numpy()


def _whole_file(zip_path: Path, file: str) -> text_columns.TextBlock:
    blocks = list(archive_csv.iter_text_blocks(zip_path, ARCHIVE_COLUMNS))
    if not blocks:
        raise ArchiveDataError(file, "no klines in the file")
    table = pa.Table.from_batches([b.batch for b in blocks]).combine_chunks()
    return text_columns.TextBlock(table.to_batches(max_chunksize=table.num_rows)[0], blocks[0].first_line)


def _fail_at(text: text_columns.TextBlock, file: str, rows: np.ndarray, column: str, message: str) -> None:
    if len(rows):
        row = int(rows[0])
        value = text.text(column, row)
        raise ArchiveDataError(file, f"{column} {value!r} {message}", line=text.first_line + row)


def _check_grid(text: text_columns.TextBlock, open_ns: pa.Array, interval: str, day_start: int, file: str) -> None:
    """Every open time is on the interval's grid of the day (a bar elsewhere cannot be placed)."""
    _fail_at(text, file, np.flatnonzero((open_ns.to_numpy() - day_start) % interval_ns(interval)), "open_time",
             f"is not on a {interval} boundary")


def _exact(text: text_columns.TextBlock, column: str, file: str) -> pa.Array:
    return text_columns.parse_decimal(text, column, EXACT_SCALE, file, "the exact scale")


def _validate(table: pa.Table, rules: pa_pl.DataFrameSchema, file: str, first_line: int) -> None:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    opens = table.column("open_time").cast(pa.int64())
    validate_rows(rules, frame, file,
                              lambda row: (f"the bar opening {utc_text(opens[row].as_py())}", first_line + row))


def normalize_kline_file(zip_path: Path, archive_file: ArchiveFile, spec: SymbolSpec) -> KlineDay:
    """Read a verified kline-like zip whole into its normalized, validated table."""
    file, day, data_type = archive_file.file_name, archive_file.day, archive_file.data_type
    assert archive_file.interval is not None and not archive_file.monthly
    text = _whole_file(zip_path, file)
    unit = archive_csv.detect_time_unit(text, "open_time", file)
    archive_csv.check_time_unit(unit, time_unit_for(spec.market, day), file,
                                f"{spec.market.value} {data_type} dated {day.isoformat()}")
    bounds = day_bounds_ns(day)
    open_ns = text_columns.parse_epoch_ns(text, "open_time", unit, bounds, file)
    close_ns = text_columns.parse_epoch_ns(text, "close_time", unit, bounds, file)
    _check_grid(text, open_ns, archive_file.interval, bounds[0], file)
    times = {"open_time": open_ns.cast(pa.timestamp("ns", tz="UTC")),
             "close_time": close_ns.cast(pa.timestamp("ns", tz="UTC"))}
    schema = normalized_schema(data_type, spec)
    if data_type == "klines":
        values = {c: text_columns.parse_decimal(text, c, spec.price_precision, file, "the instrument's price precision")
                  for c in PRICE_COLUMNS}
        for column in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"):
            values[column] = _exact(text, column, file)
        for column in ("count", "ignore"):
            values[column] = text_columns.parse_integer(text, column, file)
        arrays = [{**values, **times}[c] for c in ARCHIVE_COLUMNS]  # archive order = normalized order, renamed
    else:
        for column in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"):
            _fail_at(text, file, np.flatnonzero(pc.not_equal(_exact(text, column, file), 0).to_numpy(False)), column,
                     f"is not 0: {data_type} carry no volumes (is this a klines file?)")
        values = {c: _exact(text, c, file) for c in PRICE_COLUMNS}
        arrays = [times["open_time"], *values.values(), times["close_time"],
                  text_columns.parse_integer(text, "count", file)]
    table = pa.Table.from_arrays(arrays, schema=schema)
    _validate(table, pandera_schema(data_type, spec, day), file, text.first_line)
    return KlineDay(archive_file, table, unit, text.first_line)


def aggregate_klines(minutes: KlineDay, interval: str) -> pa.Table:
    """``klines`` of ``interval`` built from a day of finer klines (1m, or the finest interval downloaded) with
    exact arithmetic.

    A bucket is every finer bar whose open time falls in it: first open, highest high, lowest low,
    last close, and sums of the volumes and counts. Its close time is ``open + interval − 1`` in
    the file's time unit, as the archive writes it.
    """
    if minutes.archive_file.data_type != "klines":
        raise ValueError(f"higher timeframes are built from klines, not {minutes.archive_file.file_name}")
    step, base = interval_ns(interval), interval_ns(minutes.interval)
    if step <= base or step % base:
        raise ValueError(f"{interval} is not a higher timeframe of {minutes.interval}")
    names = kline_columns(minutes.archive_file.market)
    frame = pl.from_arrow(minutes.table)
    assert isinstance(frame, pl.DataFrame)
    built = (
        frame.group_by((pl.col("open_time").cast(pl.Int64) // step * step).alias("bucket"), maintain_order=True)
        .agg(
            pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
            *(pl.col(c).sum() for c in (names[5], names[7], names[8], names[9], names[10])),
        )
        .with_columns(
            pl.col("bucket").cast(pl.Datetime("ns", "UTC")).alias("open_time"),
            (pl.col("bucket") + step - minutes.time_unit.nanos).cast(pl.Datetime("ns", "UTC")).alias("close_time"),
            pl.lit(0, dtype=pl.Int64).alias("ignore"),
        )
        .select(names)
    )
    schema = minutes.table.schema
    return pa.Table.from_arrays([built[c].to_arrow().cast(schema.field(c).type) for c in names], schema=schema)


def bar_count(minutes: KlineDay, interval: str) -> int:
    """How many ``interval`` bars the 1m day makes."""
    return len(np.unique(minutes.open_ns() // interval_ns(interval)))


def first_difference(built: pa.Table, archive: KlineDay, built_from: str = BASE_INTERVAL
                     ) -> tuple[str, int | None] | None:
    """The first bar (by open time) where ``built`` and the archive's own interval file disagree.

    Compares what a Nautilus bar holds: open and close time, open, high, low, close and volume.
    Returns (description, line in the archive file or None), or None when they agree exactly.
    """
    interval = archive.interval
    volume = volume_column(archive.archive_file.market)
    fields = ("close_time", *PRICE_COLUMNS, volume)

    def rows(table: pa.Table) -> dict[int, dict]:
        opens = table.column("open_time").cast(pa.int64()).to_pylist()
        values = table.select(list(fields)).set_column(0, "close_time", table.column("close_time").cast(pa.int64()))
        return dict(zip(opens, values.to_pylist()))

    ours, theirs = rows(built), rows(archive.table)
    line_of = {open_ns: archive.first_line + i for i, open_ns in enumerate(theirs)}
    for open_ns in sorted(ours.keys() | theirs.keys()):
        where = f"the {interval} bar opening {utc_text(open_ns)}"
        if open_ns not in theirs:
            return f"{where} is built from the {built_from} bars but missing from the archive's {interval} file", None
        if open_ns not in ours:
            return (f"{where} is in the archive's {interval} file but the {built_from} bars make none",
                    line_of[open_ns])
        for field in fields:
            if ours[open_ns][field] != theirs[open_ns][field]:
                return (f"{where} differs: {field} built from {built_from} is {ours[open_ns][field]} but the archive's "
                        f"{interval} file has {theirs[open_ns][field]}", line_of[open_ns])
    return None


def check_agreement(built: pa.Table, archive: KlineDay, built_from: str = BASE_INTERVAL) -> int:
    """Raise naming the first differing bar unless ``built`` (from ``built_from`` bars) equals the archive's
    interval file; returns the count."""
    difference = first_difference(built, archive, built_from)
    if difference is not None:
        raise ArchiveDataError(archive.archive_file.file_name, difference[0], line=difference[1])
    return built.num_rows
