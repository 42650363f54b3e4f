"""The kline-like pipelines, step by step, as the assets run them.

klines (spot, USD-M, COIN-M):

1. ``normalize_klines_day``: every configured archive interval of the day → normalized table; bars
   for each published interval staged — from the archive's own file, or, for the higher timeframes,
   built from the 1m bars and, where the archive also has that interval, checked equal to it bar by
   bar. Everything is read and checked before anything is written.
2. ``publish_klines_day``: re-check the staged bars against the archive intervals, write the
   instrument, promote every staged bar day into the catalog.

mark, index and premium-index klines (USD-M, COIN-M): ``normalize_price_index_day`` writes the
normalized table (and, for mark prices, stages ``MarkPriceUpdate``s); ``publish_mark_prices_day``
promotes them. Index and premium-index klines stay tables (see ``catalog/mark_prices.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from nautilus_trader.model.data import Bar, MarkPriceUpdate
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.catalog.bars import bar_schema, bar_table, bar_type, read_bar_day, write_bar_day
from hedgegrid_data.catalog.day_files import day_file_path, promote_day
from hedgegrid_data.catalog.instruments import write_instrument
from hedgegrid_data.catalog.mark_prices import mark_price_schema, mark_price_table, write_mark_price_day
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.instruments import build_instrument
from hedgegrid_data.markets import ArchiveFile, Market, TimeUnit
from hedgegrid_data.normalization.klines import (
    BASE_INTERVAL,
    HIGHER_TIMEFRAMES,
    INTERVAL_SECONDS,
    PRICE_COLUMNS,
    PRICE_INDEX_TYPES,
    KlineDay,
    aggregate_klines,
    check_agreement,
    exact_precision,
    interval_ns,
    normalize_kline_file,
    volume_column,
)
from hedgegrid_data.quality.gate import refuse_blocked
from hedgegrid_data.store import DataStore
from hedgegrid_data.symbols import symbol_spec

DEFAULT_KLINE_INTERVALS = (BASE_INTERVAL,)


def archive_symbol(market: Market, data_type: str, symbol: str) -> str:
    """The archive folder of ``symbol``'s data: index klines are per pair (COIN-M ``BTCUSD`` for ``BTCUSD_PERP``)."""
    if data_type == "indexPriceKlines":
        if market is Market.SPOT:
            raise ValueError("spot has no index price klines")
        return symbol.split("_")[0]
    return symbol


def kline_archive_file(market: Market, data_type: str, symbol: str, day: dt.date, interval: str) -> ArchiveFile:
    return ArchiveFile(market, data_type, archive_symbol(market, data_type, symbol), day, interval=interval)


def normalized_kline_path(store: DataStore, archive_file: ArchiveFile) -> Path:
    """``normalized/binance/<market>/<type>_<interval>/<archive symbol>/<day>.parquet``."""
    return store.normalized_file(archive_file.market, f"{archive_file.data_type}_{archive_file.interval}",
                                 archive_file.symbol, archive_file.day)


@dataclass(frozen=True)
class BarPlan:
    """Which bars a klines configuration publishes, and where each interval's bars come from."""

    intervals: tuple[str, ...]
    timeframes: tuple[str, ...]

    def __post_init__(self) -> None:
        for interval in (*self.intervals, *self.timeframes):
            interval_ns(interval)
        if not self.intervals:
            raise ValueError("at least one archive interval is needed")
        if self.timeframes and BASE_INTERVAL not in self.intervals:
            raise ValueError(f"higher timeframes {self.timeframes} are built from 1m: add '1m' to the intervals "
                             "or pass no timeframes")
        small = [t for t in self.timeframes if INTERVAL_SECONDS[t] <= INTERVAL_SECONDS[BASE_INTERVAL]]
        if small:
            raise ValueError(f"{small} are not higher timeframes of 1m")

    @classmethod
    def of(cls, intervals: Sequence[str], timeframes: Sequence[str]) -> BarPlan:
        return cls(tuple(dict.fromkeys(intervals)), tuple(dict.fromkeys(timeframes)))

    @property
    def published(self) -> tuple[str, ...]:
        """Every interval published as bars, shortest first."""
        return tuple(sorted({*self.intervals, *self.timeframes}, key=INTERVAL_SECONDS.__getitem__))

    def built(self, interval: str) -> bool:
        return interval in self.timeframes

    @property
    def compared(self) -> tuple[str, ...]:
        """Intervals both built from 1m and downloaded: the two must agree."""
        return tuple(i for i in self.published if self.built(i) and i in self.intervals)


