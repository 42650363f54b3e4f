"""Catalog integrity verdicts: read-back through Nautilus' decoder, overlapping files, missing days."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from nautilus_trader.model.data import TradeTick

from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.markets import Market
from hedgegrid_data.quality.catalog_integrity import check_day_file, missing_days, overlapping_files
from hedgegrid_data.store import DataStore
from hedgegrid_data.trades_pipeline import (
    normalize_trades_day,
    publish_trades_day,
    staged_trades_path,
    trade_tick_tuple,
)
from hedgegrid_data_tests.conftest import generate_trades

INSTRUMENT = "BTCUSDT-PERP.BINANCE"


def _publish(store: DataStore, day: str, n: int = 12_000, **kwargs: object) -> None:
    generated = generate_trades(store.raw, Market.USDM, "BTCUSDT", day, n, **kwargs)
    normalize_trades_day(store, generated.archive_file)
    publish_trades_day(store, generated.archive_file)


def test_published_days_pass_and_missing_days_are_listed(data_store: DataStore) -> None:
    _publish(data_store, "2024-01-01")
    _publish(data_store, "2024-01-04", seed=1)
    assert overlapping_files(data_store.catalog, TradeTick, INSTRUMENT) == []
    assert missing_days(data_store.catalog, TradeTick, INSTRUMENT, dt.date(2024, 1, 1), dt.date(2024, 1, 5)) == [
        "2024-01-02", "2024-01-03", "2024-01-05"]


def test_day_file_that_does_not_read_back_as_published_fails(data_store: DataStore) -> None:
    generated = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-02", 12_000)
    normalize_trades_day(data_store, generated.archive_file)
    staged = staged_trades_path(data_store, generated.archive_file)
    wrong = check_day_file(staged, TradeTick, 12_000, (), (), trade_tick_tuple)
    assert not wrong.passed and "first row" in wrong.summary
    assert wrong.metadata["rows"] == 12_000 and wrong.metadata["first"][0] == "1000000"
    # a staged file from another day replaces the real one: publishing refuses it
    other = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-03", 11_000, seed=2)
    normalize_trades_day(data_store, other.archive_file)
    shutil.copyfile(staged_trades_path(data_store, other.archive_file), staged)
    with pytest.raises(HedgegridDataError, match=r"11000 rows, expected 12000.*not published"):
        publish_trades_day(data_store, generated.archive_file)
    assert not (data_store.catalog / "data" / "trade_tick").exists()


def test_overlapping_files_are_named(data_store: DataStore) -> None:
    _publish(data_store, "2024-01-02")
    directory = data_store.catalog / "data" / "trade_tick" / INSTRUMENT
    [day_file] = directory.glob("*.parquet")
    shutil.copyfile(day_file, directory / "2024-01-02T12-00-00-000000000Z_2024-01-03T01-00-00-000000000Z.parquet")
    assert overlapping_files(data_store.catalog, TradeTick, INSTRUMENT) == [day_file.name]
