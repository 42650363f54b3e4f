"""Kline-like archive files → normalized tables, higher timeframes, Bar and MarkPriceUpdate day files: exact,
checked bar by bar, equal to the archive's own intervals and to what Nautilus writes itself."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from nautilus_trader.model.data import Bar, IndexPriceUpdate, MarkPriceUpdate
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.catalog.bars import bar_type
from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.feeds.recipe import NormalizedDay, PublishedDays, normalize_day, publish_day
from hedgegrid_data.sources.binance_archive.feeds import klines_feed, price_index_feed
from hedgegrid_data.sources.binance_archive.klines import (
    HIGHER_TIMEFRAMES,
    aggregate_klines,
    check_agreement,
    kline_columns,
    normalize_kline_file,
)
from hedgegrid_data.sources.binance_archive.klines_day import (
    BarPlan,
    archive_symbol,
    kline_archive_file,
)
from hedgegrid_data.sources.binance_archive.layout import time_unit_for
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import (
    GeneratedDay,
    inject_malformed_row,
    read_csv_rows,
    replace_csv,
)
from hedgegrid_data.testing.kline_generator import write_kline_day
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import edited_symbols_file

DAY = dt.date(2024, 3, 4)


def generate_klines(root: Path, market: Market, symbol: str, day: dt.date = DAY, interval: str = "1m",
                    data_type: str = "klines", **kwargs: object) -> GeneratedDay:
    """A generated kline-like day at the configured instrument's precision, in the archive folder of ``symbol``."""
    spec = symbol_spec(market, symbol)
    kwargs.setdefault("volume_precision", spec.size_precision)
    if market is Market.COINM:
        kwargs.setdefault("contract_size", int(spec.contract_size or 1))
    return write_kline_day(root, market, data_type, archive_symbol(market, data_type, symbol), day, interval,
                           price_precision=spec.price_precision, **kwargs)  # type: ignore[arg-type]


def csv_bars(day: GeneratedDay | Path) -> list[list[str]]:
    """The CSV rows of a (generated or real) kline zip, without its header."""
    rows = read_csv_rows(day if isinstance(day, Path) else day.zip_path)
    return rows if rows[0][0].isdigit() else rows[1:]


def normalize_klines_day(store: DataStore, market: Market, symbol: str, day: dt.date, plan: BarPlan) -> NormalizedDay:
    return normalize_day(klines_feed(market, plan.intervals, plan.timeframes), store, day, symbol)


def publish_klines_day(store: DataStore, market: Market, symbol: str, day: dt.date, plan: BarPlan) -> PublishedDays:
    return publish_day(klines_feed(market, plan.intervals, plan.timeframes), store, day, symbol)


def normalize_price_index_day(store: DataStore, market: Market, data_type: str, symbol: str,
                              day: dt.date) -> NormalizedDay:
    return normalize_day(price_index_feed(market, data_type), store, day, symbol)


def publish_mark_prices_day(store: DataStore, market: Market, symbol: str, day: dt.date) -> PublishedDays:
    return publish_day(price_index_feed(market, "markPriceKlines"), store, day, symbol)


def _normalize(day: GeneratedDay, symbol: str):
    return normalize_kline_file(day.zip_path, day.archive_file, symbol_spec(day.archive_file.market, symbol))


MARKETS = [(Market.SPOT, "BTCUSDT", dt.date(2025, 2, 3)), (Market.USDM, "BTCUSDT", DAY),
           (Market.COINM, "BTCUSD_PERP", DAY)]