DEFAULT_PLAN = BarPlan.of(DEFAULT_KLINE_INTERVALS, HIGHER_TIMEFRAMES)


@dataclass(frozen=True)
class KlineFileSummary:
    """One normalized archive file; reported as materialization metadata."""

    archive_file: ArchiveFile
    path: Path
    rows: int
    missing_bars: int
    time_unit: TimeUnit
    header: bool
    first_open_ns: int
    last_close_ns: int

    @classmethod
    def of(cls, day: KlineDay, path: Path) -> KlineFileSummary:
        return cls(day.archive_file, path, day.rows, day.missing_bars, day.time_unit, day.header,
                   int(day.open_ns()[0]), int(day.close_ns()[-1]))


@dataclass(frozen=True)
class StagedBars:
    interval: str
    bar_type: str
    source: str
    rows: int
    size_precision: int
    path: Path


@dataclass(frozen=True)
class KlinesDay:
    files: list[KlineFileSummary]
    bars: list[StagedBars]
    instrument_size_precision: int


def _write_normalized(day: KlineDay, store: DataStore) -> Path:
    path = normalized_kline_path(store, day.archive_file)
    with atomic_path(path) as tmp:
        pq.write_table(day.table, tmp)
    return path


def normalize_klines_day(store: DataStore, market: Market, symbol: str, day: dt.date,
                         plan: BarPlan = DEFAULT_PLAN) -> KlinesDay:
    """Normalize the day's archive intervals and stage its bars; nothing is written unless every check passes."""
    spec = symbol_spec(market, symbol)
    instrument = build_instrument(spec)
    files = {}
    for interval in plan.intervals:
        archive_file = kline_archive_file(market, "klines", symbol, day, interval)
        files[interval] = normalize_kline_file(store.raw / archive_file.key, archive_file, spec)
    volume = volume_column(market)
    sources: dict[str, tuple[pa.Table, KlineDay, str]] = {}
    for interval in plan.published:
        if plan.built(interval):
            built = aggregate_klines(files[BASE_INTERVAL], interval)
            source = "built from 1m"
            if interval in files:
                check_agreement(built, files[interval])
                source = "built from 1m, equal to the archive's"
            sources[interval] = (built, files[BASE_INTERVAL], source)
        else:
            sources[interval] = (files[interval].table, files[interval], "archive")
    for kline_file in files.values():
        _require_size_precision(kline_file, volume, instrument)
    staged = []
    size_precision = spec.size_precision
    for interval, (klines, _, source) in sources.items():
        bars = bar_table(klines, bar_schema(bar_type(instrument.id, interval), spec.price_precision, size_precision),
                         volume)
        path = write_bar_day(store.staging, bars, day)
        staged.append(StagedBars(interval, str(bar_type(instrument.id, interval)), source, bars.num_rows,
                                 size_precision, path))
    summaries = [KlineFileSummary.of(f, _write_normalized(f, store)) for f in files.values()]
    return KlinesDay(summaries, staged, spec.size_precision)


def _require_size_precision(kline_file: KlineDay, volume: str, instrument: Instrument) -> None:
    """Bar volumes must fit the instrument's size precision (a backtest rejects any other): more is an error."""
    values = kline_file.table.column(volume).combine_chunks()
    precision = instrument.size_precision
    fits = pc.equal(pc.cast(pc.cast(values, pa.decimal128(38, precision), safe=False), values.type), values)
    if not pc.all(fits).as_py():
        index = pc.index(fits, False).as_py()
        raise ArchiveDataError(
            kline_file.archive_file.file_name,
            f"{volume} {values[index].as_py():f} on {kline_file.archive_file.day} has more decimals than "
            f"{instrument.id}'s size precision ({precision}); configure that era's step size to ingest it",
            line=kline_file.first_line + index,
        )


def _normalized_table(store: DataStore, archive_file: ArchiveFile) -> pa.Table:
    return pq.read_table(normalized_kline_path(store, archive_file))


def _bar_difference(staged: pa.Table, archive: pa.Table, volume: str) -> int | None:
    """Row of the first staged bar differing from the archive's normalized interval table, or None."""
    if staged.num_rows != archive.num_rows:
        return min(staged.num_rows, archive.num_rows)
    same = pc.equal(staged.column("ts_event").cast(pa.int64()), archive.column("close_time").cast(pa.int64()))
    for column, source in zip(("open", "high", "low", "close", "volume"), (*PRICE_COLUMNS, volume)):
        expected = pc.cast(archive.column(source), staged.column(column).type)
        same = pc.and_(same, pc.equal(staged.column(column), expected))
    return None if pc.all(same).as_py() else pc.index(same, False).as_py()


