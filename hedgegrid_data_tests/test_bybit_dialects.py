"""Bybit's CSV dialects read exactly: every dialect and timestamp resolution, real rows and the real spot day,
and every malformed file failing closed with the file, line and value; gzip verification."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from hedgegrid_data.errors import ArchiveDataError, ChecksumMismatchError
from hedgegrid_data.sources.bybit_archive.dialects import HEADERS, DayReader, Dialect
from hedgegrid_data.sources.bybit_archive.download import verify_gzip
from hedgegrid_data.sources.bybit_archive.layout import BybitFile
from hedgegrid_data.tables.trades import BUYER, SELLER
from hedgegrid_data.testing.bybit_generator import (
    GeneratedBybitDay,
    truncate_gzip,
    write_gzip,
    write_spot_day,
    write_trading_day,
)
from hedgegrid_data.venues.bybit import BybitMarket, BybitSymbolSpec

LINEAR = BybitSymbolSpec(BybitMarket.LINEAR, "BTCUSDT", "BTC", "USDT", "0.10", "0.001")
INVERSE = BybitSymbolSpec(BybitMarket.INVERSE, "BTCUSD", "BTC", "USD", "0.50", "1")
SPOT = BybitSymbolSpec(BybitMarket.SPOT, "ETHUSDT", "ETH", "USDT", "0.01", "0.00001")
UNIUSDC = BybitSymbolSpec(BybitMarket.SPOT, "UNIUSDC", "UNI", "USDC", "0.001", "0.01")
SPOT_SAMPLE_CSV_SHA256 = "8c616b8f"  # MANIFEST.md: sha256 of the real spot CSV starts so and ends "7140"


def read(path: Path, file: BybitFile, spec: BybitSymbolSpec) -> tuple[list[tuple], dict]:
    """(trade id, price, size, side, ts ns) of every row the reader yields, and what it found."""
    reader = DayReader(path, file, spec)
    table = pa.Table.from_batches(list(reader.batches()))
    table = table.set_column(3, "ts_event", table.column("ts_event").cast(pa.int64()))
    return [(r["trade_id"], r["price"], r["qty"], r["aggressor_side"], r["ts_event"])
            for r in table.to_pylist()], reader.metadata


def canonical(day: GeneratedBybitDay, spec: BybitSymbolSpec) -> tuple[list[tuple], dict]:
    return read(day.path, day.file, spec)


@pytest.mark.parametrize(("dialect", "decimals", "resolution"), [
    (Dialect.TRADING, 0, "1s"), (Dialect.TRADING, 3, "1ms"), (Dialect.TRADING, 4, "100us"),
    (Dialect.TRADING_RPI, 4, "100us"), (Dialect.TRADING_RPI, 3, "1ms"),
])
def test_trading_dialects_at_every_resolution_read_exactly(tmp_path: Path, dialect: Dialect, decimals: int,
                                                           resolution: str) -> None:
    day = write_trading_day(tmp_path, BybitMarket.LINEAR, "BTCUSDT", dt.date(2025, 3, 14), 3_000, dialect=dialect,
                            decimals=decimals, seed=decimals)
    rows, metadata = canonical(day, LINEAR)
    assert rows == day.expected()
    assert metadata["dialect"] == dialect.value
    assert metadata["timestamp_resolution"] == resolution and metadata["timestamp_decimals"] == decimals
    assert ("rpi_trades" in metadata) is (dialect is Dialect.TRADING_RPI)


def test_inverse_sizes_are_contracts(tmp_path: Path) -> None:
    day = write_trading_day(tmp_path, BybitMarket.INVERSE, "BTCUSD", dt.date(2022, 5, 2), 2_000,
                            dialect=Dialect.TRADING, decimals=0, size_precision=0, tick_units=5)
    rows, metadata = canonical(day, INVERSE)
    assert rows == day.expected()
    assert all(q == q.to_integral_value() for _, _, q, _, _ in rows)
    assert metadata["size_unit"] == "USD contracts"


def test_whole_second_files_keep_their_line_order(tmp_path: Path) -> None:
    """Trades of one second cannot be ordered by time: the normalized order is the file's line order."""
    day = write_trading_day(tmp_path, BybitMarket.LINEAR, "BTCUSDT", dt.date(2022, 5, 2), 4_000,
                            dialect=Dialect.TRADING, decimals=0)
    rows, _ = canonical(day, LINEAR)
    seconds = [ts for *_, ts in rows]
    assert len(seconds) - len(set(seconds)) >= 900  # many trades share a second
    assert [r[0] for r in rows] == [t.trade_id for t in day.trades]


def _real_rows(samples: Path) -> list[tuple[str, list[str], str]]:
    """(dialect comment, header, row) of every real trading row in ``trading_rows.csv``."""
    out, comment, header = [], "", None
    for line in (samples / "trading_rows.csv").read_text().splitlines():
        if line.startswith("# dialect:"):
            comment = line
        elif line.startswith("#") or not line.strip():
            continue
        elif line.startswith(("timestamp,", "id,")):
            header = line.split(",")
        else:
            out.append((comment, list(header or []), line))
    return out