@pytest.mark.parametrize(("market", "symbol", "day"), MARKETS)
def test_normalized_klines_keep_every_column_exactly(tmp_path: Path, market: Market, symbol: str, day: dt.date) -> None:
    generated = generate_klines(tmp_path, market, symbol, day, header=market is Market.USDM, missing_minutes=[7, 8])
    normalized = _normalize(generated, symbol)
    unit = time_unit_for(market, day)
    assert normalized.time_unit is unit and normalized.header is (market is Market.USDM)
    assert (normalized.rows, normalized.missing_bars) == (1_438, 2)
    assert normalized.table.column_names == list(kline_columns(market))
    if market is Market.COINM:
        assert normalized.table.column_names[5:11] == [
            "volume_contracts", "close_time", "base_volume", "count", "taker_buy_volume_contracts",
            "taker_buy_base_volume"]
    for text, row in zip(csv_bars(generated), normalized.table.to_pylist(), strict=True):
        values = list(row.values())
        for i in (0, 6):
            assert values[i].value == int(text[i]) * unit.nanos
        for i in (1, 2, 3, 4, 5, 7, 9, 10):
            assert values[i] == Decimal(text[i])
        assert (values[8], values[11]) == (int(text[8]), int(text[11]))


@pytest.mark.parametrize(("market", "symbol", "day"), MARKETS)
def test_higher_timeframes_built_from_1m_equal_the_archive_files(tmp_path: Path, market: Market, symbol: str,
                                                                 day: dt.date) -> None:
    gaps = [0, 61, 62, 700, 1_439]  # minutes the archive lacks, as during maintenance
    minutes = _normalize(generate_klines(tmp_path, market, symbol, day, seed=3, missing_minutes=gaps), symbol)
    for interval in HIGHER_TIMEFRAMES:
        archive = _normalize(generate_klines(tmp_path, market, symbol, day, interval, seed=3, missing_minutes=gaps),
                             symbol)
        assert check_agreement(aggregate_klines(minutes, interval), archive) == archive.rows
    assert aggregate_klines(minutes, "1d").num_rows == 1


def test_a_disagreeing_archive_interval_names_the_first_differing_bar(tmp_path: Path) -> None:
    minutes = _normalize(generate_klines(tmp_path, Market.USDM, "BTCUSDT"), "BTCUSDT")
    five = generate_klines(tmp_path, Market.USDM, "BTCUSDT", interval="5m", header=True)
    row = read_csv_rows(five.zip_path)[37]
    row[2] = str(Decimal(row[2]) + Decimal("0.1"))
    five = inject_malformed_row(five, 38, ",".join(row))
    with pytest.raises(ArchiveDataError) as failure:
        check_agreement(aggregate_klines(minutes, "5m"), _normalize(five, "BTCUSDT"))
    assert str(failure.value).startswith("BTCUSDT-5m-2024-03-04.zip, line 38: the 5m bar opening "
                                         "2024-03-04T03:00:00.000000000Z differs: high built from 1m is")


@pytest.mark.parametrize(("day", "unit", "message"), [
    (dt.date(2024, 12, 31), TimeUnit.MICROSECONDS, "timestamps are in microseconds (16 digits) but spot klines "
                                                   "dated 2024-12-31 are in milliseconds"),
    (dt.date(2025, 1, 1), TimeUnit.MILLISECONDS, "timestamps are in milliseconds (13 digits) but spot klines "
                                                 "dated 2025-01-01 are in microseconds"),
])
def test_a_time_unit_contradicting_market_and_date_fails(tmp_path: Path, day: dt.date, unit: TimeUnit,
                                                         message: str) -> None:
    generated = generate_klines(tmp_path, Market.SPOT, "BTCUSDT", day, time_unit=unit)
    with pytest.raises(ArchiveDataError, match=re.escape(f"BTCUSDT-1m-{day}.zip: {message}: refusing to guess")):
        _normalize(generated, "BTCUSDT")


def _edit(row: list[str], column: int, value: str) -> list[str]:
    return [value if i == column else text for i, text in enumerate(row)]


def edit_bars(day: GeneratedDay, lines: list[int], edit) -> GeneratedDay:
    """Republish ``day`` with ``edit(row)`` applied to each of the CSV ``lines`` (1-based, a header is line 1)."""
    rows = read_csv_rows(day.zip_path)
    for line in lines:
        rows[line - 1] = edit(rows[line - 1])
    return replace_csv(day, "".join(",".join(row) + "\n" for row in rows))