@dataclass(frozen=True)
class PublishedDay:
    """One day file promoted into the catalog; ``rows_in`` counts what it was made from."""

    path: Path
    instrument_id: str
    rows_in: int
    rows_out: int
    bytes: int


@dataclass(frozen=True)
class PublishedBars:
    instrument_id: str
    days: dict[str, PublishedDay]
    compared: dict[str, int]


def publish_klines_day(store: DataStore, market: Market, symbol: str, day: dt.date,
                       plan: BarPlan = DEFAULT_PLAN) -> PublishedBars:
    """Verify the staged bars against their sources, then promote them; ``rows_in`` counts what they come from."""
    refuse_blocked(store, market, symbol, day, "klines", f"{symbol} {market.value} bars of {day}")
    spec = symbol_spec(market, symbol)
    instrument = build_instrument(spec)
    volume = volume_column(market)
    minutes = None
    if plan.timeframes:
        minutes = _normalized_table(store, kline_archive_file(market, "klines", symbol, day, BASE_INTERVAL))
    rows_in, compared = {}, {}
    for interval in plan.published:
        staged = day_file_path(store.staging, Bar, str(bar_type(instrument.id, interval)), day)
        if plan.built(interval):
            assert minutes is not None
            opens = minutes.column("open_time").cast(pa.int64())
            rows_in[interval] = len(pc.unique(pc.divide(opens, interval_ns(interval))))
        if interval in plan.intervals:
            archive_file = kline_archive_file(market, "klines", symbol, day, interval)
            archive = _normalized_table(store, archive_file)
            rows_in.setdefault(interval, archive.num_rows)
            if plan.built(interval) and staged.exists():
                row = _bar_difference(read_bar_day(staged), archive, volume)
                if row is not None:
                    raise ArchiveDataError(archive_file.file_name, f"staged {interval} bar {row} differs from the "
                                           "archive's; re-materialize the normalized klines")
                compared[interval] = archive.num_rows
    write_instrument(store.catalog, instrument)
    days = {interval: _promote(store, Bar, str(bar_type(instrument.id, interval)), day, rows_in[interval],
                               instrument)
            for interval in plan.published}
    return PublishedBars(instrument.id.value, days, compared)


def _promote(store: DataStore, data_cls: type, identifier: str, day: dt.date, rows_in: int,
             instrument: Instrument) -> PublishedDay:
    path = promote_day(store.staging, store.catalog, data_cls, identifier, day)
    return PublishedDay(path=path, instrument_id=instrument.id.value, rows_in=rows_in,
                        rows_out=pq.ParquetFile(path).metadata.num_rows, bytes=path.stat().st_size)


@dataclass(frozen=True)
class PriceIndexDay:
    file: KlineFileSummary
    value_precision: int | None
    staged: Path | None


def normalize_price_index_day(store: DataStore, market: Market, data_type: str, symbol: str, day: dt.date,
                              interval: str = BASE_INTERVAL) -> PriceIndexDay:
    """Normalize one day of mark, index or premium-index klines; mark prices also stage ``MarkPriceUpdate``s."""
    if data_type not in PRICE_INDEX_TYPES:
        raise ValueError(f"{data_type} is not mark, index or premium-index klines")
    spec = symbol_spec(market, symbol)
    archive_file = kline_archive_file(market, data_type, symbol, day, interval)
    normalized = normalize_kline_file(store.raw / archive_file.key, archive_file, spec)
    precision = staged = None
    if data_type == "markPriceKlines":
        instrument = build_instrument(spec)
        precision = exact_precision(normalized.table.column("close"), spec.price_precision)
        updates = mark_price_table(normalized.table, mark_price_schema(instrument.id, precision))
        staged = write_mark_price_day(store.staging, updates, day)
    return PriceIndexDay(KlineFileSummary.of(normalized, _write_normalized(normalized, store)), precision, staged)


def publish_mark_prices_day(store: DataStore, market: Market, symbol: str, day: dt.date,
                            interval: str = BASE_INTERVAL) -> PublishedDay:
    """Promote the staged ``MarkPriceUpdate`` day; ``rows_in`` counts the normalized mark klines."""
    instrument = build_instrument(symbol_spec(market, symbol))
    normalized = normalized_kline_path(store, kline_archive_file(market, "markPriceKlines", symbol, day, interval))
    write_instrument(store.catalog, instrument)
    return _promote(store, MarkPriceUpdate, instrument.id.value, day, pq.ParquetFile(normalized).metadata.num_rows,
                    instrument)
