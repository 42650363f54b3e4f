"""Normalized trades → Nautilus catalog: exact round trip, equality with Nautilus' own path, idempotent days,
and a real BacktestNode run over the result."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nautilus_trader.config import (
    BacktestDataConfig,
)
from nautilus_trader.model.data import TradeTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.catalog.trade_ticks import fixed_point
from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import GeneratedDay, read_csv_rows
from hedgegrid_data.testing.nautilus_reference import write_trades_documented_path
from hedgegrid_data.venues.binance import Market, build_instrument
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import generate_trades
from hedgegrid_data_tests.recording_actor import record_backtest


def _ingest(day: GeneratedDay, store: DataStore) -> None:
    """Run the pipeline on a day generated into ``store.raw`` (where the raw asset keeps verified zips)."""
    archive_file = day.archive_file
    feed = trades_feed(archive_file.market)
    normalize_day(feed, store, archive_file.day, archive_file.symbol)
    publish_day(feed, store, archive_file.day, archive_file.symbol)


def _tick_tuples(ticks: list[TradeTick]) -> list[tuple]:
    return [(t.trade_id.value, str(t.price), str(t.size), int(t.aggressor_side), t.ts_event, t.ts_init) for t in ticks]


def _expected_from_csv(day: GeneratedDay, price_precision: int, size_precision: int, unit: TimeUnit) -> list[tuple]:
    from decimal import Decimal

    true_text = "True" if day.archive_file.market is Market.SPOT else "true"
    rows = read_csv_rows(day.zip_path)
    if not rows[0][0].isdigit():
        rows = rows[1:]
    return [
        (row[0], f"{Decimal(row[1]):.{price_precision}f}", f"{Decimal(row[2]):.{size_precision}f}",
         2 if row[5] == true_text else 1, int(row[4]) * unit.nanos, int(row[4]) * unit.nanos)
        for row in rows
    ]


def test_200k_trades_round_trip_exactly_and_equal_the_documented_path(data_store: DataStore, tmp_path: Path) -> None:
    day = generate_trades(data_store.raw, Market.SPOT, "BTCUSDT", "2025-02-03", 200_000)
    ours, reference = data_store.catalog, tmp_path / "reference"
    _ingest(day, data_store)
    instrument = build_instrument(symbol_spec(Market.SPOT, "BTCUSDT"))
    write_trades_documented_path(day.zip_path, day.archive_file, instrument, reference, TimeUnit.MICROSECONDS)

    got = _tick_tuples(ParquetDataCatalog(str(ours)).trade_ticks())
    assert len(got) == 200_000
    assert got == _expected_from_csv(day, 2, 6, TimeUnit.MICROSECONDS)
    assert got == _tick_tuples(ParquetDataCatalog(str(reference)).trade_ticks())
    assert ParquetDataCatalog(str(ours)).instruments() == [instrument]
    [our_file] = (ours / "data" / "trade_tick").rglob("*.parquet")
    [reference_file] = (reference / "data" / "trade_tick").rglob("*.parquet")
    ours_parquet, reference_parquet = pq.ParquetFile(our_file), pq.ParquetFile(reference_file)
    assert ours_parquet.schema_arrow.equals(reference_parquet.schema_arrow, check_metadata=True)
    assert [ours_parquet.metadata.row_group(i).num_rows for i in range(ours_parquet.num_row_groups)] == [
        reference_parquet.metadata.row_group(i).num_rows for i in range(reference_parquet.num_row_groups)]
    assert our_file.stat().st_size < reference_file.stat().st_size  # no dictionaries for unique ids and times


@pytest.mark.parametrize(("market", "symbol", "precisions"),
                         [(Market.USDM, "BTCUSDT", (1, 3)), (Market.COINM, "BTCUSD_PERP", (1, 0))])
def test_futures_round_trip(data_store: DataStore, market: Market, symbol: str,
                            precisions: tuple[int, int]) -> None:
    day = generate_trades(data_store.raw, market, symbol, "2024-03-04", 20_000, header=True)
    _ingest(day, data_store)
    catalog = ParquetDataCatalog(str(data_store.catalog))
    assert _tick_tuples(catalog.trade_ticks()) == _expected_from_csv(day, *precisions, TimeUnit.MILLISECONDS)
    [instrument] = catalog.instruments()
    assert instrument == build_instrument(symbol_spec(market, symbol))
    assert (instrument.price_precision, instrument.size_precision) == precisions


def test_rematerializing_a_day_replaces_exactly_that_day(data_store: DataStore) -> None:
    catalog_root = data_store.catalog
    monday = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-01", 5_000)
    tuesday = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-02", 5_000, seed=1)
    _ingest(monday, data_store)
    _ingest(tuesday, data_store)
    _ingest(tuesday, data_store)
    directory = day_file_path(catalog_root, TradeTick, "BTCUSDT-PERP.BINANCE", dt.date(2024, 1, 2)).parent
    assert len(list(directory.glob("*.parquet"))) == 2

    # the archive re-publishes Tuesday with different trades: only Tuesday changes
    tuesday = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-02", 4_000, seed=7, first_id=5_000_000)
    # a stale file from another writer overlapping Tuesday is removed as well
    (directory / "2024-01-02T10-00-00-000000000Z_2024-01-02T11-00-00-000000000Z.parquet").write_bytes(
        day_file_path(catalog_root, TradeTick, "BTCUSDT-PERP.BINANCE", dt.date(2024, 1, 2)).read_bytes())
    _ingest(tuesday, data_store)
    files = sorted(p.name for p in directory.iterdir())
    assert files == [
        "2024-01-01T00-00-00-000000000Z_2024-01-01T23-59-59-999999999Z.parquet",
        "2024-01-02T00-00-00-000000000Z_2024-01-02T23-59-59-999999999Z.parquet",
    ]
    ticks = ParquetDataCatalog(str(catalog_root)).trade_ticks()
    ids = [int(t.trade_id.value) for t in ticks]
    assert len(ids) == len(set(ids)) == 9_000
    assert ids[5_000] == 5_000_000


def test_backtest_node_receives_every_tick_in_time_order(data_store: DataStore, tmp_path: Path) -> None:
    catalog_root = data_store.catalog
    day = generate_trades(data_store.raw, Market.SPOT, "BTCUSDT", "2024-01-02", 30_000)
    _ingest(day, data_store)
    output = tmp_path / "received.jsonl"
    instrument_id = "BTCUSDT.BINANCE"
    received = record_backtest(
        output, [BacktestDataConfig(catalog_path=str(catalog_root), data_cls=TradeTick, instrument_id=instrument_id)],
        account_type="CASH", starting_balances=("1000000 USDT", "10 BTC"), trade_instruments=[instrument_id])
    expected = _expected_from_csv(day, 2, 6, TimeUnit.MILLISECONDS)
    assert [tuple(r[2:]) for r in received] == expected
    ts = [r[6] for r in received]
    assert ts == sorted(ts)


def test_fixed_point_is_the_value_times_10_to_the_16_and_refuses_what_a_raw_cannot_hold() -> None:
    values = pa.array([Decimal("42000.12"), Decimal("-0.01"), Decimal("9999999999999999999999.99")],
                      pa.decimal128(38, 2))
    raws = [int.from_bytes(raw, "little", signed=True) for raw in fixed_point(values).to_pylist()]
    assert raws == [4200012 * 10**14, -(10**14), 999999999999999999999999 * 10**14]
    with pytest.raises(HedgegridDataError, match="exceed what a Nautilus fixed-point raw can hold"):
        fixed_point(pa.array([Decimal("-1e22")], pa.decimal128(38, 2)))
