"""Funding rates: month file → funding table (exact rates, boundaries, intervals, next funding times),
line-accurate errors, the Arrow codec and its day files in the Nautilus catalog, and a BacktestNode run."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from nautilus_trader.config import (
    BacktestDataConfig,
)
from nautilus_trader.model.data import FundingRateUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.catalog.funding_rates import (
    FUNDING_RATE_SCHEMA,
    register_funding_rate_codec,
    write_funding_rate_day,
)
from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError, HedgegridDataError
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.quality.report import day_report
from hedgegrid_data.sources.binance_archive.feeds import funding_feed
from hedgegrid_data.sources.binance_archive.funding import (
    funding_day,
    read_funding_month,
    validate_funding_day,
)
from hedgegrid_data.sources.binance_archive.funding_day import (
    funding_archive_file,
    funding_schedule,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import write_archive_csv
from hedgegrid_data.testing.funding_generator import (
    FundingEvent,
    funding_csv_text,
    write_funding_month,
    write_interval_change_month,
)
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import REPO_ROOT
from hedgegrid_data_tests.recording_actor import record_backtest

HOUR_NS = 3_600 * 10**9
SAMPLE_KEY = "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2026-04.zip"
BACKTEST_LINE = ("from hedgegrid_data.catalog.funding_rates import register_funding_rate_codec; "
                 "register_funding_rate_codec()")


def _sample_rows(binance_samples: Path) -> list[list[str]]:
    with zipfile.ZipFile(binance_samples / SAMPLE_KEY) as archive:
        (member,) = archive.namelist()
        return [line.split(",") for line in archive.read(member).decode().splitlines()]


def _update_tuples(updates: list[FundingRateUpdate]) -> list[tuple]:
    return [(u.instrument_id.value, str(u.rate), u.next_funding_ns, u.ts_event, u.ts_init) for u in updates]


def _expected(events: list[FundingEvent], instrument_id: str) -> list[tuple]:
    return [(instrument_id, e.rate, e.next_funding_ns, e.ts_event_ns, e.ts_event_ns) for e in events]


def _ingest(store: DataStore, market: Market, symbol: str, day: dt.date) -> None:
    feed = funding_feed(market)
    normalize_day(feed, store, day, symbol)
    publish_day(feed, store, day, symbol)


# --- pure: month file → funding table ---------------------------------------------------------------------


def test_real_sample_month_reads_exactly(binance_samples: Path) -> None:
    archive_file = funding_archive_file(Market.USDM, "BTCUSDT", dt.date(2026, 4, 15))
    month = read_funding_month(binance_samples / SAMPLE_KEY, archive_file)
    rows = _sample_rows(binance_samples)
    assert rows[0] == ["calc_time", "funding_interval_hours", "last_funding_rate"]
    assert (month.header, month.time_unit, month.source_rows, month.table.num_rows) == (
        True, TimeUnit.MILLISECONDS, 90, 90)
    assert month.intervals_hours == [8] and month.schedule_breaks == 0
    table = month.table.to_pydict()
    assert [format(r, "f") for r in table["rate"]] == [r[2] for r in rows[1:]]
    calc_ns = [int(r[0]) * 10**6 for r in rows[1:]]
    assert [int(t.timestamp()) * 10**9 + t.microsecond * 1000 for t in table["ts_event"]] == calc_ns
    boundaries = [c - c % HOUR_NS for c in calc_ns]
    # the real lags are 0-13 ms (41 of 90 exactly on the hour), well inside the 60 s the floor rule accepts
    assert max(c - b for c, b in zip(calc_ns, boundaries, strict=True)) == 13 * 10**6
    assert [int(t.timestamp()) * 10**9 for t in table["funding_time"]] == boundaries
    assert [int(t.timestamp()) * 10**9 for t in table["next_funding_time"]] == [b + 8 * HOUR_NS for b in boundaries]

    day = funding_day(month, dt.date(2026, 4, 15))
    assert [t.hour for t in day.column("funding_time").to_pylist()] == [0, 8, 16]


def test_interval_change_month_gives_exact_intervals_and_next_funding_times(tmp_path: Path) -> None:
    generated = write_interval_change_month(tmp_path, Market.COINM, "BTCUSD_PERP")
    month = read_funding_month(generated.zip_path, generated.archive_file)
    assert month.intervals_hours == [1, 4, 8]
    assert month.schedule_breaks == 0
    assert month.table.num_rows == len(generated.events) == 10 * 3 + 2 + 59 + 12 + 10 * 24

    for day, intervals in [
        (dt.date(2024, 3, 11), [8, 8, 4, 4]),
        (dt.date(2024, 3, 21), [4, 4, 4] + [1] * 12),
        (dt.date(2024, 3, 31), [1] * 24),
    ]:
        table = funding_day(month, day).to_pydict()
        events = generated.events_on(day)
        assert table["funding_interval_hours"] == intervals == [e.interval_hours for e in events]
        assert [format(r, "f") for r in table["rate"]] == [e.rate for e in events]
        as_ns = lambda values: [int(v.timestamp()) * 10**9 + v.microsecond * 1000 for v in values]  # noqa: E731
        assert as_ns(table["ts_event"]) == [e.ts_event_ns for e in events]
        assert as_ns(table["next_funding_time"]) == [e.next_funding_ns for e in events]
    # the day of the 8 → 4 switch, spelled out: 00:00 and 08:00 fund again 8 h later, 16:00 and 20:00 4 h later
    nexts = funding_day(month, dt.date(2024, 3, 11)).column("next_funding_time").to_pylist()
    assert [(n.day, n.hour) for n in nexts] == [(11, 8), (11, 16), (11, 20), (12, 0)]


def test_every_day_of_a_changing_schedule_and_of_the_real_month_follows_its_schedule(
        tmp_path: Path, binance_samples: Path) -> None:
    generated = write_interval_change_month(tmp_path, Market.COINM, "BTCUSD_PERP")
    month = read_funding_month(generated.zip_path, generated.archive_file)
    real = read_funding_month(binance_samples / SAMPLE_KEY,
                              funding_archive_file(Market.USDM, "BTCUSDT", dt.date(2026, 4, 1)))
    for funding_month, days in ((month, 31), (real, 30)):
        for number in range(1, days + 1):
            day = funding_month.archive_file.day.replace(day=number)
            verdict = funding_schedule(funding_day(funding_month, day), day)
            assert verdict.passed, (day, verdict.summary)
            assert verdict.metadata["events"] == verdict.metadata["expected_events"] > 0
    switch = funding_schedule(funding_day(month, dt.date(2024, 3, 21)), dt.date(2024, 3, 21))
    assert (switch.metadata["events"], switch.summary) == (15, "15 funding events, one at every boundary of their "
                                                               "schedule")


@pytest.mark.parametrize(("hours", "missing"), [
    ((8,), ["2024-02-10T08:00:00.000000000Z"]),
    ((0,), ["2024-02-10T00:00:00.000000000Z"]),
    ((0, 16), ["2024-02-10T00:00:00.000000000Z", "2024-02-10T16:00:00.000000000Z"]),
])
def test_boundaries_without_an_event_are_listed(tmp_path: Path, hours: tuple[int, ...], missing: list[str]) -> None:
    day = dt.date(2024, 2, 10)
    generated = write_funding_month(tmp_path, Market.USDM, "BTCUSDT", day)
    events = [e for e in generated.events_on(day) if (e.ts_event_ns // HOUR_NS) % 24 not in hours]
    text = funding_csv_text([*[e for e in generated.events if e.day != day], *events])
    zip_path, _ = write_archive_csv(tmp_path / "gaps", generated.archive_file, text)
    table = funding_day(read_funding_month(zip_path, generated.archive_file), day)
    verdict = funding_schedule(table, day)
    assert not verdict.passed and verdict.severity.value == "WARN" and not verdict.blocks
    assert verdict.metadata == {"events": 3 - len(hours), "expected_events": 3, "missing_boundaries": missing}
    assert verdict.summary == f"{len(hours)} funding boundaries of the day's schedule without an event"
    assert day_report("2024-02-10|BTCUSDT", [verdict])["completeness"] == pytest.approx((3 - len(hours)) / 3)


def test_headerless_unsorted_and_duplicated_rows(tmp_path: Path) -> None:
    generated = write_funding_month(tmp_path, Market.USDM, "ETHUSDT", dt.date(2024, 2, 1), seed=3)
    events = list(generated.events)
    shuffled = [events[5], *events[:5], events[3], *events[6:]]
    write_archive_csv(tmp_path, generated.archive_file, funding_csv_text(shuffled, header=False))
    month = read_funding_month(generated.zip_path, generated.archive_file)
    assert (month.header, month.resorted, month.duplicates_dropped) == (False, True, 1)
    assert month.table.num_rows == len(events) == 29 * 3
    assert [format(r, "f") for r in month.table.column("rate").to_pylist()] == [e.rate for e in events]


def _month_with(tmp_path: Path, line_no: int, text: str) -> tuple[Path, ArchiveFile]:
    generated = write_funding_month(tmp_path, Market.USDM, "BTCUSDT", dt.date(2024, 1, 1))
    lines = funding_csv_text(generated.events).splitlines()
    lines[line_no - 1] = text
    zip_path, _ = write_archive_csv(tmp_path, generated.archive_file, "\n".join(lines) + "\n")
    return zip_path, generated.archive_file


# line 7 of the generated January 2024 is 2024-01-02 16:00; 1704153600003 is 2024-01-02 00:00 (line 5's boundary)
BAD_ROWS = {
    "rate not a number": ("1704153600003,8,0.0001x", "line 7: last_funding_rate '0.0001x' is not a decimal number"),
    "rate too precise": ("1704153600003,8,-0.000012345", "line 7: last_funding_rate '-0.000012345' has more decimals"),
    "interval not dividing the day": ("1704153600003,5,0.0001", "line 7: funding_interval_hours 5 is not"),
    "calc_time in another month": ("1706745600001,8,0.0001", "line 7: calc_time 1706745600001 (2024-02-01T00:00:00"),
    "calc_time long after the hour": ("1704153661000,8,0.0001", "line 7: calc_time 1704153661000 (2024-01-02T00:01:01"),
    "same boundary twice": ("1704153600011,8,0.00012345", "line 5: different rows for the same funding boundary "
                                                          "on lines [5, 7]"),
    "microseconds": ("1704153600003000,8,0.0001", "line 7: calc_time '1704153600003000' is not in milliseconds"),
    "missing column": ("1704153600003,8", "line 7: CSV parse error"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_rows_fail_naming_file_and_line(tmp_path: Path, case: str) -> None:
    text, message = BAD_ROWS[case]
    zip_path, archive_file = _month_with(tmp_path, 7, text)
    with pytest.raises(ArchiveDataError) as raised:
        read_funding_month(zip_path, archive_file)
    assert raised.value.file == "BTCUSDT-fundingRate-2024-01.zip"
    assert message in str(raised.value)


def test_wrong_header_fails_on_line_1(tmp_path: Path) -> None:
    zip_path, archive_file = _month_with(tmp_path, 1, "calc_time,funding_interval,last_funding_rate")
    with pytest.raises(ArchiveDataError, match="line 1: header"):
        read_funding_month(zip_path, archive_file)


def test_schema_rules_reject_an_inconsistent_day(tmp_path: Path) -> None:
    generated = write_interval_change_month(tmp_path, Market.USDM, "BTCUSDT")
    month = read_funding_month(generated.zip_path, generated.archive_file)
    day = dt.date(2024, 3, 11)
    table = funding_day(month, day)
    validate_funding_day(table, day, generated.archive_file.file_name)
    shifted = pc.add(table.column("next_funding_time").cast(pa.int64()), HOUR_NS).cast(table.column(4).type)
    with pytest.raises(ArchiveDataError, match="next_funding_time_is_boundary_plus_interval"):
        validate_funding_day(table.set_column(4, "next_funding_time", shifted), day, "f.zip")
    with pytest.raises(ArchiveDataError, match="in_range"):
        validate_funding_day(table, dt.date(2024, 3, 12), "f.zip")


# --- catalog: codec, day files, exact round trip ----------------------------------------------------------


def test_codec_registration_is_idempotent_and_guards_a_foreign_codec() -> None:
    from nautilus_trader.serialization.arrow import serializer

    register_funding_rate_codec()
    register_funding_rate_codec()
    assert serializer.get_schema(FundingRateUpdate) is FUNDING_RATE_SCHEMA
    foreign = FUNDING_RATE_SCHEMA.remove_metadata()
    serializer.register_arrow(FundingRateUpdate, foreign)
    try:
        with pytest.raises(RuntimeError, match="another Arrow codec"):
            register_funding_rate_codec()
    finally:
        serializer.register_arrow(FundingRateUpdate, FUNDING_RATE_SCHEMA)
    register_funding_rate_codec()


def test_interval_change_days_round_trip_through_the_catalog(data_store: DataStore, tmp_path: Path) -> None:
    generated = write_interval_change_month(data_store.raw, Market.USDM, "BTCUSDT")
    other = write_funding_month(data_store.raw, Market.USDM, "ETHUSDT", dt.date(2024, 3, 1), seed=9)
    days = [dt.date(2024, 3, 11), dt.date(2024, 3, 21)]
    for day in days:
        _ingest(data_store, Market.USDM, "BTCUSDT", day)
    _ingest(data_store, Market.USDM, "ETHUSDT", days[0])

    register_funding_rate_codec()
    catalog = ParquetDataCatalog(str(data_store.catalog))
    btc = catalog.query(FundingRateUpdate, identifiers=["BTCUSDT-PERP.BINANCE"])
    expected_btc = _expected([e for d in days for e in generated.events_on(d)], "BTCUSDT-PERP.BINANCE")
    assert _update_tuples(btc) == expected_btc
    assert all(isinstance(u.rate, Decimal) for u in btc)
    # several instruments read as one dataset keep their own ids (a column, not file metadata)
    expected_eth = _expected(other.events_on(days[0]), "ETHUSDT-PERP.BINANCE")
    both = catalog.query(FundingRateUpdate)
    assert sorted(_update_tuples(both)) == sorted(expected_btc + expected_eth)
    assert [u.ts_init for u in both] == sorted(u.ts_init for u in both)
    assert {i.id.value for i in catalog.instruments()} == {"BTCUSDT-PERP.BINANCE", "ETHUSDT-PERP.BINANCE"}

    # the Arrow-direct day file is byte-identical to what write_data writes through the codec
    reference = ParquetDataCatalog(str(tmp_path / "reference"))
    start, end = day_bounds_ns(days[1])
    reference.write_data(catalog.query(FundingRateUpdate, identifiers=["BTCUSDT-PERP.BINANCE"], start=start,
                                       end=end), start=start, end=end)
    ours = day_file_path(data_store.catalog, FundingRateUpdate, "BTCUSDT-PERP.BINANCE", days[1])
    theirs = day_file_path(tmp_path / "reference", FundingRateUpdate, "BTCUSDT-PERP.BINANCE", days[1])
    assert ours.read_bytes() == theirs.read_bytes()

    # re-running a day replaces exactly that day
    _ingest(data_store, Market.USDM, "BTCUSDT", days[1])
    directory = ours.parent
    assert len(list(directory.glob("*.parquet"))) == 2


def test_day_without_events_writes_no_catalog_day(data_store: DataStore) -> None:
    gap = dt.date(2024, 5, 7)
    write_funding_month(data_store.raw, Market.COINM, "BTCUSD_PERP", gap, skip_days={gap})
    for day in (dt.date(2024, 5, 6), gap):
        _ingest(data_store, Market.COINM, "BTCUSD_PERP", day)
    feed = funding_feed(Market.COINM)
    normalized = normalize_day(feed, data_store, gap, "BTCUSD_PERP")
    summary = normalized.metadata
    assert (summary["rows"], summary["month_rows"], summary["month_schedule_breaks"]) == (0, 30 * 3, 1)
    [events, schedule] = normalized.verdicts
    assert (events.check, events.passed, events.severity.value, schedule.passed) == (
        "day_has_funding_events", False, "WARN", True)
    assert (normalized.report["completeness"], normalized.report["quality_score"]) == (0.0, 0.5)
    published = publish_day(feed, data_store, gap, "BTCUSD_PERP")
    assert (published.day.path, published.day.rows_in, published.day.rows_out) == (None, 0, 0)
    assert published.integrity.passed and published.integrity.summary == "no funding events: no day file"
    directory = day_file_path(data_store.catalog, FundingRateUpdate, "BTCUSD-PERP.BINANCE", gap).parent
    assert [p.name[:10] for p in directory.glob("*.parquet")] == ["2024-05-06"]
    catalog = ParquetDataCatalog(str(data_store.catalog))
    start, end = day_bounds_ns(gap)
    assert catalog.get_missing_intervals_for_request(start, end, FundingRateUpdate, "BTCUSD-PERP.BINANCE") == [
        (start, end)]


def test_a_staged_day_that_does_not_read_back_as_normalized_is_not_promoted(data_store: DataStore) -> None:
    day = dt.date(2024, 3, 11)
    generated = write_interval_change_month(data_store.raw, Market.USDM, "BTCUSDT")
    archive_file = funding_archive_file(Market.USDM, "BTCUSDT", day)
    feed = funding_feed(Market.USDM)
    normalize_day(feed, data_store, day, "BTCUSDT")
    month = read_funding_month(data_store.raw / archive_file.key, archive_file)
    tampered = funding_day(month, day)
    tampered = tampered.set_column(2, "rate", pa.array([Decimal("0.00000001")] * tampered.num_rows,
                                                       tampered.schema.field("rate").type))
    write_funding_rate_day(feed.staging(data_store), "BTCUSDT-PERP.BINANCE", day, tampered)
    first, last = generated.events_on(day)[0], generated.events_on(day)[-1]
    with pytest.raises(HedgegridDataError, match=rf"first row \('BTCUSDT-PERP.BINANCE', '0.00000001', .*\), "
                                                 rf"expected \('BTCUSDT-PERP.BINANCE', '{first.rate}', .*\); "
                                                 rf"last row .* expected \(.*'{last.rate}'.*; not published"):
        publish_day(feed, data_store, day, "BTCUSDT")
    assert not (data_store.catalog / "data" / "funding_rate_update").exists()


def test_backtest_node_receives_every_funding_update_of_the_day_in_time_order(data_store: DataStore,
                                                                                tmp_path: Path) -> None:
    day = dt.date(2024, 3, 21)
    generated = write_interval_change_month(data_store.raw, Market.USDM, "BTCUSDT", seed=5)
    _ingest(data_store, Market.USDM, "BTCUSDT", day)
    register_funding_rate_codec()
    output = tmp_path / "received.jsonl"
    instrument_id = "BTCUSDT-PERP.BINANCE"
    received = record_backtest(
        output, [BacktestDataConfig(catalog_path=str(data_store.catalog), data_cls=FundingRateUpdate,
                                    instrument_id=instrument_id)], funding_rate_instruments=[instrument_id])
    events = generated.events_on(day)
    assert len(received) == len(events) == 15
    assert [tuple(r[1:]) for r in received] == _expected(events, instrument_id)
    assert [r[4] for r in received] == sorted(r[4] for r in received)


def test_a_fresh_process_needs_the_one_line(data_store: DataStore) -> None:
    write_interval_change_month(data_store.raw, Market.USDM, "BTCUSDT")
    _ingest(data_store, Market.USDM, "BTCUSDT", dt.date(2024, 3, 11))
    query = ("from nautilus_trader.model.data import FundingRateUpdate\n"
             "from nautilus_trader.persistence.catalog import ParquetDataCatalog\n"
             f"print(len(ParquetDataCatalog({str(data_store.catalog)!r}).query(FundingRateUpdate)))\n")
    without = subprocess.run([sys.executable, "-c", query], capture_output=True, text=True, cwd=REPO_ROOT)
    assert without.returncode != 0 and "Cannot deserialize" in without.stderr
    with_line = subprocess.run([sys.executable, "-c", BACKTEST_LINE + "\n" + query], capture_output=True,
                               text=True, cwd=REPO_ROOT)
    assert with_line.returncode == 0, with_line.stderr[-2000:]
    assert with_line.stdout.strip() == "4"