def test_real_trading_rows_read_to_the_nanosecond(tmp_path: Path, bybit_samples: Path) -> None:
    """Every real trading row: the timestamp exact from its decimal text (a float is off by tens of ns)."""
    float_misses = 0
    checked = 0
    for comment, header, line in _real_rows(bybit_samples):
        if "spot" in comment:
            continue
        fields = line.split(",")
        timestamp, symbol, side, size, price, trade_id = fields[0], *fields[1:5], fields[6]
        day = dt.datetime.fromtimestamp(int(Decimal(timestamp)), dt.timezone.utc).date()
        inverse = symbol == "BTCUSD"
        spec = (BybitSymbolSpec(BybitMarket.INVERSE, symbol, "BTC", "USD", "0.01", "1") if inverse
                else BybitSymbolSpec(BybitMarket.LINEAR, symbol, "BTC", "USDT", "0.001", "0.001"))
        file = BybitFile(spec.market, symbol, day)
        write_gzip(tmp_path / file.key, ",".join(header) + "\n" + line + "\n")
        [(got_id, got_price, got_size, got_side, got_ts)], metadata = read(tmp_path / file.key, file, spec)
        exact = int(Decimal(timestamp) * 10**9)
        assert (got_id, got_price, got_size, got_side, got_ts) == (
            trade_id, Decimal(price), Decimal(size), BUYER if side == "Buy" else SELLER, exact)
        assert metadata["dialect"] == ("trading_rpi" if len(header) == 11 else "trading")
        float_misses += int(float(timestamp) * 1e9) != exact
        checked += 1
    assert checked == 7
    assert float_misses >= 1  # what the float parsers of other tools get wrong


def test_real_spot_day_keeps_every_trade(bybit_samples: Path) -> None:
    """Rows identical apart from ``id`` are real trades: all kept, each with its own stable id."""
    path = bybit_samples / "spot/UNIUSDC/UNIUSDC_2025-05-17.csv.gz"
    text = gzip.decompress(path.read_bytes())
    assert hashlib.sha256(text).hexdigest().startswith(SPOT_SAMPLE_CSV_SHA256)
    lines = text.decode().splitlines()[1:]
    apart_from_id = [line.split(",", 1)[1] for line in lines]
    identical_apart_from_id = sum(a == b for a, b in zip(apart_from_id, apart_from_id[1:], strict=False))
    assert identical_apart_from_id >= 1
    file = BybitFile(BybitMarket.SPOT, "UNIUSDC", dt.date(2025, 5, 17))
    rows, metadata = read(path, file, UNIUSDC)
    assert len(rows) == len(lines) == 219
    assert [r[0] for r in rows] == [f"20250517-{n}" for n in range(1, 220)]
    for row, line in zip(rows, lines, strict=True):
        _, ms, price, volume, side, _ = line.split(",")
        assert (row[1], row[2], row[3], row[4]) == (Decimal(price), Decimal(volume),
                                                          BUYER if side == "buy" else SELLER, int(ms) * 10**6)
    assert metadata == {"dialect": "spot_daily", "header": "id,timestamp,price,volume,side,rpi",
                        "timestamp_resolution": "1ms", "timestamp_decimals": 3, "size_unit": "UNI", "rpi_trades": 0}
    assert read(path, file, UNIUSDC)[0] == rows  # stable across re-runs


def test_generated_spot_day_with_repeated_trades(tmp_path: Path) -> None:
    day = write_spot_day(tmp_path, "ETHUSDT", dt.date(2024, 1, 2), 3_000)
    rows, metadata = canonical(day, SPOT)
    assert rows == day.expected()
    assert len({r[0] for r in rows}) == 3_000
    assert len({r[1:] for r in rows}) < 3_000  # identical trades (apart from their ids) all kept
    assert metadata["rpi_trades"] == sum(t.rpi == "1" for t in day.trades) > 0


def _file(tmp_path: Path, market: BybitMarket, symbol: str, day: dt.date, text: str) -> tuple[Path, BybitFile]:
    file = BybitFile(market, symbol, day)
    write_gzip(tmp_path / file.key, text)
    return tmp_path / file.key, file


TRADING_HEADER = ",".join(HEADERS[Dialect.TRADING])
GOOD_ROW = "1651449601,BTCUSD,Sell,258,38458.00,MinusTick,a0dd4504-db3c-535f-b43b-4de38f581b79,670861.7,258,0.0067"
DAY = dt.date(2022, 5, 2)


