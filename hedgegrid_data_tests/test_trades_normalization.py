"""Trades CSV → normalized table, without Dagster: exactness, time units, ordering, and failing closed."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources import text_columns
from hedgegrid_data.sources.binance_archive.layout import trades_notional_column
from hedgegrid_data.sources.binance_archive.trades import write_normalized_trades
from hedgegrid_data.testing.archive_generator import (
    GeneratedDay,
    inject_malformed_row,
    read_csv_rows,
    replace_csv,
    truncate_zip_with_matching_checksum,
)
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import generate_trades

CASES = [
    (Market.SPOT, "BTCUSDT", "2024-01-02", False, TimeUnit.MILLISECONDS),
    (Market.SPOT, "BTCUSDT", "2025-03-04", False, TimeUnit.MICROSECONDS),
    (Market.USDM, "BTCUSDT", "2024-01-02", True, TimeUnit.MILLISECONDS),
    (Market.USDM, "ETHUSDT", "2021-06-01", False, TimeUnit.MILLISECONDS),
    (Market.COINM, "BTCUSD_PERP", "2025-03-04", True, TimeUnit.MILLISECONDS),
]


def _normalize(day: GeneratedDay, tmp_path: Path):
    spec = symbol_spec(day.archive_file.market, day.archive_file.symbol)
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "normalized.parquet"
    return write_normalized_trades(day.zip_path, day.archive_file, spec, out), out


@pytest.mark.parametrize(("market", "symbol", "day", "header", "unit"), CASES)
def test_normalized_rows_equal_the_csv_text(archive_root: Path, tmp_path: Path, market: Market, symbol: str,
                                            day: str, header: bool, unit: TimeUnit) -> None:
    generated = generate_trades(archive_root, market, symbol, day, 3_000, header=header)
    summary, out = _normalize(generated, tmp_path)
    assert (summary.rows, summary.header, summary.time_unit) == (3_000, header, unit)
    assert (summary.first_trade_id, summary.last_trade_id) == (generated.first_id, generated.last_id)

    rows = read_csv_rows(generated.zip_path)
    rows = rows[1:] if header else rows
    table = pl.read_parquet(out)
    notional = trades_notional_column(market)
    assert table.columns[:4] == ["trade_id", "price", "qty", notional]
    true_text = "True" if market is Market.SPOT else "true"
    for row, got in zip(rows, table.iter_rows(named=True), strict=True):
        assert got["trade_id"] == int(row[0])
        assert got["price"] == Decimal(row[1]) and got["qty"] == Decimal(row[2]) and got[notional] == Decimal(row[3])
        ts_ns = int(row[4]) * unit.nanos
        assert got["ts_event"] == dt.datetime.fromtimestamp(ts_ns // 10**9, dt.timezone.utc) + dt.timedelta(
            microseconds=(ts_ns % 10**9) // 1000)
        assert got["is_buyer_maker"] == (row[5] == true_text)
        assert got["aggressor_side"] == (2 if row[5] == true_text else 1)


def test_decimal_types_keep_exact_precision(archive_root: Path, tmp_path: Path) -> None:
    generated = generate_trades(archive_root, Market.SPOT, "BTCUSDT", "2024-01-02", 100)
    _, out = _normalize(generated, tmp_path)
    schema = pq.read_schema(out)
    assert str(schema.field("price").type) == "decimal128(38, 2)"
    assert str(schema.field("qty").type) == "decimal128(38, 6)"  # spot BTCUSDT's size_decimals: every era


def _day_with_rows(root: Path, market: Market, symbol: str, day: str, rows: list[str]) -> GeneratedDay:
    generated = generate_trades(root, market, symbol, day, 10)
    return replace_csv(generated, "\n".join(rows) + "\n")


SPOT_ROWS = [
    "100,42000.12000000,0.00100000,42.00012000,1704153600001,True,True",
    "101,42000.13000000,0.00200000,84.00026000,1704153600002,False,True",
    "102,42001.00000000,1.00000000,42001.00000000,1704239999999,True,True",
]


def test_duplicates_are_dropped_and_disorder_sorted(archive_root: Path, tmp_path: Path) -> None:
    rows = [SPOT_ROWS[2], SPOT_ROWS[0], SPOT_ROWS[1], SPOT_ROWS[0]]
    generated = _day_with_rows(archive_root, Market.SPOT, "BTCUSDT", "2024-01-02", rows)
    summary, out = _normalize(generated, tmp_path)
    assert (summary.rows, summary.source_rows, summary.duplicates_dropped, summary.resorted) == (3, 4, 1, True)
    assert pl.read_parquet(out)["trade_id"].to_list() == [100, 101, 102]


def test_conflicting_duplicate_ids_fail(archive_root: Path, tmp_path: Path) -> None:
    conflicting = SPOT_ROWS[0].replace("42000.12000000", "42000.11000000")
    generated = _day_with_rows(archive_root, Market.SPOT, "BTCUSDT", "2024-01-02", [*SPOT_ROWS, conflicting])
    with pytest.raises(ArchiveDataError, match=r"trade ids appear more than once with different values: \[100\]"):
        _normalize(generated, tmp_path)
    assert not (tmp_path / "normalized.parquet").exists()


FAILURES = [
    ("malformed row", 3, "101,42000.13000000,0.00200000,84.00026000", r"line 3: CSV parse error: .*Expected 7 columns"),
    ("price not a number", 2, "101,42000.1x,0.00200000,84.00026000,1704153600002,False,True",
     r"line 2: price '42000.1x' is not a decimal number"),
    ("excess decimals", 2, "101,42000.125,0.00200000,84.00026000,1704153600002,False,True",
     r"line 2: price '42000.125' has more decimals than the instrument's price precision allows \(2\)"),
    ("bad boolean", 1, "100,42000.12000000,0.00100000,42.00012000,1704153600001,yes,True",
     r"line 1: is_buyer_maker 'yes' is not True/False"),
    ("outside the day", 3, "102,42001.00000000,1.00000000,42001.00000000,1704240000000,True,True",
     r"line 3: time '1704240000000' lies outside the file's UTC day"),
    ("mixed units", 2, "101,42000.13000000,0.00200000,84.00026000,1704153600002000,False,True",
     r"line 2: time '1704153600002000' is not in milliseconds like the rest of the file"),
    ("leading zero in a time", 2, "101,42000.13000000,0.00200000,84.00026000,01704153600002,False,True",
     r"line 2: time '01704153600002' is not in milliseconds like the rest of the file"),
    ("id beyond 64 bits", 2, "99999999999999999999,42000.13000000,0.00200000,84.00026000,1704153600002,False,True",
     r"line 2: id '99999999999999999999' does not fit a 64-bit integer"),
    ("text that is not ASCII", 2, "101,42000.1\u00e9,0.00200000,84.00026000,1704153600002,False,True",
     r"line 2: price '42000.1\u00e9' is not a decimal number"),
    ("negative notional", 2, "101,42000.13000000,0.00200000,-84.00026000,1704153600002,False,True",
     r"line 2: schema validation failed for trade 101: Column .quote_qty. failed validator number 0: "
     r"<Check greater_than_or_equal_to"),
    ("zero price", 2, "101,0.00000000,0.00200000,84.00026000,1704153600002,False,True",
     r"line 2: schema validation failed for trade 101: Column .price. failed validator number 0: <Check greater_than"),
]


@pytest.mark.parametrize(("case", "line", "text", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_bad_rows_fail_with_file_and_line(archive_root: Path, tmp_path: Path, case: str, line: int, text: str,
                                          message: str) -> None:
    generated = _day_with_rows(archive_root, Market.SPOT, "BTCUSDT", "2024-01-02", SPOT_ROWS)
    generated = inject_malformed_row(generated, line, text)
    with pytest.raises(ArchiveDataError, match=r"^BTCUSDT-trades-2024-01-02\.zip, " + message if "line" in message
                       else r"^BTCUSDT-trades-2024-01-02\.zip.*" + message):
        _normalize(generated, tmp_path)
    assert list(tmp_path.glob("normalized*")) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_malformed_row_deep_in_a_large_file_names_its_line(archive_root: Path, tmp_path: Path) -> None:
    generated = generate_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 400_000)
    generated = inject_malformed_row(generated, 350_001, "1350000,42000.1")
    with pytest.raises(ArchiveDataError, match=r"line 350001: CSV parse error"):
        _normalize(generated, tmp_path)
    assert not (tmp_path / "normalized.parquet").exists()


@pytest.mark.parametrize(
    ("market", "symbol", "day", "unit", "message"),
    [
        (Market.SPOT, "BTCUSDT", "2024-12-31", TimeUnit.MICROSECONDS,
         "timestamps are in microseconds .16 digits. but spot trades dated 2024-12-31 are in milliseconds"),
        (Market.SPOT, "BTCUSDT", "2025-01-01", TimeUnit.MILLISECONDS,
         "timestamps are in milliseconds .13 digits. but spot trades dated 2025-01-01 are in microseconds"),
        (Market.USDM, "BTCUSDT", "2025-06-01", TimeUnit.MICROSECONDS,
         "timestamps are in microseconds .16 digits. but um trades dated 2025-06-01 are in milliseconds"),
    ],
)
def test_time_unit_contradicting_market_and_date_fails(archive_root: Path, tmp_path: Path, market: Market,
                                                       symbol: str, day: str, unit: TimeUnit, message: str) -> None:
    generated = generate_trades(archive_root, market, symbol, day, 500, time_unit=unit)
    with pytest.raises(ArchiveDataError, match=message):
        _normalize(generated, tmp_path)
    assert not (tmp_path / "normalized.parquet").exists()


def test_truncated_zip_fails_closed(archive_root: Path, tmp_path: Path) -> None:
    generated = generate_trades(archive_root, Market.SPOT, "BTCUSDT", "2024-01-02", 50_000)
    truncate_zip_with_matching_checksum(generated)
    with pytest.raises(ArchiveDataError, match=r"BTCUSDT-trades-2024-01-02\.zip.*corrupt or truncated zip"):
        _normalize(generated, tmp_path)
    assert not (tmp_path / "normalized.parquet").exists()


def test_a_member_whose_crc_does_not_match_fails_and_writes_nothing(archive_root: Path, tmp_path: Path) -> None:
    generated = generate_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 50_000)
    with zipfile.ZipFile(generated.zip_path) as zf:
        [member] = zf.infolist()
    data = bytearray(generated.zip_path.read_bytes())
    directory = data.rindex(b"PK\x01\x02")
    for crc_field in (member.header_offset + 14, directory + 16):  # local header and central directory
        data[crc_field] ^= 0xFF  # every byte inflates cleanly; only the CRC-32 check can tell
    generated.zip_path.write_bytes(bytes(data))
    with pytest.raises(ArchiveDataError, match=r"BTCUSDT-trades-2024-01-02\.zip.*corrupt or truncated zip.*CRC-32"):
        _normalize(generated, tmp_path)
    assert not list(tmp_path.glob("*normalized.parquet*"))  # neither the table nor its temporary file


def test_a_stored_member_reads_like_a_deflated_one(archive_root: Path, tmp_path: Path) -> None:
    generated = generate_trades(archive_root, Market.USDM, "BTCUSDT", "2024-01-02", 5_000)
    deflated, _ = _normalize(generated, tmp_path / "deflated")
    with zipfile.ZipFile(generated.zip_path) as zf:
        [member] = zf.infolist()
        text = zf.read(member)
    with zipfile.ZipFile(generated.zip_path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(member.filename, text)
    stored, out = _normalize(generated, tmp_path / "stored")
    assert stored.rows == deflated.rows == 5_000
    assert pq.read_table(out).equals(pq.read_table(tmp_path / "deflated" / "normalized.parquet"))


def test_day_bounds() -> None:
    assert day_bounds_ns(dt.date(2024, 1, 2)) == (1704153600 * 10**9, 1704240000 * 10**9 - 1)


def test_bytes_that_are_not_utf8_are_reported_readably() -> None:
    raw = pa.array([b"42000.1", b"4\xff2"], pa.binary()).view(pa.string())
    block = text_columns.TextBlock(pa.RecordBatch.from_arrays([raw], names=["price"]), first_line=7)
    with pytest.raises(ArchiveDataError, match="^f.zip, line 8: price '4\ufffd2' is not a decimal number"):
        text_columns.parse_decimal(block, "price", 2, "f.zip", "the instrument's price precision")
