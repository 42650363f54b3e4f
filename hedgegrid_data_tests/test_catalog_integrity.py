"""Catalog integrity verdicts: read-back through Nautilus' decoder, overlapping files, missing days, and the
rolling summary's missing days."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from nautilus_trader.model.data import Bar, MarkPriceUpdate, TradeTick

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.catalog.integrity import (
    check_day_file,
    missing_days,
    overlapping_files,
)
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.feeds.feed import CatalogSeries
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.feeds.trades_day import trade_tick_tuple
from hedgegrid_data.quality.report import rolling_summary
from hedgegrid_data.quality.summaries import write_quality_summaries
from hedgegrid_data.sources.binance_archive.feeds import klines_feed, price_index_feed, trades_feed
from hedgegrid_data.sources.binance_archive.klines_day import BarPlan
from hedgegrid_data.sources.binance_archive.layout import SOURCE
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import GeneratedDay
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades
from hedgegrid_data_tests.test_klines import (
    edit_bars,
    generate_klines,
    high_below_close,
    rising_lines,
)

INSTRUMENT = "BTCUSDT-PERP.BINANCE"
BAR_TYPE = f"{INSTRUMENT}-1-MINUTE-LAST-EXTERNAL"
PLAN = BarPlan.of(["1m"], ["5m"])
TRADES = trades_feed(Market.USDM)
KLINES = klines_feed(Market.USDM, PLAN.intervals, PLAN.timeframes)
MARKS = price_index_feed(Market.USDM, "markPriceKlines")


def _staged_trades(store: DataStore, generated: GeneratedDay) -> Path:
    return day_file_path(TRADES.staging(store), TradeTick, INSTRUMENT, generated.archive_file.day)


def _publish(store: DataStore, day: str, n: int = 12_000, **kwargs: object) -> None:
    generated = generate_trades(store.raw, Market.USDM, "BTCUSDT", day, n, **kwargs)
    normalize_day(TRADES, store, generated.archive_file.day, "BTCUSDT")
    publish_day(TRADES, store, generated.archive_file.day, "BTCUSDT")


def test_published_days_pass_and_missing_days_are_listed(data_store: DataStore) -> None:
    _publish(data_store, "2024-01-01")
    _publish(data_store, "2024-01-04", seed=1)
    assert overlapping_files(data_store.catalog, TradeTick, INSTRUMENT) == []
    assert missing_days(data_store.catalog, TradeTick, INSTRUMENT, dt.date(2024, 1, 1), dt.date(2024, 1, 5)) == [
        "2024-01-02", "2024-01-03", "2024-01-05"]


def test_day_file_that_does_not_read_back_as_published_fails(data_store: DataStore) -> None:
    generated = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-02", 12_000)
    normalize_day(TRADES, data_store, generated.archive_file.day, "BTCUSDT")
    staged = _staged_trades(data_store, generated)
    wrong = check_day_file(staged, TradeTick, 12_000, (), (), trade_tick_tuple)
    assert not wrong.passed and "first row" in wrong.summary
    assert wrong.metadata["rows"] == 12_000 and wrong.metadata["first"][0] == "1000000"
    # a staged file from another day replaces the real one: publishing refuses it
    other = generate_trades(data_store.raw, Market.USDM, "BTCUSDT", "2024-01-03", 11_000, seed=2)
    normalize_day(TRADES, data_store, other.archive_file.day, "BTCUSDT")
    shutil.copyfile(_staged_trades(data_store, other), staged)
    with pytest.raises(HedgegridDataError, match=r"11000 rows, expected 12000.*not published"):
        publish_day(TRADES, data_store, generated.archive_file.day, "BTCUSDT")
    assert not (data_store.catalog / "data" / "trade_tick").exists()


def test_overlapping_files_are_named(data_store: DataStore) -> None:
    _publish(data_store, "2024-01-02")
    directory = data_store.catalog / "data" / "trade_tick" / INSTRUMENT
    [day_file] = directory.glob("*.parquet")
    shutil.copyfile(day_file, directory / "2024-01-02T12-00-00-000000000Z_2024-01-03T01-00-00-000000000Z.parquet")
    assert overlapping_files(data_store.catalog, TradeTick, INSTRUMENT) == [day_file.name]


def _klines_day(store: DataStore, day: dt.date, seed: int = 0) -> GeneratedDay:
    generated = generate_klines(store.raw, Market.USDM, "BTCUSDT", day, seed=seed)
    normalize_day(KLINES, store, day, "BTCUSDT")
    return generated


def test_staged_bar_and_mark_price_days_that_do_not_read_back_as_their_sources_are_not_published(
        data_store: DataStore) -> None:
    day, other = dt.date(2024, 3, 4), dt.date(2024, 3, 5)
    for d in (day, other):
        _klines_day(data_store, d, seed=d.day)
        generate_klines(data_store.raw, Market.USDM, "BTCUSDT", d, data_type="markPriceKlines", seed=d.day)
        normalize_day(MARKS, data_store, d, "BTCUSDT")
    for feed, data_cls, identifier in ((KLINES, Bar, BAR_TYPE), (MARKS, MarkPriceUpdate, INSTRUMENT)):
        shutil.copyfile(day_file_path(feed.staging(data_store), data_cls, identifier, other),
                        day_file_path(feed.staging(data_store), data_cls, identifier, day))
    with pytest.raises(HedgegridDataError, match=r"first row \(.*1709596859999000000.*\), expected \(.*"
                                                 r"1709510459999000000.*; not published"):
        publish_day(KLINES, data_store, day, "BTCUSDT")
    with pytest.raises(HedgegridDataError, match=r"first row \('[0-9.]+', 1709596859999000000, .*; not published"):
        publish_day(MARKS, data_store, day, "BTCUSDT")
    assert not (data_store.catalog / "data").exists()
    published = publish_day(KLINES, data_store, other, "BTCUSDT")
    integrity = published.integrity
    assert integrity.passed and (integrity.metadata["1m_rows"], integrity.metadata["5m_rows"]) == (1_440, 288)
    assert publish_day(MARKS, data_store, other, "BTCUSDT").integrity.passed
    assert overlapping_files(data_store.catalog, Bar, BAR_TYPE) == []


def test_rolling_summary_lists_days_without_report_and_days_missing_from_the_catalog(data_store: DataStore) -> None:
    for day in (dt.date(2024, 3, 4), dt.date(2024, 3, 7)):
        _klines_day(data_store, day, seed=day.day)
        publish_day(KLINES, data_store, day, "BTCUSDT")
    blocked = generate_klines(data_store.raw, Market.USDM, "BTCUSDT", dt.date(2024, 3, 6))
    edit_bars(blocked, rising_lines(blocked, 1), high_below_close)
    assert normalize_day(KLINES, data_store, dt.date(2024, 3, 6), "BTCUSDT").report["blocked"]

    [summary] = write_quality_summaries(
        data_store.quality_directory(SOURCE, KLINES.market, KLINES.dataset), data_store.catalog,
        f"{KLINES.market} {KLINES.dataset}", catalog_series=lambda symbol: CatalogSeries(Bar, BAR_TYPE)).values()
    assert (summary.summary["first"], summary.summary["last"], summary.summary["days"]) == (
        "2024-03-04|BTCUSDT", "2024-03-07|BTCUSDT", 3)
    assert summary.summary["days_without_report"] == ["2024-03-05"]
    assert summary.summary["days_missing_from_catalog"] == ["2024-03-05", "2024-03-06"]
    assert summary.summary["blocked_days"] == ["2024-03-06|BTCUSDT"]
    assert summary.summary["findings_by_kind"] == {"ohlcv_rules": 1}
    assert "days without a report: 2024-03-05\ndays missing from the catalog: 2024-03-05, 2024-03-06" in (
        summary.markdown)
    assert json.loads(summary.json_path.read_text()) == summary.summary
    # without a catalog series (index and premium klines) only the days without a report are known
    reports = [json.loads(p.read_text()) for p in summary.json_path.parent.glob("*.report.json")]
    assert rolling_summary(reports, days=2)["days_without_report"] == []
    assert rolling_summary(reports)["days_missing_from_catalog"] is None