@pytest.mark.parametrize(("text", "message", "line"), [
    ("timestamp,symbol,side,size,price,trdMatchID\n" + GOOD_ROW + "\n", "is none of the dialects", 1),
    ("id,timestamp,price,volume,side,rpi\n1,1651449601000,6,1,buy,0\n", "is none of the dialects", 1),
    (TRADING_HEADER + "\n2018-12-05D00:00:25.948313000,BTCUSD,Sell,258,38458.00,MinusTick,"
     "a0dd4504-db3c-535f-b43b-4de38f581b79,1,258,1\n", "is not epoch seconds", 2),
    (TRADING_HEADER + f"\n{GOOD_ROW}\n" + GOOD_ROW.replace("1651449601", "1.651449602e9", 1).replace("4de", "4dd")
     + "\n", "'1.651449602e9' is not epoch seconds as a decimal number", 3),
    (TRADING_HEADER + f"\n{GOOD_ROW}\n" + GOOD_ROW.replace("1651449601", "1651449602.0000000001", 1) + "\n",
     "is not epoch seconds", 3),
    (TRADING_HEADER + "\n" + GOOD_ROW.replace("38458.00", "38458.25") + "\n", "more decimals than", 2),
    (TRADING_HEADER + "\n" + GOOD_ROW.replace("258,38458", "2.5,38458") + "\n", "more decimals than", 2),
    (TRADING_HEADER + "\n" + GOOD_ROW.replace(",BTCUSD,", ",BTCUSDH25,") + "\n", "is not the file's symbol", 2),
    (TRADING_HEADER + "\n" + GOOD_ROW.replace("Sell", "sell") + "\n", "is not Buy/Sell", 2),
    (TRADING_HEADER + "\n" + GOOD_ROW.replace("a0dd4504-", "a0dd4504") + "\n", "is not a trade id", 2),
    (TRADING_HEADER + "\n" + GOOD_ROW.replace("1651449601", "1651363199") + "\n", "outside the file's UTC day", 2),
    (TRADING_HEADER + "\n" + GOOD_ROW + ",0\n", "the first row has 11 fields", 2),
    (TRADING_HEADER + "\n", "no trades after the header", 2),
    (TRADING_HEADER + f"\n{GOOD_ROW}\n" + GOOD_ROW.replace("4de", "4dd") + ",0\n", "Expected 10 columns", 3),
])
def test_malformed_trading_files_fail_closed(tmp_path: Path, text: str, message: str, line: int) -> None:
    path, file = _file(tmp_path, BybitMarket.INVERSE, "BTCUSD", DAY, text)
    with pytest.raises(ArchiveDataError, match=message) as failure:
        list(DayReader(path, file, INVERSE).batches())
    assert failure.value.file == file.file_name and failure.value.line == line


def test_a_spot_counter_with_a_gap_fails_closed(tmp_path: Path) -> None:
    text = "id,timestamp,price,volume,side,rpi\n1,1651449601000,6,1,buy,0\n3,1651449601001,6,1,buy,0\n"
    path, file = _file(tmp_path, BybitMarket.SPOT, "UNIUSDC", DAY, text)
    with pytest.raises(ArchiveDataError, match="breaks the file's trade counter") as failure:
        list(DayReader(path, file, UNIUSDC).batches())
    assert failure.value.line == 3


def test_spot_files_need_integer_milliseconds(tmp_path: Path) -> None:
    text = "id,timestamp,price,volume,side,rpi\n1,1651449601.5,6,1,buy,0\n"
    path, file = _file(tmp_path, BybitMarket.SPOT, "UNIUSDC", DAY, text)
    with pytest.raises(ArchiveDataError, match="not integer epoch milliseconds"):
        list(DayReader(path, file, UNIUSDC).batches())


def test_gzip_is_verified_by_its_crc_and_length(tmp_path: Path) -> None:
    day = write_trading_day(tmp_path, BybitMarket.LINEAR, "BTCUSDT", DAY, 2_000)
    facts = verify_gzip(day.path, day.file.file_name)
    text = gzip.decompress(day.path.read_bytes())
    assert (facts.members, facts.csv_bytes, facts.csv_sha256) == (1, len(text), hashlib.sha256(text).hexdigest())

    two_members = tmp_path / "two" / day.file.key  # a gzip may hold several members: all of them are the file
    two_members.parent.mkdir(parents=True)
    two_members.write_bytes(gzip.compress(text[:100_000], mtime=0) + gzip.compress(text[100_000:], mtime=0))
    assert verify_gzip(two_members, day.file.file_name).csv_sha256 == facts.csv_sha256
    assert read(two_members, day.file, LINEAR)[0] == read(day.path, day.file, LINEAR)[0]

    corrupt = tmp_path / "corrupt.csv.gz"
    data = bytearray(day.path.read_bytes())
    data[-6] ^= 0xFF  # the CRC-32 trailer
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatchError, match="corrupt gzip"):
        verify_gzip(corrupt, "corrupt.csv.gz")

    truncate_gzip(day.path, 0.7)
    with pytest.raises(ChecksumMismatchError, match="truncated gzip"):
        verify_gzip(day.path, day.file.file_name)
