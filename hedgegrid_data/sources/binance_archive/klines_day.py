"""The day steps of the archive's kline-like feeds.

klines (spot, USD-M, COIN-M), ``ArchiveKlinesDay``: every configured archive interval of the day becomes a
normalized table, judged (``ohlcv_rules`` of every file, ``bar_gaps`` of the base interval, the finest
downloaded: 1m by default); bars of each published interval are staged — from the archive's own file, or, for
the higher timeframes, built from the base interval's bars and, where the archive also has that interval,
checked equal to it bar by bar. Everything is read and checked before anything is written. Before promotion
the staged bars are checked again against the archive intervals (``bars_agree_with_archive``).

mark, index and premium-index klines (USD-M, COIN-M), ``ArchivePriceIndexDay``: the normalized table and its
verdicts; mark prices also stage ``MarkPriceUpdate``s. Index and premium-index klines stay tables (see
``catalog/mark_prices.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from nautilus_trader.model.data import Bar, MarkPriceUpdate
from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.catalog.bars import (
    bar_schema,
    bar_table,
    bar_type,
    read_bar_day,
    write_bar_day,
)
from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.catalog.integrity import edge_rows
from hedgegrid_data.catalog.mark_prices import (
    exact_precision,
    mark_price_table,
    mark_price_tuple,
    mark_price_update_schema,
    write_mark_price_day,
)
from hedgegrid_data.epochs import TimeUnit, utc_text
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.feeds.feed import (
    CatalogSeries,
    Feed,
    PublicationPlan,
    StagedDay,
    StagedSeries,
)
from hedgegrid_data.quality.bars import bar_gaps, ohlcv_rules, ohlcv_rules_of_files
from hedgegrid_data.quality.findings import Verdict, blocking
from hedgegrid_data.sources.binance_archive.klines import (
    BASE_INTERVAL,
    HIGHER_TIMEFRAMES,
    PRICE_INDEX_TYPES,
    KlineDay,
    aggregate_klines,
    check_agreement,
    normalize_kline_file,
    taker_buy_column,
    volume_column,
)
from hedgegrid_data.sources.binance_archive.layout import (
    SOURCE,
    ArchiveFile,
    time_unit_for,
)
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.bars import INTERVAL_SECONDS, PRICE_COLUMNS, interval_ns
from hedgegrid_data.venues.binance import Market, build_instrument, instrument_id
from hedgegrid_data.venues.symbols import SymbolSpec, symbol_spec

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
    return store.normalized_file(SOURCE, archive_file.market.value,
                                 f"{archive_file.data_type}_{archive_file.interval}", archive_file.symbol,
                                 archive_file.day)


@dataclass(frozen=True)
class BarPlan:
    """Which bars a klines configuration publishes, and where each interval's bars come from.

    ``intervals`` are downloaded from the archive (``HEDGEGRID_KLINE_INTERVALS``); ``timeframes`` are built from
    the finest of them (``base``: 1m by default) and must be coarser multiples of it.
    """

    intervals: tuple[str, ...]
    timeframes: tuple[str, ...]

    def __post_init__(self) -> None:
        for interval in (*self.intervals, *self.timeframes):
            interval_ns(interval)
        if not self.intervals:
            raise ValueError("at least one archive interval is needed (HEDGEGRID_KLINE_INTERVALS)")
        unbuildable = [t for t in self.timeframes if not buildable_from(self.base, t)]
        if unbuildable:
            raise ValueError(f"{unbuildable} cannot be built from {self.base} bars, the finest interval downloaded: "
                             f"higher timeframes must be coarser multiples of it (add a finer interval such as 1m "
                             f"to HEDGEGRID_KLINE_INTERVALS)")

    @classmethod
    def of(cls, intervals: Sequence[str], timeframes: Sequence[str]) -> BarPlan:
        return cls(tuple(dict.fromkeys(intervals)), tuple(dict.fromkeys(timeframes)))

    @classmethod
    def buildable(cls, intervals: Sequence[str], timeframes: Sequence[str] = HIGHER_TIMEFRAMES) -> BarPlan:
        """The plan building those of ``timeframes`` that the finest of ``intervals`` makes (1h: 4h and 1d)."""
        base = min(intervals, key=interval_ns, default=BASE_INTERVAL)
        return cls.of(intervals, [t for t in timeframes if buildable_from(base, t)])

    @property
    def base(self) -> str:
        """The finest downloaded interval: higher timeframes are built from it, ``bar_gaps`` counts its bars."""
        return min(self.intervals, key=interval_ns)

    @property
    def published(self) -> tuple[str, ...]:
        """Every interval published as bars, shortest first."""
        return tuple(sorted({*self.intervals, *self.timeframes}, key=INTERVAL_SECONDS.__getitem__))

    def built(self, interval: str) -> bool:
        return interval in self.timeframes

    @property
    def compared(self) -> tuple[str, ...]:
        """Intervals both built from the base and downloaded: the two must agree."""
        return tuple(i for i in self.published if self.built(i) and i in self.intervals)


def buildable_from(base: str, timeframe: str) -> bool:
    """Whether ``timeframe`` bars are whole groups of ``base`` bars (coarser, and a multiple of it)."""
    step, unit = interval_ns(timeframe), interval_ns(base)
    return step > unit and step % unit == 0


DEFAULT_PLAN = BarPlan.buildable(DEFAULT_KLINE_INTERVALS)


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


def _write_normalized(day: KlineDay, store: DataStore) -> Path:
    path = normalized_kline_path(store, day.archive_file)
    with atomic_path(path) as tmp:
        pq.write_table(day.table, tmp)
    return path


def kline_day_verdicts(files: Sequence[KlineDay]) -> list[Verdict]:
    """``ohlcv_rules`` of every file of the day (one verdict) and ``bar_gaps`` of the first (the base interval)."""
    base = files[0]
    market = base.archive_file.market
    volumes = (volume_column(market), taker_buy_column(market)) if base.archive_file.data_type == "klines" else (
        None, None)
    rules = ohlcv_rules_of_files([ohlcv_rules(f.table, f.interval, f.time_unit, *volumes, f.first_line)
                                  for f in files])
    open_times = pl.from_arrow(base.table.column("open_time"))
    assert isinstance(open_times, pl.Series)
    return [rules, bar_gaps(open_times, interval_ns(base.interval), base.archive_file.day)]


def _stage_bars(staging: Path, files: dict[str, KlineDay], plan: BarPlan, spec: SymbolSpec,
                instrument: Instrument, day: dt.date) -> list[StagedBars]:
    """Bars of every published interval, from the archive's file or built from the base interval (and then
    checked equal)."""
    sources: dict[str, tuple[pa.Table, str]] = {}
    for interval in plan.published:
        if plan.built(interval):
            built = aggregate_klines(files[plan.base], interval)
            source = f"built from {plan.base}"
            if interval in files:
                check_agreement(built, files[interval], plan.base)
                source = f"built from {plan.base}, equal to the archive's"
            sources[interval] = (built, source)
        else:
            sources[interval] = (files[interval].table, "archive")
    staged = []
    volume = volume_column(spec.market)
    for interval, (klines, source) in sources.items():
        bars = bar_table(klines, bar_schema(bar_type(instrument.id, interval), spec.price_precision,
                                            spec.size_precision), volume)
        path = write_bar_day(staging, bars, day)
        staged.append(StagedBars(interval, str(bar_type(instrument.id, interval)), source, bars.num_rows,
                                 spec.size_precision, path))
    return staged


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
            f"{instrument.id}'s size precision ({precision}); set size_decimals for {kline_file.archive_file.symbol} "
            f"in the symbols file (HEDGEGRID_SYMBOLS_FILE) to the most decimals of any era",
            line=kline_file.first_line + index,
        )


def _normalized_day(store: DataStore, archive_file: ArchiveFile) -> KlineDay:
    """A normalized day read back; its time unit is the one normalization enforced (file lines are not kept)."""
    table = pq.read_table(normalized_kline_path(store, archive_file))
    return KlineDay(archive_file, table, time_unit_for(archive_file.market, archive_file.day), first_line=0)


def _bar_difference(staged: pa.Table, archive: pa.Table, volume: str) -> int | None:
    """Row of the first staged bar differing from the archive's normalized interval table, or None."""
    if staged.num_rows != archive.num_rows:
        return min(staged.num_rows, archive.num_rows)
    same = pc.equal(staged.column("ts_event").cast(pa.int64()), archive.column("close_time").cast(pa.int64()))
    for column, source in zip(("open", "high", "low", "close", "volume"), (*PRICE_COLUMNS, volume)):
        expected = pc.cast(archive.column(source), staged.column(column).type)
        same = pc.and_(same, pc.equal(staged.column(column), expected))
    return None if pc.all(same).as_py() else pc.index(same, False).as_py()