def rising_lines(day: GeneratedDay, n: int, after: int = 100) -> list[int]:
    """The first ``n`` CSV lines after ``after`` whose bar closes above its open (close − open ≥ one tick)."""
    rows = read_csv_rows(day.zip_path)
    return [i + 1 for i, r in enumerate(rows) if i >= after and r[0].isdigit() and Decimal(r[4]) > Decimal(r[1])][:n]


def high_below_close(row: list[str]) -> list[str]:
    """On a rising bar: high one tick (0.1) below the close, still above the open and the low."""
    return _edit(row, 2, str(Decimal(row[4]) - Decimal("0.1")))


UNREADABLE_BARS = {
    "open time off the 1m grid": (lambda r: _edit(_edit(r, 0, str(int(r[0]) + 1)), 6, str(int(r[6]) + 1)),
                                  "open_time '1709516340001' is not on a 1m boundary"),
    "more price decimals than the tick": (lambda r: _edit(r, 4, r[4] + "5"),
                                          "has more decimals than the instrument's price precision allows (1)"),
    "price not a number": (lambda r: _edit(r, 2, "42OOO.1"), "high '42OOO.1' is not a decimal number"),
    "close time outside the day": (lambda r: _edit(r, 6, "1709596800000"),
                                   "close_time '1709596800000' lies outside the file's UTC day"),
}


@pytest.mark.parametrize("fault", list(UNREADABLE_BARS))
def test_what_cannot_be_read_fails_closed_naming_file_and_line(tmp_path: Path, fault: str) -> None:
    edit, message = UNREADABLE_BARS[fault]
    generated = generate_klines(tmp_path, Market.USDM, "BTCUSDT", header=True)
    line = 101
    generated = edit_bars(generated, [line], edit)
    with pytest.raises(ArchiveDataError) as failure:
        _normalize(generated, "BTCUSDT")
    assert str(failure.value).startswith(f"BTCUSDT-1m-2024-03-04.zip, line {line}: ")
    assert message in str(failure.value)


def test_a_day_breaking_the_ohlcv_rules_is_normalized_judged_and_kept_out_of_the_catalog(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the published day is withdrawn by that policy (the default keeps it: test_republication.py)
    monkeypatch.setenv("HEDGEGRID_FAILED_REPUBLICATION", "withdraw")
    store = DataStore(tmp_path)
    plan = BarPlan.of(["1m", "5m"], ["5m", "1h"])
    minutes = generate_klines(store.raw, Market.USDM, "BTCUSDT", header=True)
    generate_klines(store.raw, Market.USDM, "BTCUSDT", interval="5m", header=True)
    rows = read_csv_rows(minutes.zip_path)
    normalize_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan)
    publish_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan)
    catalog_days = sorted(p.relative_to(store.catalog).as_posix() for p in store.catalog.rglob("*.parquet"))
    assert len([d for d in catalog_days if d.startswith("data/bar/")]) == 3

    lines = rising_lines(minutes, 3)
    edit_bars(minutes, lines, high_below_close)
    day = normalize_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan)
    [rules, gaps] = day.verdicts
    assert (rules.check, rules.passed, rules.metadata["high_below_open_or_close"]) == ("ohlcv_rules", False, 3)
    assert [e["line"] for e in rules.metadata["first_violations"]] == lines
    assert gaps.passed and not [i for i in plan.published if f"{i}_bars" in day.metadata]  # no bars staged
    assert day.report["blocked"] and day.report["quality_score"] == 0.0
    # the normalized tables are written, judged
    assert [day.metadata["1m_rows"], day.metadata["5m_rows"]] == [1_440, 288]
    assert day.metadata["1m_path"].exists() and day.metadata["5m_path"].exists()
    assert not any(store.catalog.rglob("bar/**/*.parquet")) and not any(store.staging.rglob("bar/**/*.parquet"))
    with pytest.raises(HedgegridDataError, match="blocking checks failed: ohlcv_rules: 3 of 1440 1m bars break"):
        publish_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan)
    report = (store.root / "quality/binance/um/klines/BTCUSDT/2024-03-04.report.md").read_text()
    assert "| ohlcv_rules | ERROR | FAIL | 3 of 1440 1m bars break the OHLCV rules" in report

    replace_csv(minutes, "".join(",".join(row) + "\n" for row in rows))
    assert normalize_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan).report["quality_score"] == 1.0
    assert publish_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan).integrity.passed
    assert sorted(p.relative_to(store.catalog).as_posix() for p in store.catalog.rglob("*.parquet")) == catalog_days


