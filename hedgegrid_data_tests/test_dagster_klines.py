"""The kline-like asset groups in a real Dagster instance, against the loopback archive server: real samples read
back through Nautilus, archive intervals cross-checked, OHLCV violations kept out of the catalog until the source
is fixed, missing days, wrong units, and a BacktestNode run."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    instance_for_test,
    materialize,
)
from nautilus_trader.config import (
    BacktestDataConfig,
)
from nautilus_trader.model.data import Bar, MarkPriceUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.epochs import TimeUnit, day_bounds_ns, utc_text
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.download import BinanceArchive
from hedgegrid_data.sources.binance_archive.feeds import PRICE_INDEX_DATASETS, klines_feed, price_index_feed
from hedgegrid_data.sources.binance_archive.klines import HIGHER_TIMEFRAMES
from hedgegrid_data.sources.binance_archive.klines_day import BarPlan, kline_archive_file
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import (
    inject_malformed_row,
    read_csv_rows,
    read_csv_text,
    replace_csv,
)
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.testing.kline_generator import write_kline_month
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import materializations
from hedgegrid_data_tests.test_klines import (
    csv_bars,
    edit_bars,
    generate_klines,
    high_below_close,
    rising_lines,
)

DAY = dt.date(2024, 3, 4)
from hedgegrid_data_tests.recording_actor import record_backtest


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    """One test instance for the module (creating one costs seconds); assertions read each run's own events."""
    with instance_for_test() as shared:
        yield shared