def bar_tuple(bar: Bar) -> tuple:
    return str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume), bar.ts_event, bar.ts_init


def _expected_bar_edges(klines: pa.Table, volume: str, spec: SymbolSpec) -> tuple[tuple, tuple]:
    """The first and last bars ``klines`` make, in ``bar_tuple`` form."""
    price, size = pa.decimal128(38, spec.price_precision), pa.decimal128(38, spec.size_precision)
    values = {**{c: pc.cast(klines.column(c), price) for c in PRICE_COLUMNS},
              "volume": pc.cast(klines.column(volume), size), "ts": klines.column("close_time")}
    first, last = edge_rows(pa.table(values))

    def as_bar(row: dict) -> tuple:
        return *(f"{row[c]:f}" for c in (*PRICE_COLUMNS, "volume")), row["ts"], row["ts"]

    return as_bar(first), as_bar(last)


def _file_metadata(summary: KlineFileSummary) -> dict[str, object]:
    tag = summary.archive_file.interval
    return {
        f"{tag}_rows": summary.rows, f"{tag}_missing_bars": summary.missing_bars,
        f"{tag}_first_open_time": utc_text(summary.first_open_ns),
        f"{tag}_last_close_time": utc_text(summary.last_close_ns),
        f"{tag}_time_unit": summary.time_unit.value, f"{tag}_header": summary.header,
        f"{tag}_path": summary.path,
    }