def test_bar_completeness_is_the_share_of_expected_bars(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    generate_klines(store.raw, Market.SPOT, "BTCUSDT", missing_minutes=range(0, 144))
    day = normalize_klines_day(store, Market.SPOT, "BTCUSDT", DAY, BarPlan.of(["1m"], []))
    assert (day.report["completeness"], day.report["validity"], day.report["quality_score"]) == (0.9, 0.5, 0.5)
    assert day.report["findings"] == {"bar_gaps": "144 of 1440 bars missing in 1 windows"}


def test_a_klines_file_under_a_mark_price_folder_is_refused(tmp_path: Path) -> None:
    klines = generate_klines(tmp_path, Market.USDM, "BTCUSDT")
    marks = generate_klines(tmp_path, Market.USDM, "BTCUSDT", data_type="markPriceKlines")
    marks.zip_path.write_bytes(klines.zip_path.read_bytes())
    with pytest.raises(ArchiveDataError, match=r"line 1: volume '[0-9.]+' is not 0: markPriceKlines carry no volumes"):
        normalize_kline_file(marks.zip_path, marks.archive_file, symbol_spec(Market.USDM, "BTCUSDT"))


@pytest.mark.parametrize("data_type", ["markPriceKlines", "indexPriceKlines", "premiumIndexKlines"])
def test_price_index_tables_are_exact(tmp_path: Path, data_type: str) -> None:
    generated = generate_klines(tmp_path, Market.COINM, "BTCUSD_PERP", data_type=data_type, header=True)
    normalized = _normalize(generated, "BTCUSD_PERP")
    assert normalized.table.column_names == ["open_time", "open", "high", "low", "close", "close_time",
                                             "source_points"]
    expected = [[int(r[0]) * 10**6, *map(Decimal, r[1:5]), int(r[6]) * 10**6, int(r[8])] for r in csv_bars(generated)]
    got = [[row["open_time"].value, row["open"], row["high"], row["low"], row["close"], row["close_time"].value,
            row["source_points"]] for row in normalized.table.to_pylist()]
    assert got == expected
    if data_type == "premiumIndexKlines":
        assert any(row[4] < 0 for row in got)
    if data_type == "indexPriceKlines":
        assert generated.archive_file.key.startswith("data/futures/cm/daily/indexPriceKlines/BTCUSD/1m/BTCUSD-1m-")


def _nautilus_bars(generated: GeneratedDay, bars_type, price_precision: int, size_precision: int) -> list[Bar]:
    unit = time_unit_for(generated.archive_file.market, generated.archive_file.day).nanos
    return [Bar(bars_type, *(Price(Decimal(r[i]), price_precision) for i in (1, 2, 3, 4)),
                Quantity(Decimal(r[5]), size_precision), int(r[6]) * unit, int(r[6]) * unit)
            for r in csv_bars(generated)]


def test_bar_and_mark_price_files_are_the_ones_nautilus_writes(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "ours")
    klines = generate_klines(store.raw, Market.USDM, "BTCUSDT", seed=5)
    marks = generate_klines(store.raw, Market.USDM, "BTCUSDT", data_type="markPriceKlines", seed=6)
    plan = BarPlan.of(["1m"], [])
    normalize_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan)
    published = publish_klines_day(store, Market.USDM, "BTCUSDT", DAY, plan).days["1m"]
    normalize_price_index_day(store, Market.USDM, "markPriceKlines", "BTCUSDT", DAY)
    published_marks = publish_mark_prices_day(store, Market.USDM, "BTCUSDT", DAY)

    reference = ParquetDataCatalog(str(tmp_path / "reference"))
    start, end = day_bounds_ns(DAY)
    instrument_id = InstrumentId.from_str("BTCUSDT-PERP.BINANCE")
    reference.write_data(_nautilus_bars(klines, bar_type(instrument_id, "1m"), 1, 3), start=start, end=end)
    reference.write_data([MarkPriceUpdate(instrument_id, Price(Decimal(r[4]), 8), int(r[6]) * 10**6,
                                          int(r[6]) * 10**6) for r in csv_bars(marks)], start=start, end=end)
    assert published.path is not None and published_marks.day.path is not None
    for ours, data_cls, identifier in [(published.path, Bar, "BTCUSDT-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL"),
                                       (published_marks.day.path, MarkPriceUpdate, "BTCUSDT-PERP.BINANCE")]:
        theirs = day_file_path(tmp_path / "reference", data_cls, identifier, DAY)
        assert pq.read_schema(ours) == pq.read_schema(theirs)
        assert pq.read_schema(ours).metadata == pq.read_schema(theirs).metadata
        assert pq.read_table(ours).equals(pq.read_table(theirs))
        assert ours.read_bytes() == theirs.read_bytes()
    assert pq.read_schema(published_marks.day.path).metadata[b"price_precision"] == b"8"


