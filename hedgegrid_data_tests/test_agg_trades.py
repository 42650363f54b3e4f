"""aggTrades CSV → aggregated-trades table → TradeTicks, without Dagster: exactness, excluded rows counted,
time units, lines named on failure, ordering, idempotent days and the choice of trade source."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from nautilus_trader.model.data import TradeTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import NormalizedDay, PublishedDays, normalize_day, publish_day
from hedgegrid_data.sources.binance_archive.agg_trades import (
    SourceLines,
    write_normalized_agg_trades,
)
from hedgegrid_data.sources.binance_archive.feeds import agg_trades_feed, trades_feed
from hedgegrid_data.sources.binance_archive.layout import SOURCE
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import (
    GeneratedDay,
    inject_malformed_row,
    read_csv_rows,
    read_csv_text,
    replace_csv,
    write_agg_trades_day,
)
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import generate_trades


def generate_agg_trades(root: Path, market: Market, symbol: str, day: str, n: int, **kwargs: object) -> GeneratedDay:
    """A generated aggTrades day at the configured instrument's precision."""
    spec = symbol_spec(market, symbol)
    return write_agg_trades_day(root, market, symbol, dt.date.fromisoformat(day), n,
                                price_precision=spec.price_precision, size_precision=spec.size_precision, **kwargs)


def exclude_rows(day: GeneratedDay, placeholder_lines: list[int], zero_quantity_lines: list[int]) -> GeneratedDay:
    """Turn spot CSV lines into archive placeholder rows and zero-quantity rows, keeping their ids and times."""
    lines = read_csv_text(day.zip_path).splitlines()
    for number in placeholder_lines:
        row = lines[number - 1].split(",")
        row[1:5] = ["0.00000000", "0.00000000", "-1", "-1"]
        lines[number - 1] = ",".join(row)
    for number in zero_quantity_lines:
        row = lines[number - 1].split(",")
        row[2] = "0.00000000"
        lines[number - 1] = ",".join(row)
    return replace_csv(day, "\n".join(lines) + "\n")


def csv_rows(zip_path: Path) -> list[list[str]]:
    """The data rows of a (small) archive zip, as text."""
    rows = read_csv_rows(zip_path)
    return rows[1:] if not rows[0][0].isdigit() else rows


def expected_ticks(rows: list[list[str]], market: Market, symbol: str, unit: TimeUnit) -> list[tuple]:
    """TradeTick fields straight from the CSV text: (trade id, price, size, side, ts_event, ts_init)."""
    spec = symbol_spec(market, symbol)
    true_text = "True" if market is Market.SPOT else "true"
    return [
        (row[0], f"{Decimal(row[1]):.{spec.price_precision}f}", f"{Decimal(row[2]):.{spec.size_precision}f}",
         2 if row[6] == true_text else 1, int(row[5]) * unit.nanos, int(row[5]) * unit.nanos)
        for row in rows if Decimal(row[2]) != 0
    ]


def tick_tuples(ticks: list[TradeTick]) -> list[tuple]:
    return [(t.trade_id.value, str(t.price), str(t.size), int(t.aggressor_side), t.ts_event, t.ts_init) for t in ticks]


def normalize(feed: Feed, store: DataStore, day: GeneratedDay) -> NormalizedDay:
    return normalize_day(feed, store, day.archive_file.day, day.archive_file.symbol)


def publish(feed: Feed, store: DataStore, day: GeneratedDay) -> PublishedDays:
    return publish_day(feed, store, day.archive_file.day, day.archive_file.symbol)


def staged_path(feed: Feed, store: DataStore, day: GeneratedDay) -> Path:
    """The day's staged TradeTick file in ``feed``'s staging tree."""
    return day_file_path(feed.staging(store), TradeTick, feed.instrument_ids(day.archive_file.symbol),
                         day.archive_file.day)


def _normalize(day: GeneratedDay, tmp_path: Path):
    spec = symbol_spec(day.archive_file.market, day.archive_file.symbol)
    out = tmp_path / "normalized.parquet"
    return write_normalized_agg_trades(day.zip_path, day.archive_file, spec, out), out


CASES = [
    (Market.SPOT, "BTCUSDT", "2024-01-02", False, TimeUnit.MILLISECONDS),
    (Market.SPOT, "BTCUSDT", "2025-03-04", False, TimeUnit.MICROSECONDS),
    (Market.USDM, "BTCUSDT", "2024-01-02", True, TimeUnit.MILLISECONDS),
    (Market.COINM, "BTCUSD_PERP", "2025-03-04", True, TimeUnit.MILLISECONDS),
]