@dataclass(frozen=True)
class ArchiveKlinesDay:
    """``DaySteps`` of a klines feed: ``plan`` says which intervals are downloaded and which bars published."""

    market: Market
    bars: BarPlan = DEFAULT_PLAN

    def series(self, symbol: str) -> list[CatalogSeries]:
        identifier = instrument_id(self.market, symbol)
        return [CatalogSeries(Bar, str(bar_type(identifier, interval))) for interval in self.bars.published]

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return [normalized_kline_path(store, kline_archive_file(self.market, "klines", symbol, day, interval))
                for interval in self.bars.intervals]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        """Nothing is written unless every file reads; a day breaking the OHLCV rules is written as normalized
        tables and verdicts only (the recipe withdraws its bar days)."""
        market, plan = self.market, self.bars
        spec = symbol_spec(market, symbol)
        instrument = build_instrument(spec)
        files = {}
        for interval in plan.intervals:
            archive_file = kline_archive_file(market, "klines", symbol, day, interval)
            files[interval] = normalize_kline_file(store.raw / archive_file.key, archive_file, spec)
        volume = volume_column(market)
        for kline_file in files.values():
            _require_size_precision(kline_file, volume, instrument)
        verdicts = kline_day_verdicts([files[plan.base], *(f for i, f in files.items() if i != plan.base)])
        staged = [] if blocking(verdicts) else _stage_bars(feed.staging(store), files, plan, spec, instrument, day)
        summaries = [KlineFileSummary.of(f, _write_normalized(f, store)) for f in files.values()]
        metadata: dict[str, object] = {"instrument_size_precision": spec.size_precision}
        for summary in summaries:
            metadata |= _file_metadata(summary)
        for bars in staged:
            metadata |= {f"{bars.interval}_bars": bars.rows, f"{bars.interval}_bars_source": bars.source,
                         f"{bars.interval}_volume_precision": bars.size_precision}
        return StagedDay(verdicts, metadata,
                         {f"{s.archive_file.interval}_rows_validated": s.rows for s in summaries})

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        """Every published interval's staged bars read back as what they come from, and bars built from the base
        still equal the archive's own interval (``bars_agree_with_archive``)."""
        market, plan = self.market, self.bars
        spec = symbol_spec(market, symbol)
        instrument = build_instrument(spec)
        volume = volume_column(market)
        staging = feed.staging(store)
        minutes = None
        if plan.timeframes:
            minutes = _normalized_day(store, kline_archive_file(market, "klines", symbol, day, plan.base))
        sources, compared = {}, {}
        for interval in plan.published:
            staged = day_file_path(staging, Bar, str(bar_type(instrument.id, interval)), day)
            if plan.built(interval):
                assert minutes is not None
                sources[interval] = aggregate_klines(minutes, interval)
            if interval in plan.intervals:
                archive_file = kline_archive_file(market, "klines", symbol, day, interval)
                archive = _normalized_day(store, archive_file).table
                sources.setdefault(interval, archive)
                if plan.built(interval) and staged.exists():
                    row = _bar_difference(read_bar_day(staged), archive, volume)
                    if row is not None:
                        raise ArchiveDataError(archive_file.file_name, f"staged {interval} bar {row} differs from "
                                               "the archive's; re-materialize the normalized klines")
                    compared[interval] = archive.num_rows
        series = [StagedSeries(CatalogSeries(Bar, str(bar_type(instrument.id, interval))), klines.num_rows,
                               *_expected_bar_edges(klines, volume, spec), bar_tuple, label=interval)
                  for interval, klines in sources.items()]
        agreement = {"intervals_compared": ", ".join(compared) or "none downloaded",
                     **{f"{i}_bars_compared": n for i, n in compared.items()}}
        return PublicationPlan(instrument, series, {"bars_agree_with_archive": (True, agreement)})