def test_bar_volumes_with_more_decimals_than_the_instrument_fail_until_the_symbol_s_history_is_configured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spot BTCUSDT steps are 0.00001 now but volumes had 6 decimals in 2020: never rounded, never mixed. A symbols
    file with only today's step refuses the 2020 day naming the setting; the default file's size_decimals takes it."""
    store = DataStore(tmp_path)
    monkeypatch.setenv("HEDGEGRID_SYMBOLS_FILE", str(edited_symbols_file(tmp_path, Market.SPOT, "BTCUSDT",
                                                                       size_decimals=None)))
    plan = BarPlan.of(["1m"], ["1h"])
    old = dt.date(2020, 3, 4)
    old_day = generate_klines(store.raw, Market.SPOT, "BTCUSDT", old, volume_precision=6)
    first_long = next(i for i, r in enumerate(csv_bars(old_day)) if Decimal(r[5]) != round(Decimal(r[5]), 5))
    with pytest.raises(ArchiveDataError, match=rf"line {first_long + 1}: volume {csv_bars(old_day)[first_long][5]}"
                                               r".* on 2020-03-04 has more decimals than BTCUSDT.BINANCE's size "
                                               r"precision \(5\); set size_decimals for BTCUSDT in the symbols file"):
        normalize_klines_day(store, Market.SPOT, "BTCUSDT", old, plan)
    assert not store.staging.exists() or not any(store.staging.rglob("*.parquet"))

    monkeypatch.delenv("HEDGEGRID_SYMBOLS_FILE")
    staged = normalize_klines_day(store, Market.SPOT, "BTCUSDT", old, plan)
    assert {staged.metadata[f"{interval}_volume_precision"] for interval in plan.published} == {6}
    publish_klines_day(store, Market.SPOT, "BTCUSDT", old, plan)
    bars = ParquetDataCatalog(str(store.catalog)).bars(bar_types=["BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL"])
    assert [Decimal(str(b.volume)) for b in bars] == [Decimal(r[5]) for r in csv_bars(old_day)]
    assert {b.volume.precision for b in bars} == {6}


def test_index_price_updates_are_not_readable_from_a_1_220_catalog(tmp_path: Path) -> None:
    """Why index klines stay tables: write_data accepts IndexPriceUpdate, but the catalog cannot read it back."""
    catalog = ParquetDataCatalog(str(tmp_path))
    catalog.write_data([IndexPriceUpdate(InstrumentId.from_str("BTCUSD-PERP.BINANCE"), Price.from_str("42000.12345678"),
                                         1, 1)])
    with pytest.raises(NotImplementedError):
        catalog.query(IndexPriceUpdate)


def test_rematerializing_a_day_replaces_exactly_that_day(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    plan = BarPlan.of(["1m"], ["5m"])
    for day in (DAY, DAY + dt.timedelta(days=1)):
        generate_klines(store.raw, Market.COINM, "BTCUSD_PERP", day)
        normalize_klines_day(store, Market.COINM, "BTCUSD_PERP", day, plan)
        publish_klines_day(store, Market.COINM, "BTCUSD_PERP", day, plan)
    republished = generate_klines(store.raw, Market.COINM, "BTCUSD_PERP", DAY, seed=9, missing_minutes=range(600))
    normalize_klines_day(store, Market.COINM, "BTCUSD_PERP", DAY, plan)
    publish_klines_day(store, Market.COINM, "BTCUSD_PERP", DAY, plan)
    catalog = ParquetDataCatalog(str(store.catalog))
    minutes = catalog.bars(bar_types=["BTCUSD-PERP.BINANCE-1-MINUTE-LAST-EXTERNAL"])
    assert len(minutes) == 840 + 1_440
    assert [str(b.close) for b in minutes[:840]] == [f"{Decimal(r[4]):.1f}" for r in csv_bars(republished)]
    assert len(catalog.bars(bar_types=["BTCUSD-PERP.BINANCE-5-MINUTE-LAST-EXTERNAL"])) == 168 + 288
    assert {b.volume.precision for b in minutes} == {0}
    assert kline_archive_file(Market.COINM, "indexPriceKlines", "BTCUSD_PERP", DAY, "1m").symbol == "BTCUSD"


def test_coin_m_mark_index_and_premium_days_with_index_prices_from_the_pair_folder(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    marks = generate_klines(store.raw, Market.COINM, "BTCUSD_PERP", data_type="markPriceKlines", header=True)
    index = generate_klines(store.raw, Market.COINM, "BTCUSD_PERP", data_type="indexPriceKlines", seed=1)
    generate_klines(store.raw, Market.COINM, "BTCUSD_PERP", data_type="premiumIndexKlines", seed=2)
    assert index.archive_file.key == "data/futures/cm/daily/indexPriceKlines/BTCUSD/1m/BTCUSD-1m-2024-03-04.zip"
    staged = {data_type: normalize_price_index_day(store, Market.COINM, data_type, "BTCUSD_PERP", DAY)
              for data_type in ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines")}
    mark_feed = price_index_feed(Market.COINM, "markPriceKlines")
    assert staged["markPriceKlines"].metadata["mark_price_precision"] == 8
    assert day_file_path(mark_feed.staging(store), MarkPriceUpdate, "BTCUSD-PERP.BINANCE", DAY).exists()
    for data_type in ("indexPriceKlines", "premiumIndexKlines"):  # tables only: nothing staged
        assert "mark_price_precision" not in staged[data_type].metadata
        assert not any(price_index_feed(Market.COINM, data_type).staging(store).rglob("*.parquet"))
    assert staged["indexPriceKlines"].metadata["1m_path"].parts[-3:] == ("indexPriceKlines_1m", "BTCUSD",
                                                                        "2024-03-04.parquet")
    published = publish_mark_prices_day(store, Market.COINM, "BTCUSD_PERP", DAY).day
    assert published.rows_in == published.rows_out == 1_440
    updates = ParquetDataCatalog(str(store.catalog)).query(MarkPriceUpdate, identifiers=["BTCUSD-PERP.BINANCE"])
    assert [(str(u.value), u.ts_event, u.ts_init) for u in updates] == [
        (r[4], int(r[6]) * 10**6, int(r[6]) * 10**6) for r in csv_bars(marks)]
    assert sorted(p.name for p in (store.catalog / "data").iterdir()) == ["crypto_perpetual", "mark_price_update"]