def _resources(server: ArchiveServer, store: DataStore) -> dict:
    return {
        "data_store": DataStoreResource(data_dir=str(store.root)),
        "binance_archive": BinanceArchiveResource(base_url=server.url, download_attempts=2),
    }


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def _failure(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    return failure.event_specific_data.error.message + str(failure.event_specific_data.user_failure_data)


def _decimals(text: str) -> int:
    return max(0, -Decimal(text).normalize().as_tuple().exponent)


def _assert_bars_equal_csv(bars: list[Bar], rows: list[list[str]], unit_ns: int, size_precision: int) -> None:
    assert len(bars) == len(rows)
    for bar, row in zip(bars, rows):
        assert [Decimal(str(v)) for v in (bar.open, bar.high, bar.low, bar.close, bar.volume)] == [
            Decimal(row[i]) for i in (1, 2, 3, 4, 5)]
        assert (bar.open.precision, bar.volume.precision) == (2, size_precision)
        assert bar.ts_event == bar.ts_init == int(row[6]) * unit_ns


REAL_SAMPLES = [  # (day, archive interval, time unit in ns, materialized by Dagster or by the pipeline functions)
    (dt.date(2020, 1, 1), "1m", 10**6, True), (dt.date(2020, 1, 2), "1m", 10**6, False),
    (dt.date(2020, 1, 3), "1m", 10**6, False), (dt.date(2026, 5, 8), "1h", 10**3, True),
    (dt.date(2026, 5, 9), "1h", 10**3, False),
]


def test_every_real_kline_sample_reads_back_through_nautilus_equal_to_the_csv_text(
        archive_with_samples: Path, archive_server: ArchiveServer, data_store: DataStore,
        instance: DagsterInstance, tmp_path: Path) -> None:
    # spot BTCUSDT volumes had 6 decimals in 2020 (step 0.000001) and have 5 now: the default symbols file gives
    # the instrument the 6 decimals of its history, so both eras ingest exactly into one instrument
    plans = {"1m": BarPlan.of(["1m"], HIGHER_TIMEFRAMES), "1h": BarPlan.of(["1h"], [])}
    with BinanceArchive(archive_server.url, data_store.raw) as archive:
        for day, interval, _, through_dagster in REAL_SAMPLES:
            plan = plans[interval]
            if through_dagster:
                assets = build_feed_assets(klines_feed(Market.SPOT, plan.intervals, plan.timeframes))
                result = materialize(assets, partition_key=f"{day}|BTCUSDT",
                                     resources=_resources(archive_server, data_store), instance=instance)
                assert result.success
                assert all(c.passed for c in result.get_asset_check_evaluations())
            else:
                archive.fetch_verified(kline_archive_file(Market.SPOT, "klines", "BTCUSDT", day, interval))
                feed = klines_feed(Market.SPOT, plan.intervals, plan.timeframes)
                normalize_day(feed, data_store, day, "BTCUSDT")
                publish_day(feed, data_store, day, "BTCUSDT")
    catalog = ParquetDataCatalog(str(data_store.catalog))
    for day, interval, unit_ns, _ in REAL_SAMPLES:
        rows = csv_bars(archive_with_samples / kline_archive_file(Market.SPOT, "klines", "BTCUSDT", day, interval).key)
        start, end = day_bounds_ns(day)
        step = "1-MINUTE" if interval == "1m" else "1-HOUR"
        bars = catalog.bars(bar_types=[f"BTCUSDT.BINANCE-{step}-LAST-EXTERNAL"], start=start, end=end)
        assert max(_decimals(r[5]) for r in rows) == (6 if day.year == 2020 else 5)
        _assert_bars_equal_csv(bars, rows, unit_ns, 6)
        if interval == "1m":
            [daily] = catalog.bars(bar_types=["BTCUSDT.BINANCE-1-DAY-LAST-EXTERNAL"], start=start, end=end)
            assert [Decimal(str(v)) for v in (daily.open, daily.high, daily.low, daily.close, daily.volume)] == [
                Decimal(rows[0][1]), max(Decimal(r[2]) for r in rows), min(Decimal(r[3]) for r in rows),
                Decimal(rows[-1][4]), sum(Decimal(r[5]) for r in rows)]
            assert daily.ts_event == end - 10**6 + 1
            assert len(catalog.bars(bar_types=["BTCUSDT.BINANCE-5-MINUTE-LAST-EXTERNAL"], start=start, end=end)) == 288

    # one instrument, one backtest over both eras: 2020's 1m bars (6-decimal volumes) and 2026's 1h bars (5)
    bar_types = [f"BTCUSDT.BINANCE-{spec}-LAST-EXTERNAL" for spec in ("1-MINUTE", "1-HOUR")]
    received = record_backtest(
        tmp_path / "received.jsonl",
        [BacktestDataConfig(catalog_path=str(data_store.catalog), data_cls=Bar, bar_types=bar_types)],
        account_type="CASH", starting_balances=("1000000 USDT", "10 BTC"), start="2020-01-01T00:00:00Z",
        end="2026-05-10T00:00:00Z", bar_types=bar_types)
    assert [r[-1] for r in received] == sorted(r[-1] for r in received)
    expected = {bar_type: [] for bar_type in bar_types}
    for day, interval, unit_ns, _ in REAL_SAMPLES:
        rows = csv_bars(archive_with_samples / kline_archive_file(Market.SPOT, "klines", "BTCUSDT", day, interval).key)
        expected[bar_types[interval == "1h"]] += [[str(Decimal(v).quantize(Decimal(1) / 10 ** p)) for v, p in
                                                    zip(r[1:6], (2, 2, 2, 2, 6), strict=True)] for r in rows]
    minutes, hours = ([r[2:7] for r in received if r[1] == bar_type] for bar_type in bar_types)
    assert minutes == expected[bar_types[0]]  # 2020, volumes at 6 decimals as printed
    assert len(hours) == 3 * 24 + 2 * 24 and hours[-48:] == expected[bar_types[1]]  # 2020's built from 1m, then 2026


def test_a_5m_archive_file_disagreeing_with_the_1m_bars_fails_and_publishes_nothing(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, instance: DagsterInstance) -> None:
    generate_klines(archive_root, Market.USDM, "BTCUSDT")
    five = generate_klines(archive_root, Market.USDM, "BTCUSDT", interval="5m")
    row = read_csv_rows(five.zip_path)[99]
    row[5] = f"{Decimal(row[5]) + Decimal('0.001'):.3f}"
    inject_malformed_row(five, 100, ",".join(row))
    result = materialize(build_feed_assets(klines_feed(Market.USDM, intervals=("1m", "5m"))),
                         partition_key=f"{DAY}|BTCUSDT", resources=_resources(archive_server, data_store),
                         instance=instance, raise_on_error=False)
    assert not result.success
    assert ("BTCUSDT-5m-2024-03-04.zip, line 100: the 5m bar opening 2024-03-04T08:15:00.000000000Z differs: "
            "volume built from 1m is") in _failure(result)
    assert [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()] == [
        "binance_um_klines_raw", "binance_um_klines_quality_report"]  # the report is rewritten by every run
    assert _files(data_store.catalog) == _files(data_store.staging) == _files(data_store.root / "normalized") == []


def _check(result, name: str):
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == name]
    return check