@pytest.mark.parametrize(("market", "symbol", "day", "header", "unit"), CASES)
def test_normalized_rows_equal_the_csv_text(archive_root: Path, tmp_path: Path, market: Market, symbol: str,
                                            day: str, header: bool, unit: TimeUnit) -> None:
    generated = generate_agg_trades(archive_root, market, symbol, day, 2_000, header=header)
    summary, out = _normalize(generated, tmp_path)
    assert (summary.rows, summary.source_rows, summary.header, summary.time_unit) == (2_000, 2_000, header, unit)
    assert (summary.first_agg_trade_id, summary.last_agg_trade_id) == (generated.first_id, generated.last_id)

    rows = csv_rows(generated.zip_path)
    table = pl.read_parquet(out)
    quantity = "qty_contracts" if market is Market.COINM else "qty"
    expected_columns = ["agg_trade_id", "price", quantity, "first_trade_id", "last_trade_id", "ts_event",
                        "is_buyer_maker", "aggressor_side"]
    assert table.columns == expected_columns + (["is_best_match"] if market is Market.SPOT else [])
    assert summary.trades_covered == sum(int(r[4]) - int(r[3]) + 1 for r in rows)
    true_text = "True" if market is Market.SPOT else "true"
    for row, got in zip(rows, table.iter_rows(named=True), strict=True):
        assert got["agg_trade_id"] == int(row[0])
        assert got["price"] == Decimal(row[1]) and got[quantity] == Decimal(row[2])
        assert (got["first_trade_id"], got["last_trade_id"]) == (int(row[3]), int(row[4]))
        ts_ns = int(row[5]) * unit.nanos
        assert got["ts_event"] == dt.datetime.fromtimestamp(ts_ns // 10**9, dt.timezone.utc) + dt.timedelta(
            microseconds=(ts_ns % 10**9) // 1000)
        assert got["is_buyer_maker"] == (row[6] == true_text)
        assert got["aggressor_side"] == (2 if row[6] == true_text else 1)


def test_decimal_types_keep_exact_precision(archive_root: Path, tmp_path: Path) -> None:
    generated = generate_agg_trades(archive_root, Market.COINM, "BTCUSD_PERP", "2024-01-02", 100)
    _, out = _normalize(generated, tmp_path)
    schema = pq.read_schema(out)
    assert str(schema.field("price").type) == "decimal128(38, 1)"
    assert str(schema.field("qty_contracts").type) == "decimal128(38, 0)"


def test_placeholder_and_zero_quantity_rows_are_counted_and_excluded(data_store: DataStore) -> None:
    generated = generate_agg_trades(data_store.raw, Market.SPOT, "BTCUSDT", "2025-03-04", 3_000)
    generated = exclude_rows(generated, placeholder_lines=[1, 10, 11, 1_500, 3_000], zero_quantity_lines=[20, 2_999])
    feed = agg_trades_feed(Market.SPOT)
    normalized_day = normalize(feed, data_store, generated)
    summary = normalized_day.metadata
    assert (summary["rows"], summary["source_rows"], summary["placeholder_rows_excluded"],
            summary["zero_quantity_rows_excluded"]) == (2_993, 3_000, 5, 2)
    # the excluded rows' ids are the only gaps (placeholders at both ends lie outside the kept ids)
    [id_gaps] = [v for v in normalized_day.verdicts if v.check == "agg_trade_id_gaps"]
    assert id_gaps.passed and (id_gaps.metadata["missing_ids"], id_gaps.metadata["excluded_rows"]) == (4, 7)
    kept = [row for row in csv_rows(generated.zip_path) if Decimal(row[2]) != 0]
    day = generated.archive_file.day
    normalized = pl.read_parquet(data_store.normalized_file(SOURCE, Market.SPOT.value, "aggTrades", "BTCUSDT", day))
    assert normalized["agg_trade_id"].to_list() == [int(row[0]) for row in kept]
    assert normalized["is_best_match"].all()
    assert (summary["first_agg_trade_id"], summary["last_agg_trade_id"]) == (int(kept[0][0]), int(kept[-1][0]))

    publish(feed, data_store, generated)
    ticks = ParquetDataCatalog(str(data_store.catalog)).trade_ticks()
    assert tick_tuples(ticks) == expected_ticks(kept, Market.SPOT, "BTCUSDT", TimeUnit.MICROSECONDS)


@pytest.mark.parametrize("policy", ["keep", "withdraw"])
def test_missing_aggregates_keep_the_day_out_of_the_catalog_until_the_source_is_fixed(
        data_store: DataStore, policy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEGRID_FAILED_REPUBLICATION", policy)
    generated = generate_agg_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-03-04", 5_000, header=True)
    text = read_csv_text(generated.zip_path)
    publisher, feed = agg_trades_feed(Market.USDM, publisher=True), agg_trades_feed(Market.USDM)
    normalize(publisher, data_store, generated)
    day_file = publish(publisher, data_store, generated).day.path
    assert day_file is not None
    lines = text.splitlines(keepends=True)
    replace_csv(generated, "".join(lines[:2_001] + lines[2_051:]))  # aggregates 1_002_000..1_002_049 missing
    blocked = normalize(publisher, data_store, generated)
    id_gaps = blocked.verdicts[0]
    assert (id_gaps.check, id_gaps.passed, id_gaps.severity.value) == ("agg_trade_id_gaps", False, "ERROR")
    assert (id_gaps.metadata["unexplained_missing_ids"], id_gaps.metadata["missing_ranges"]) == (
        50, [[1_002_000, 1_002_049]])
    assert [v.check for v in blocked.verdicts[1:]] == ["trade_silences", "day_coverage", "price_spikes",
                                                       "volume_spikes"]
    published = "the published day of 2024-03-04 (5,000 rows) was " + ("kept" if policy == "keep" else "withdrawn")
    assert blocked.report["blocked"] and day_file.exists() is (policy == "keep")
    assert blocked.report["published_day"]["outcome"] == ("kept" if policy == "keep" else "withdrawn")
    assert published in id_gaps.summary
    normalized = publisher.normalized_file(data_store, generated.archive_file.day, "BTCUSDT")
    assert pq.ParquetFile(normalized).metadata.num_rows == (5_000 if policy == "keep" else 4_950)
    assert not staged_path(publisher, data_store, generated).exists()
    with pytest.raises(HedgegridDataError, match="blocking checks failed: agg_trade_id_gaps: 50 aggregate ids") as e:
        publish(publisher, data_store, generated)
    assert published in str(e.value)
    replace_csv(generated, text)
    assert normalize(feed, data_store, generated).report["quality_score"] == 1.0
    published = publish(feed, data_store, generated)
    assert published.day.path == day_file and published.integrity.passed and published.day.rows_out == 5_000


def test_a_staged_day_that_does_not_read_back_as_normalized_is_not_published(data_store: DataStore) -> None:
    first = generate_agg_trades(data_store.raw, Market.COINM, "BTCUSD_PERP", "2024-03-04", 3_000)
    other = generate_agg_trades(data_store.raw, Market.COINM, "BTCUSD_PERP", "2024-03-05", 2_000, seed=4)
    feed = agg_trades_feed(Market.COINM)
    for generated in (first, other):
        normalize(feed, data_store, generated)
    staged = staged_path(feed, data_store, first)
    staged.write_bytes(staged_path(feed, data_store, other).read_bytes())
    with pytest.raises(HedgegridDataError, match=r"2000 rows, expected 3000; first row .*; not published"):
        publish(feed, data_store, first)
    assert not (data_store.catalog / "data" / "trade_tick").exists()


def test_a_day_of_excluded_rows_only_fails(archive_root: Path, tmp_path: Path) -> None:
    generated = exclude_rows(generate_agg_trades(archive_root, Market.SPOT, "BTCUSDT", "2024-01-02", 3),
                             placeholder_lines=[1, 2], zero_quantity_lines=[3])
    with pytest.raises(ArchiveDataError, match=r"BTCUSDT-aggTrades-2024-01-02\.zip: no aggregate trades in the file"):
        _normalize(generated, tmp_path)
    assert list(tmp_path.glob("normalized*")) == []


def test_source_lines_skip_excluded_rows() -> None:
    lines = SourceLines(first_line=2)
    lines.exclude(np.array([0, 1, 5]))
    lines.exclude(np.array([9]))
    # kept rows are source rows 2, 3, 4, 6, 7, 8, 10 ... on lines 4, 5, 6, 8, 9, 10, 12 ...
    assert [lines.line_of(p) for p in range(8)] == [4, 5, 6, 8, 9, 10, 12, 13]


SPOT_ROWS = [
    "100,42000.12000000,0.00100000,500,501,1704153600001,True,True",
    "101,42000.13000000,0.00200000,502,502,1704153600002,False,True",
    "102,42001.00000000,1.00000000,503,505,1704239999999,True,True",
]


def _day_with_rows(root: Path, rows: list[str], day: str = "2024-01-02") -> GeneratedDay:
    generated = generate_agg_trades(root, Market.SPOT, "BTCUSDT", day, 10)
    return replace_csv(generated, "\n".join(rows) + "\n")


FAILURES = [
    ("malformed row", 3, "101,42000.13000000,0.00200000,502", r"line 3: CSV parse error: .*Expected 8 columns"),
    ("price not a number", 2, "101,42000.1x,0.00200000,502,502,1704153600002,False,True",
     r"line 2: price '42000.1x' is not a decimal number"),
    ("excess decimals", 2, "101,42000.13000000,0.0000001,502,502,1704153600002,False,True",
     r"line 2: quantity '0.0000001' has more decimals than the instrument's size precision allows \(6\)"),
    ("-1 ids on a real trade", 2, "101,42000.13000000,0.00200000,-1,-1,1704153600002,False,True",
     r"line 2: first_trade_id '-1' is not an integer"),
    ("hexadecimal id", 2, "0x65,42000.13000000,0.00200000,502,502,1704153600002,False,True",
     r"line 2: agg_trade_id '0x65' is not an integer"),
    ("bad boolean", 1, "100,42000.12000000,0.00100000,500,501,1704153600001,true,True",
     r"line 1: is_buyer_maker 'true' is not True/False"),
    ("outside the day", 3, "102,42001.00000000,1.00000000,503,505,1704240000000,True,True",
     r"line 3: transact_time '1704240000000' lies outside the file's UTC day"),
    ("first after last", 3, "102,42001.00000000,1.00000000,506,505,1704239999999,True,True",
     r"line 3: schema validation failed for aggregate trade 102: .*first_trade_id <= last_trade_id"),
    ("zero price", 2, "101,0.00000000,0.00200000,502,502,1704153600002,False,True",
     r"line 2: schema validation failed for aggregate trade 101: Column .price. failed validator number 0"),
]


@pytest.mark.parametrize(("case", "line", "text", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_bad_rows_fail_with_file_and_line(archive_root: Path, tmp_path: Path, case: str, line: int, text: str,
                                          message: str) -> None:
    generated = inject_malformed_row(_day_with_rows(archive_root, SPOT_ROWS), line, text)
    with pytest.raises(ArchiveDataError, match=r"^BTCUSDT-aggTrades-2024-01-02\.zip, " + message):
        _normalize(generated, tmp_path)
    assert list(tmp_path.glob("normalized*")) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_invalid_row_after_excluded_rows_names_its_own_line(archive_root: Path, tmp_path: Path) -> None:
    """Excluded rows do not shift the line a later validation failure reports, across validation groups too."""
    generated = generate_agg_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 300_000, header=True)
    generated = exclude_rows(generated, placeholder_lines=[], zero_quantity_lines=[3, 4, 100_000, 280_000])
    rows = read_csv_text(generated.zip_path).splitlines()
    bad = rows[290_000 - 1].split(",")
    bad[1] = "0.0"
    generated = inject_malformed_row(generated, 290_000, ",".join(bad))
    with pytest.raises(ArchiveDataError, match=rf"BTCUSDT-aggTrades-2024-01-02\.zip, line 290000: .*trade {bad[0]}:"):
        _normalize(generated, tmp_path)
    assert not (tmp_path / "normalized.parquet").exists()


@pytest.mark.parametrize(
    ("market", "symbol", "day", "unit", "message"),
    [
        (Market.SPOT, "BTCUSDT", "2024-12-31", TimeUnit.MICROSECONDS,
         "timestamps are in microseconds .16 digits. but spot aggTrades dated 2024-12-31 are in milliseconds"),
        (Market.SPOT, "BTCUSDT", "2025-01-01", TimeUnit.MILLISECONDS,
         "timestamps are in milliseconds .13 digits. but spot aggTrades dated 2025-01-01 are in microseconds"),
        (Market.COINM, "BTCUSD_PERP", "2025-06-01", TimeUnit.MICROSECONDS,
         "timestamps are in microseconds .16 digits. but cm aggTrades dated 2025-06-01 are in milliseconds"),
    ],
)
def test_time_unit_contradicting_market_and_date_fails(archive_root: Path, tmp_path: Path, market: Market,
                                                       symbol: str, day: str, unit: TimeUnit, message: str) -> None:
    generated = generate_agg_trades(archive_root, market, symbol, day, 500, time_unit=unit)
    with pytest.raises(ArchiveDataError, match=message):
        _normalize(generated, tmp_path)
    assert not (tmp_path / "normalized.parquet").exists()


def test_duplicates_are_dropped_and_disorder_sorted(archive_root: Path, tmp_path: Path) -> None:
    placeholder = "99,0.00000000,0.00000000,-1,-1,1704153600000,True,True"
    generated = _day_with_rows(archive_root, [SPOT_ROWS[2], placeholder, SPOT_ROWS[0], SPOT_ROWS[1], SPOT_ROWS[0]])
    summary, out = _normalize(generated, tmp_path)
    assert (summary.rows, summary.source_rows, summary.placeholder_rows, summary.duplicates_dropped,
            summary.resorted) == (3, 5, 1, 1, True)
    assert pl.read_parquet(out)["agg_trade_id"].to_list() == [100, 101, 102]


def test_conflicting_duplicate_ids_fail(archive_root: Path, tmp_path: Path) -> None:
    conflicting = SPOT_ROWS[0].replace("0.00100000", "0.00300000")
    generated = _day_with_rows(archive_root, [*SPOT_ROWS, conflicting])
    with pytest.raises(ArchiveDataError, match=r"aggregate trade ids appear more than once with different values: \[100\]"):
        _normalize(generated, tmp_path)
    assert not (tmp_path / "normalized.parquet").exists()


@pytest.mark.parametrize(("market", "symbol"), [(Market.USDM, "BTCUSDT"), (Market.COINM, "BTCUSD_PERP")])
def test_catalog_round_trip_is_exact_and_idempotent(data_store: DataStore, market: Market, symbol: str) -> None:
    generated = generate_agg_trades(data_store.raw, market, symbol, "2024-03-04", 20_000, header=True)
    feed = agg_trades_feed(market)
    for _ in range(2):
        normalize(feed, data_store, generated)
        published = publish(feed, data_store, generated)
    assert published.day.rows_in == published.day.rows_out == 20_000
    path = published.day.path
    assert path is not None and [p.name for p in path.parent.iterdir()] == [path.name]
    catalog = ParquetDataCatalog(str(data_store.catalog))
    assert tick_tuples(catalog.trade_ticks()) == expected_ticks(csv_rows(generated.zip_path), market, symbol,
                                                                TimeUnit.MILLISECONDS)
    assert [i.id.value for i in catalog.instruments()] == [published.instrument_id] == [published.day.instrument_id]


def test_agg_trades_replace_the_trades_day_and_back(data_store: DataStore) -> None:
    """Both sources write the instrument's one TradeTick day file: publishing either replaces the other."""
    day = "2024-01-02"
    trades = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", day, 3_000, first_id=7_000_000)
    agg = generate_agg_trades(data_store.raw, Market.USDM, "BTCUSDT", day, 1_000)
    trades_source, agg_source = trades_feed(Market.USDM), agg_trades_feed(Market.USDM)
    normalize(trades_source, data_store, trades)
    normalize(agg_source, data_store, agg)
    staged = day_file_path(agg_source.staging(data_store), TradeTick, "BTCUSDT-PERP.BINANCE", dt.date(2024, 1, 2))
    trades_staged = day_file_path(trades_source.staging(data_store), TradeTick, "BTCUSDT-PERP.BINANCE",
                                  dt.date(2024, 1, 2))
    assert staged.exists() and trades_staged.exists() and staged != trades_staged

    def published_ids() -> list[int]:
        return [int(t.trade_id.value) for t in ParquetDataCatalog(str(data_store.catalog)).trade_ticks()]

    publish(trades_source, data_store, trades)
    assert published_ids() == list(range(7_000_000, 7_003_000))
    path = publish(agg_source, data_store, agg).day.path
    assert published_ids() == list(range(1_000_000, 1_001_000))
    assert path is not None and [p.name for p in path.parent.iterdir()] == [path.name]
    publish(trades_source, data_store, trades)
    assert published_ids() == list(range(7_000_000, 7_003_000))