@dataclass(frozen=True)
class ArchivePriceIndexDay:
    """``DaySteps`` of a mark, index or premium-index klines feed; only mark prices reach the catalog."""

    market: Market
    data_type: str
    interval: str = BASE_INTERVAL

    def __post_init__(self) -> None:
        if self.data_type not in PRICE_INDEX_TYPES:
            raise ValueError(f"{self.data_type} is not mark, index or premium-index klines")

    @property
    def marks(self) -> bool:
        return self.data_type == "markPriceKlines"

    def series(self, symbol: str) -> list[CatalogSeries]:
        return [CatalogSeries(MarkPriceUpdate, instrument_id(self.market, symbol).value)] if self.marks else []

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        return [normalized_kline_path(store, kline_archive_file(self.market, self.data_type, symbol, day,
                                                                self.interval))]

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        spec = symbol_spec(self.market, symbol)
        archive_file = kline_archive_file(self.market, self.data_type, symbol, day, self.interval)
        normalized = normalize_kline_file(store.raw / archive_file.key, archive_file, spec)
        verdicts = kline_day_verdicts([normalized])
        summary = KlineFileSummary.of(normalized, _write_normalized(normalized, store))
        metadata = _file_metadata(summary)
        if self.marks:
            instrument = build_instrument(spec)
            precision = exact_precision(normalized.table.column("close"), spec.price_precision)
            metadata["mark_price_precision"] = precision
            if not blocking(verdicts):
                updates = mark_price_table(normalized.table, mark_price_update_schema(instrument.id, precision))
                write_mark_price_day(feed.staging(store), updates, day)
        return StagedDay(verdicts, metadata, {"rows_validated": summary.rows})

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        """The staged ``MarkPriceUpdate`` day must read back as the normalized mark klines' closes."""
        spec = symbol_spec(self.market, symbol)
        instrument = build_instrument(spec)
        archive_file = kline_archive_file(self.market, self.data_type, symbol, day, self.interval)
        marks = _normalized_day(store, archive_file).table
        value = pa.decimal128(38, exact_precision(marks.column("close"), spec.price_precision))
        first, last = edge_rows(pa.table({"value": pc.cast(marks.column("close"), value),
                                          "ts": marks.column("close_time")}))
        first_update, last_update = ((f"{row['value']:f}", row["ts"], row["ts"]) for row in (first, last))
        [series] = self.series(symbol)
        return PublicationPlan(instrument, [StagedSeries(series, marks.num_rows, first_update, last_update,
                                                         mark_price_tuple)])