def _bar_days(store: DataStore, day: dt.date) -> list[str]:
    return sorted(p.parent.name for p in (store.catalog / "data" / "bar").rglob(f"{day}T*.parquet"))


def test_a_day_breaking_the_ohlcv_rules_stays_out_of_the_catalog_until_the_source_is_fixed(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, instance: DagsterInstance,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the published day is withdrawn by that policy (the default keeps it: test_republication.py)
    monkeypatch.setenv("HEDGEGRID_FAILED_REPUBLICATION", "withdraw")
    day = generate_klines(archive_root, Market.USDM, "BTCUSDT", header=True)
    text = read_csv_text(day.zip_path)
    assets = build_feed_assets(klines_feed(Market.USDM))
    partition = f"{DAY}|BTCUSDT"

    def run(selection: list[AssetKey] | None = None):
        return materialize(assets, selection=selection, partition_key=partition, instance=instance,
                           raise_on_error=False,
                           resources=_resources(archive_server, data_store))

    assert run().success
    bar_types = _bar_days(data_store, DAY)
    assert len(bar_types) == 6
    # the archive re-publishes the day (new CHECKSUM) with the high below the close at 3 bars
    lines = rising_lines(day, 3)
    edit_bars(day, lines, high_below_close)
    result = run()
    assert not result.success
    [normalized] = materializations(result, "binance_um_klines_normalized")
    assert normalized.metadata["quality_score"].value == 0.0
    rules = _check(result, "ohlcv_rules")
    assert not rules.passed and rules.severity.value == "ERROR"
    assert rules.metadata["high_below_open_or_close"].value == 3
    violations = rules.metadata["first_violations"].value
    assert [v["line"] for v in violations] == lines
    assert [v["open_time"] for v in violations] == [utc_text(int(text.splitlines()[line - 1].split(",")[0]) * 10**6)
                                                    for line in lines]
    assert materializations(result, "binance_um_klines_catalog") == []
    assert _bar_days(data_store, DAY) == []
    # publishing alone is refused too: the gate is on the write
    alone = run([AssetKey("binance_um_klines_catalog")])
    assert not alone.success and "blocking checks failed: ohlcv_rules" in _failure(alone)
    assert _bar_days(data_store, DAY) == []
    # the run rewrote the group's rolling report itself (no run of its own)
    [report] = [e for e in result.get_asset_materialization_events()
                if e.asset_key == AssetKey("binance_um_klines_quality_report")]
    summary = report.step_materialization_data.materialization.metadata
    assert summary["BTCUSDT_blocked_days"].value == 1
    assert summary["BTCUSDT_missing_days"].value == ["2024-03-04"]
    assert "| 2024-03-04|BTCUSDT | 0.00 |" in summary["summary"].value
    # fixed at the source: the day comes back
    replace_csv(day, text)
    fixed = run()
    assert fixed.success and _check(fixed, "ohlcv_rules").passed and _check(fixed, "catalog_integrity").passed
    assert _bar_days(data_store, DAY) == bar_types
    assert materializations(fixed, "binance_um_klines_normalized")[0].metadata[
        "quality_score"].value == 1.0


def test_a_mark_price_day_breaking_the_ohlcv_rules_publishes_no_mark_prices(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, instance: DagsterInstance) -> None:
    marks = generate_klines(archive_root, Market.COINM, "BTCUSD_PERP", data_type="markPriceKlines")
    edit_bars(marks, [1_440], lambda r: [*r[:6], str(int(r[6]) - 1), *r[7:]])
    assets = build_feed_assets(price_index_feed(Market.COINM, "markPriceKlines"))
    result = materialize(assets, partition_key=f"{DAY}|BTCUSD_PERP", instance=instance, raise_on_error=False,
                         resources=_resources(archive_server, data_store))
    assert not result.success
    rules = _check(result, "ohlcv_rules")
    assert not rules.passed and rules.metadata["close_time_not_open_plus_interval"].value == 1
    assert [v["line"] for v in rules.metadata["first_violations"].value] == [1_440]
    assert "negative_volume" not in rules.metadata
    assert _check(result, "bar_gaps").passed
    assert _files(data_store.catalog) == _files(data_store.staging) == []
    assert (data_store.root / "quality/binance/cm/markPriceKlines/BTCUSD_PERP/2024-03-04.report.json").exists()


def test_a_wrong_time_unit_fails_the_run_naming_the_file(archive_root: Path, archive_server: ArchiveServer,
                                                         data_store: DataStore, instance: DagsterInstance) -> None:
    generate_klines(archive_root, Market.SPOT, "BTCUSDT", dt.date(2024, 1, 2), time_unit=TimeUnit.MICROSECONDS)
    result = materialize(build_feed_assets(klines_feed(Market.SPOT)), partition_key="2024-01-02|BTCUSDT",
                         resources=_resources(archive_server, data_store), instance=instance,
                         raise_on_error=False)
    assert not result.success
    assert ("BTCUSDT-1m-2024-01-02.zip: timestamps are in microseconds (16 digits) but spot klines dated 2024-01-02 "
            "are in milliseconds") in _failure(result)
    assert _files(data_store.catalog) == _files(data_store.staging) == []


def test_a_month_with_a_missing_mark_price_day_reports_that_day_not_published(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, instance: DagsterInstance) -> None:
    missing = dt.date(2024, 2, 14)
    days = write_kline_month(archive_root, Market.USDM, "markPriceKlines", "BTCUSDT", dt.date(2024, 2, 1),
                             omit=[missing], price_precision=1, volume_precision=3)
    assert len(days) == 28
    mark_assets = build_feed_assets(price_index_feed(Market.USDM, "markPriceKlines"))
    failed = materialize(mark_assets, partition_key=f"{missing}|BTCUSDT",
                         resources=_resources(archive_server, data_store), instance=instance, raise_on_error=False)
    assert not failed.success
    assert "BTCUSDT-1m-2024-02-14.zip.CHECKSUM: HTTP 404, not published (yet)" in _failure(failed)
    assert "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/" in _failure(failed)
    assert _files(data_store.root) == []
    # the other days of the month through the same download and steps, without Dagster's per-run overhead
    mark_feed = price_index_feed(Market.USDM, "markPriceKlines")
    with BinanceArchive(archive_server.url, data_store.raw) as archive:
        for generated in days:
            day = generated.archive_file.day
            archive.fetch_verified(generated.archive_file)
            normalize_day(mark_feed, data_store, day, "BTCUSDT")
            publish_day(mark_feed, data_store, day, "BTCUSDT")
    catalog = ParquetDataCatalog(str(data_store.catalog))
    start, end = day_bounds_ns(dt.date(2024, 2, 1))[0], day_bounds_ns(dt.date(2024, 2, 29))[1]
    assert catalog.get_missing_intervals_for_request(start, end, MarkPriceUpdate, "BTCUSDT-PERP.BINANCE") == [
        day_bounds_ns(missing)]
    assert len(catalog.query(MarkPriceUpdate, identifiers=["BTCUSDT-PERP.BINANCE"])) == 28 * 1_440


def test_spot_has_no_mark_price_groups() -> None:
    with pytest.raises(ValueError, match="USD-M and COIN-M only"):
        price_index_feed(Market.SPOT, "markPriceKlines")
    with pytest.raises(ValueError, match=r"\['15m'\] cannot be built from 1h .* to HEDGEGRID_KLINE_INTERVALS"):
        klines_feed(Market.SPOT, intervals=("1h",), timeframes=("15m",))


def test_hourly_klines_alone_load_and_publish_1h_4h_and_1d_bars(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, instance: DagsterInstance) -> None:
    """``HEDGEGRID_KLINE_INTERVALS=1h``: the definitions load, and the timeframes the hourly bars make are built."""
    env = {**os.environ, "HEDGEGRID_KLINE_INTERVALS": "1h"}
    code = ("from dagster import AssetKey; from hedgegrid_data.definitions import defs; "
            "print(defs.resolve_asset_graph().has(AssetKey('binance_spot_klines_catalog')))")
    loaded = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "True", loaded.stderr[-3000:]

    hours = generate_klines(archive_root, Market.SPOT, "BTCUSDT", interval="1h")
    feed = klines_feed(Market.SPOT, intervals=("1h",))
    result = materialize(build_feed_assets(feed), partition_key=f"{DAY}|BTCUSDT",
                         resources=_resources(archive_server, data_store), instance=instance)
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    rows = csv_bars(hours)
    catalog = ParquetDataCatalog(str(data_store.catalog))
    start, end = day_bounds_ns(DAY)
    counts = {step: len(catalog.bars(bar_types=[f"BTCUSDT.BINANCE-{step}-LAST-EXTERNAL"], start=start, end=end))
              for step in ("1-HOUR", "4-HOUR", "1-DAY")}
    assert counts == {"1-HOUR": 24, "4-HOUR": 6, "1-DAY": 1}
    [daily] = catalog.bars(bar_types=["BTCUSDT.BINANCE-1-DAY-LAST-EXTERNAL"], start=start, end=end)
    assert [Decimal(str(v)) for v in (daily.open, daily.high, daily.low, daily.close, daily.volume)] == [
        Decimal(rows[0][1]), max(Decimal(r[2]) for r in rows), min(Decimal(r[3]) for r in rows),
        Decimal(rows[-1][4]), sum(Decimal(r[5]) for r in rows)]
    [normalized] = [m for m in result.get_asset_materialization_events()
                    if m.asset_key.to_user_string() == "binance_spot_klines_normalized"]
    assert normalized.materialization.metadata["4h_bars_source"].value == "built from 1h"


def test_a_usd_m_day_through_every_group_then_a_backtest_node_receives_every_bar_and_mark_price(
        archive_root: Path, archive_server: ArchiveServer, data_store: DataStore, tmp_path: Path,
        instance: DagsterInstance) -> None:
    minutes = generate_klines(archive_root, Market.USDM, "BTCUSDT", seed=11, header=True, missing_minutes=[300, 301])
    five = generate_klines(archive_root, Market.USDM, "BTCUSDT", interval="5m", seed=11, missing_minutes=[300, 301])
    marks = generate_klines(archive_root, Market.USDM, "BTCUSDT", data_type="markPriceKlines", seed=12)
    generate_klines(archive_root, Market.USDM, "BTCUSDT", data_type="indexPriceKlines", seed=13)
    generate_klines(archive_root, Market.USDM, "BTCUSDT", data_type="premiumIndexKlines", seed=14)
    assets = [*build_feed_assets(klines_feed(Market.USDM, intervals=("1m", "5m"))),
              *(a for data_type in PRICE_INDEX_DATASETS for a in build_feed_assets(price_index_feed(Market.USDM,
                                                                                                   data_type)))]
    assert {getattr(a, "group_name", None) or g for a in assets
            for g in getattr(a, "group_names_by_key", {None: None}).values()} == {
        "binance_um_klines", "binance_um_mark_price_klines", "binance_um_index_price_klines",
        "binance_um_premium_index_klines"}
    result = materialize(assets, partition_key=f"{DAY}|BTCUSDT", resources=_resources(archive_server, data_store),
                         instance=instance)
    assert result.success
    checks = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in result.get_asset_check_evaluations()}
    assert [key for key, passed in checks.items() if not passed] == [("binance_um_klines_normalized", "bar_gaps")]
    assert len(checks) == 7 + 6 + 4 + 4  # klines 1 + 3 + 3, mark prices 1 + 3 + 2, index and premium 1 + 3 each
    assert {("binance_um_klines_catalog", "catalog_integrity"), ("binance_um_mark_price_klines_catalog",
            "catalog_integrity"), ("binance_um_premium_index_klines_normalized", "ohlcv_rules")} <= set(checks)
    [gaps] = [c for c in result.get_asset_check_evaluations()
              if c.check_name == "bar_gaps" and c.asset_key.to_user_string() == "binance_um_klines_normalized"]
    assert gaps.severity.value == "WARN" and gaps.metadata["missing_bars"].value == 2
    assert gaps.metadata["windows"].value == [
        {"from": "2024-03-04T05:00:00.000000000Z", "to": "2024-03-04T05:02:00.000000000Z", "missing_bars": 2}]
    assert ("binance_um_klines_catalog", "bars_agree_with_archive") in checks
    [klines] = materializations(result, "binance_um_klines_normalized")
    metadata = klines.metadata
    assert (metadata["1m_rows"].value, metadata["1m_missing_bars"].value, metadata["1m_header"].value) == (
        1_438, 2, True)
    assert metadata["5m_bars_source"].value == "built from 1m, equal to the archive's"
    assert metadata["4h_bars_source"].value == "built from 1m"
    assert metadata["1m_volume_precision"].value == 3
    [marks_normalized] = materializations(result, "binance_um_mark_price_klines_normalized")
    assert marks_normalized.metadata["mark_price_precision"].value == 8
    normalized = data_store.root / "normalized" / "binance" / "um"
    assert sorted(p.relative_to(normalized).as_posix() for p in _files(normalized)) == [
        f"{dataset}/BTCUSDT/2024-03-04.parquet" for dataset in (
            "indexPriceKlines_1m", "klines_1m", "klines_5m", "markPriceKlines_1m", "premiumIndexKlines_1m")]
    catalog = ParquetDataCatalog(str(data_store.catalog))
    assert [[str(b.open), str(b.high), str(b.low), str(b.close), str(b.volume), b.ts_event]
            for b in catalog.bars(bar_types=["BTCUSDT-PERP.BINANCE-5-MINUTE-LAST-EXTERNAL"])] == [
        [*r[1:6], int(r[6]) * 10**6] for r in csv_bars(five)]
    assert len(catalog.bars(bar_types=["BTCUSDT-PERP.BINANCE-4-HOUR-LAST-EXTERNAL"])) == 6

    instrument_id = "BTCUSDT-PERP.BINANCE"
    bar_types = [f"{instrument_id}-{spec}-LAST-EXTERNAL" for spec in ("1-MINUTE", "5-MINUTE")]
    received = record_backtest(
        tmp_path / "received.jsonl",
        [BacktestDataConfig(catalog_path=str(data_store.catalog), data_cls=Bar, bar_types=bar_types),
         BacktestDataConfig(catalog_path=str(data_store.catalog), data_cls=MarkPriceUpdate,
                            instrument_id=instrument_id)],
        bar_types=bar_types, mark_price_instruments=[instrument_id])
    ts = [r[-1] for r in received]
    assert ts == sorted(ts)
    by_kind: dict[str, list] = {}
    for r in received:
        by_kind.setdefault(r[1] if r[0] == "Bar" else r[0], []).append(r)
    assert {k: len(v) for k, v in by_kind.items()} == {bar_types[0]: 1_438, bar_types[1]: 288, "MarkPriceUpdate": 1_440}
    assert [r[2:] for r in by_kind[bar_types[0]]] == [[*row[1:6], int(row[6]) * 10**6, int(row[6]) * 10**6]
                                                      for row in csv_bars(minutes)]
    assert [r[2:] for r in by_kind["MarkPriceUpdate"]] == [[row[4], int(row[6]) * 10**6, int(row[6]) * 10**6]
                                                           for row in csv_bars(marks)]
