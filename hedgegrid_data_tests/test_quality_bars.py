"""The OHLCV rules as a pure verdict over normalized kline-like tables: every rule counted exactly with the
offending bars' open times and file lines; clean generated days and every real sample pass."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from hedgegrid_data.epochs import utc_text
from hedgegrid_data.quality.bars import OHLCV_RULES, ohlcv_rules, ohlcv_rules_of_files
from hedgegrid_data.quality.findings import Severity, Verdict
from hedgegrid_data.sources.binance_archive.klines import (
    normalize_kline_file,
    taker_buy_column,
    volume_column,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.testing.archive_generator import (
    GeneratedDay,
    read_csv_rows,
    replace_csv,
    write_archive_csv,
)
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import SymbolSpec, symbol_spec
from hedgegrid_data_tests.test_klines import (
    _edit,
    edit_bars,
    generate_klines,
    high_below_close,
    rising_lines,
)

DAY = dt.date(2024, 3, 4)
PRICE_ONLY_TYPES = ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines")


def _verdict(zip_path: Path, archive_file: ArchiveFile, spec: SymbolSpec) -> Verdict:
    kline = normalize_kline_file(zip_path, archive_file, spec)
    market = archive_file.market
    volumes = (volume_column(market), taker_buy_column(market)) if archive_file.data_type == "klines" else (None, None)
    return ohlcv_rules(kline.table, kline.interval, kline.time_unit, *volumes, kline.first_line)


def _rules(day: GeneratedDay, symbol: str) -> Verdict:
    return _verdict(day.zip_path, day.archive_file, symbol_spec(day.archive_file.market, symbol))


def _counts(verdict: Verdict) -> dict[str, int]:
    return {name: verdict.metadata[name] for name in OHLCV_RULES if verdict.metadata.get(name)}


def test_high_below_close_at_three_bars_is_counted_with_their_open_times_and_lines(tmp_path: Path) -> None:
    day = generate_klines(tmp_path, Market.USDM, "BTCUSDT", header=True)
    lines = rising_lines(day, 3)
    rows = read_csv_rows(edit_bars(day, lines, high_below_close).zip_path)
    verdict = _rules(day, "BTCUSDT")
    assert not verdict.passed and verdict.blocks and verdict.severity is Severity.ERROR
    assert _counts(verdict) == {"high_below_open_or_close": 3}
    assert (verdict.metadata["bars"], verdict.metadata["violating_bars"]) == (1_440, 3)
    assert verdict.summary == "3 of 1440 1m bars break the OHLCV rules: high ≥ max(open, close) (3)"
    examples = verdict.metadata["first_violations"]
    assert [e["line"] for e in examples] == lines
    assert [e["open_time"] for e in examples] == [utc_text(int(rows[line - 1][0]) * 10**6) for line in lines]
    first = rows[lines[0] - 1]
    assert examples[0] == {
        "interval": "1m", "line": lines[0], "open_time": utc_text(int(first[0]) * 10**6),
        "close_time": utc_text(int(first[6]) * 10**6), "violates": ["high_below_open_or_close"],
        **{name: f"{Decimal(first[i]).normalize():f}" for name, i in (
            ("open", 1), ("high", 2), ("low", 3), ("close", 4), ("volume", 5), ("taker_buy_volume", 9))}}


def _swap_high_low(row: list[str]) -> list[str]:
    return _edit(_edit(row, 2, row[3]), 3, row[2])


RULE_FAULTS = {  # fault on a rising bar → the rules it breaks (high < low always breaks the price order too)
    "high below close": (high_below_close, {"high_below_open_or_close": 1}),
    "low above open": (lambda r: _edit(r, 3, str(Decimal(r[1]) + Decimal("0.1"))), {"low_above_open_or_close": 1}),
    "high below low": (_swap_high_low, {"high_below_open_or_close": 1, "low_above_open_or_close": 1,
                                        "high_below_low": 1}),
    "negative volume": (lambda r: _edit(r, 5, "-1.000"), {"negative_volume": 1, "taker_buy_above_volume": 1}),
    "taker buy above volume": (lambda r: _edit(r, 9, str(Decimal(r[5]) + Decimal("0.001"))),
                               {"taker_buy_above_volume": 1}),
    "open time repeated": (lambda r: _edit(_edit(r, 0, str(int(r[0]) - 60_000)), 6, str(int(r[6]) - 60_000)),
                           {"open_time_not_increasing": 1}),
    "close time not open + 1m - 1ms": (lambda r: _edit(r, 6, str(int(r[6]) - 1)),
                                       {"close_time_not_open_plus_interval": 1}),
}


@pytest.mark.parametrize("fault", list(RULE_FAULTS))
def test_each_rule_counts_exactly_the_bar_that_breaks_it(tmp_path: Path, fault: str) -> None:
    edit, expected = RULE_FAULTS[fault]
    day = generate_klines(tmp_path, Market.USDM, "BTCUSDT", header=True)
    [line] = rising_lines(day, 1)
    verdict = _rules(edit_bars(day, [line], edit), "BTCUSDT")
    assert not verdict.passed and verdict.severity is Severity.ERROR
    assert _counts(verdict) == expected and verdict.metadata["violating_bars"] == 1
    [example] = verdict.metadata["first_violations"]
    assert example["line"] == line and example["violates"] == list(expected)


def test_decreasing_open_times_count_each_step_back(tmp_path: Path) -> None:
    day = generate_klines(tmp_path, Market.SPOT, "BTCUSDT", dt.date(2025, 2, 3))
    rows = read_csv_rows(day.zip_path)
    rows[500], rows[501] = rows[501], rows[500]  # lines 501 and 502 swapped: one step back, at line 502
    verdict = _rules(replace_csv(day, "".join(",".join(r) + "\n" for r in rows)), "BTCUSDT")
    assert _counts(verdict) == {"open_time_not_increasing": 1}
    [example] = verdict.metadata["first_violations"]
    assert (example["line"], example["open_time"]) == (502, "2025-02-03T08:20:00.000000000Z")


def test_price_only_klines_are_judged_on_order_and_times_and_may_be_negative(tmp_path: Path) -> None:
    premium = generate_klines(tmp_path, Market.COINM, "BTCUSD_PERP", data_type="premiumIndexKlines", header=True)
    verdict = _rules(premium, "BTCUSD_PERP")
    assert verdict.passed and "negative_volume" not in verdict.metadata
    assert any(Decimal(r[4]) < 0 for r in read_csv_rows(premium.zip_path)[1:])
    marks = generate_klines(tmp_path, Market.USDM, "BTCUSDT", data_type="markPriceKlines")
    broken = _rules(edit_bars(marks, [10, 20], _swap_high_low), "BTCUSDT")
    assert broken.metadata["high_below_low"] == 2 and broken.metadata["violating_bars"] == 2
    assert [e["line"] for e in broken.metadata["first_violations"]] == [10, 20]


CLEAN_DAYS = [(Market.SPOT, "BTCUSDT", dt.date(2025, 2, 3), "klines", "1m"),
              (Market.SPOT, "BTCUSDT", DAY, "klines", "1h"),
              (Market.USDM, "BTCUSDT", DAY, "klines", "5m"),
              (Market.COINM, "BTCUSD_PERP", DAY, "klines", "1m"),
              *((market, symbol, DAY, data_type, "1m") for market, symbol in
                ((Market.USDM, "BTCUSDT"), (Market.COINM, "BTCUSD_PERP")) for data_type in PRICE_ONLY_TYPES)]


@pytest.mark.parametrize(("market", "symbol", "day", "data_type", "interval"), CLEAN_DAYS)
def test_clean_generated_days_pass(tmp_path: Path, market: Market, symbol: str, day: dt.date, data_type: str,
                                   interval: str) -> None:
    generated = generate_klines(tmp_path, market, symbol, day, interval, data_type, missing_minutes=[0, 61, 700])
    verdict = _rules(generated, symbol)
    assert verdict.passed and _counts(verdict) == {} and verdict.metadata["first_violations"] == []
    assert verdict.summary.startswith(f"all {verdict.metadata['bars']} {interval} bars obey")


def test_every_real_kline_sample_passes(binance_samples: Path, tmp_path: Path) -> None:
    zips = sorted((binance_samples / "data/spot/daily/klines/BTCUSDT").rglob("*.zip"))
    assert len(zips) == 5
    spot = symbol_spec(Market.SPOT, "BTCUSDT")
    for zip_path in zips:
        interval, day = zip_path.parent.name, dt.date.fromisoformat(zip_path.stem[-10:])
        verdict = _verdict(zip_path, ArchiveFile(Market.SPOT, "klines", "BTCUSDT", day, interval=interval), spot)
        assert verdict.passed, (zip_path.name, verdict.summary)
        assert verdict.metadata["bars"] == (1_440 if interval == "1m" else 24)
    ada = SymbolSpec(Market.SPOT, "ADABTC", "ADA", "BTC", tick_size="0.00000001", step_size="0.1")
    for csv_path in sorted((binance_samples / "nautilus_trader").glob("ADABTC-1m-*.csv")):
        archive_file = ArchiveFile(Market.SPOT, "klines", "ADABTC", dt.date.fromisoformat(csv_path.stem[-10:]),
                                   interval="1m")
        zip_path, _ = write_archive_csv(tmp_path, archive_file, csv_path.read_text())
        verdict = _verdict(zip_path, archive_file, ada)
        assert verdict.passed and 10 <= verdict.metadata["bars"] <= 11, (csv_path.name, verdict.summary)


def test_the_files_of_a_day_make_one_verdict(tmp_path: Path) -> None:
    clean = _rules(generate_klines(tmp_path, Market.USDM, "BTCUSDT", interval="5m"), "BTCUSDT")
    day = generate_klines(tmp_path, Market.USDM, "BTCUSDT")
    broken = _rules(edit_bars(day, rising_lines(day, 2), high_below_close), "BTCUSDT")
    assert ohlcv_rules_of_files([clean]) is clean
    both = ohlcv_rules_of_files([broken, clean])
    assert not both.passed and both.check == "ohlcv_rules"
    assert (both.metadata["bars"], both.metadata["violating_bars"], both.metadata["high_below_open_or_close"]) == (
        1_440 + 288, 2, 2)
    assert both.metadata["first_violations"] == broken.metadata["first_violations"]
    assert both.summary == f"{broken.summary}; {clean.summary}"
