"""The archive generator and the local archive server used by other tests."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import httpx
import pytest

from hedgegrid_data.epochs import TimeUnit, day_bounds_ns
from hedgegrid_data.sources.binance_archive.layout import (
    ArchiveFile,
    agg_trades_columns,
    time_unit_for,
    trades_columns,
)
from hedgegrid_data.testing.archive_generator import (
    DEFAULT_PRECISIONS,
    GeneratedDay,
    inject_malformed_row,
    main,
    read_csv_rows,
    read_csv_text,
    replace_csv,
    rewrite_checksum_wrong,
    truncate_zip,
    truncate_zip_with_matching_checksum,
    write_agg_trades_day,
    write_trades_day,
)
from hedgegrid_data.testing.archive_server import LISTING_KEY, ArchiveServer, Fault
from hedgegrid_data.venues.binance import Market

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "samples" / "binance"
SAMPLE_KEY = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip"
S3 = "{http://s3.amazonaws.com/doc/2006-03-01/}"
DAY_2024 = dt.date(2024, 1, 2)
DAY_2025 = dt.date(2025, 1, 2)
N = 2_000

NUMBER = {
    Market.SPOT: (r"\d+\.\d{8}", r"\d+\.\d{8}", r"\d+\.\d{8}"),
    Market.USDM: (r"\d+\.\d", r"\d+\.\d{3}", r"\d+\.\d{4}"),
    Market.COINM: (r"\d+\.\d", r"\d+\.0", r"\d+\.\d{8}"),
}
BOOLEAN = {Market.SPOT: "True|False", Market.USDM: "true|false", Market.COINM: "true|false"}


def _trades(root: Path, market: Market, day: dt.date = DAY_2024, **kwargs) -> GeneratedDay:
    price_precision, size_precision = DEFAULT_PRECISIONS[market]
    symbol = "BTCUSD_PERP" if market is Market.COINM else "BTCUSDT"
    return write_trades_day(
        root, market, symbol, day, N, price_precision=price_precision, size_precision=size_precision, **kwargs
    )


def _checksum_ok(day: GeneratedDay) -> bool:
    digest, name = day.checksum_path.read_text().split()
    assert name == day.zip_path.name
    return digest == hashlib.sha256(day.zip_path.read_bytes()).hexdigest()


def _unit_digits(values: list[str]) -> set[int]:
    return {len(value) for value in values}


@pytest.mark.parametrize("market", list(Market))
@pytest.mark.parametrize("header", [False, True])
def test_trades_day_layout_and_format(tmp_path: Path, market: Market, header: bool) -> None:
    day = _trades(tmp_path, market, header=header)
    archive_file = ArchiveFile(market, "trades", day.archive_file.symbol, DAY_2024)
    assert day.archive_file == archive_file
    assert day.zip_path == tmp_path / archive_file.key
    assert day.checksum_path == tmp_path / archive_file.checksum_key
    assert re.fullmatch(rf"[0-9a-f]{{64}}  {re.escape(archive_file.file_name)}\n", day.checksum_path.read_text())
    assert _checksum_ok(day)

    with zipfile.ZipFile(day.zip_path) as archive:
        (info,) = archive.infolist()
        assert info.filename == archive_file.csv_name
        assert info.compress_type == zipfile.ZIP_DEFLATED
    text = read_csv_text(day.zip_path)
    assert day.csv_text_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert text.endswith("\n") and "\r" not in text

    rows = read_csv_rows(day.zip_path)
    if header:
        assert rows.pop(0) == list(trades_columns(market))
    assert len(rows) == N == day.n_trades
    price, qty, notional = NUMBER[market]
    row_pattern = ",".join([r"\d+", price, qty, notional, r"\d{13}", f"(?:{BOOLEAN[market]})"])
    if market is Market.SPOT:
        row_pattern += ",True"
    assert all(re.fullmatch(row_pattern, ",".join(row)) for row in rows)
    assert all(len(row) == len(trades_columns(market)) for row in rows)

    ids = [int(row[0]) for row in rows]
    assert ids == list(range(day.first_id, day.first_id + N)) and day.last_id == ids[-1]
    times = [int(row[4]) for row in rows]
    start_ms, end_ms = (bound // 1_000_000 for bound in day_bounds_ns(DAY_2024))
    assert times == sorted(times)
    assert start_ms <= times[0] < start_ms + 60_000 and end_ms - 60_000 < times[-1] <= end_ms
    assert len(set(times)) < N
    assert all(Decimal(row[1]) > 0 and Decimal(row[2]) > 0 for row in rows)
    assert len({row[1] for row in rows}) > 10 and len({row[2] for row in rows}) > 10
    assert {row[5] for row in rows} == set(BOOLEAN[market].split("|"))


@pytest.mark.parametrize("market", [Market.SPOT, Market.USDM])
def test_quote_qty_is_exact_product(tmp_path: Path, market: Market) -> None:
    rows = read_csv_rows(_trades(tmp_path, market).zip_path)
    assert all(Decimal(row[1]) * Decimal(row[2]) == Decimal(row[3]) for row in rows)


def test_coin_m_base_qty_is_truncated_contract_value(tmp_path: Path) -> None:
    rows = read_csv_rows(_trades(tmp_path, Market.COINM, contract_size=10).zip_path)
    for _, price, qty, base_qty, *_ in rows:
        assert Decimal(qty) == int(Decimal(qty))
        expected = (Decimal(qty) * 10 / Decimal(price)).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
        assert Decimal(base_qty) == expected


@pytest.mark.parametrize(
    ("market", "day", "digits"),
    [
        (Market.SPOT, DAY_2024, 13),
        (Market.SPOT, DAY_2025, 16),
        (Market.USDM, DAY_2025, 13),
        (Market.COINM, DAY_2025, 13),
    ],
)
def test_time_unit_follows_the_archive_rule(tmp_path: Path, market: Market, day: dt.date, digits: int) -> None:
    rows = read_csv_rows(_trades(tmp_path, market, day).zip_path)
    assert _unit_digits([row[4] for row in rows]) == {digits}
    unit = time_unit_for(market, day)
    start, end = (bound // unit.nanos for bound in day_bounds_ns(day))
    assert start <= int(rows[0][4]) and int(rows[-1][4]) <= end


def test_time_unit_override(tmp_path: Path) -> None:
    rows = read_csv_rows(_trades(tmp_path, Market.SPOT, DAY_2024, time_unit=TimeUnit.MICROSECONDS).zip_path)
    assert _unit_digits([row[4] for row in rows]) == {16}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = _trades(tmp_path / "a", Market.USDM, seed=7)
    second = _trades(tmp_path / "b", Market.USDM, seed=7)
    third = _trades(tmp_path / "c", Market.USDM, seed=8)
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()
    assert first.csv_text_sha256 != third.csv_text_sha256


@pytest.mark.parametrize("market", list(Market))
def test_agg_trades_day(tmp_path: Path, market: Market) -> None:
    price_precision, size_precision = DEFAULT_PRECISIONS[market]
    day = write_agg_trades_day(
        tmp_path,
        market,
        "BTCUSDT",
        DAY_2025,
        N,
        header=True,
        price_precision=price_precision,
        size_precision=size_precision,
        first_id=10,
        first_trade_id=100,
    )
    assert day.zip_path == tmp_path / ArchiveFile(market, "aggTrades", "BTCUSDT", DAY_2025).key
    assert _checksum_ok(day)
    header, *rows = read_csv_rows(day.zip_path)
    assert header == list(agg_trades_columns(market))
    assert all(len(row) == len(header) for row in rows)
    assert [int(row[0]) for row in rows] == list(range(10, 10 + N))
    first_ids, last_ids = [int(row[3]) for row in rows], [int(row[4]) for row in rows]
    assert first_ids[0] == 100
    assert all(first <= last for first, last in zip(first_ids, last_ids))
    assert all(nxt == last + 1 for last, nxt in zip(last_ids, first_ids[1:]))
    assert _unit_digits([row[5] for row in rows]) == {time_unit_for(market, DAY_2025).digits}


def test_corruptions(tmp_path: Path) -> None:
    day = _trades(tmp_path, Market.SPOT)
    original = day.zip_path.read_bytes()

    rewrite_checksum_wrong(day)
    assert day.checksum_path.read_text().endswith(f"  {day.zip_path.name}\n")
    assert not _checksum_ok(day)

    day = _trades(tmp_path, Market.SPOT)
    truncate_zip(day, keep_fraction=0.5)
    assert day.zip_path.read_bytes() == original[: len(original) // 2]
    assert not _checksum_ok(day)

    day = _trades(tmp_path, Market.SPOT)
    truncate_zip_with_matching_checksum(day)
    assert _checksum_ok(day)
    with pytest.raises(zipfile.BadZipFile):
        read_csv_rows(day.zip_path)

    day = _trades(tmp_path, Market.SPOT, header=True)
    changed = inject_malformed_row(day, 3, "not,a,trade")
    assert _checksum_ok(changed) and changed.csv_text_sha256 != day.csv_text_sha256
    rows = read_csv_rows(day.zip_path)
    assert rows[2] == ["not", "a", "trade"] and len(rows) == N + 1
    with pytest.raises(IndexError):
        inject_malformed_row(day, N + 2, "x")

    replaced = replace_csv(day, "1,2,3\n")
    assert _checksum_ok(replaced) and read_csv_text(day.zip_path) == "1,2,3\n"
    assert replaced.csv_text_sha256 == hashlib.sha256(b"1,2,3\n").hexdigest()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--root", str(tmp_path), "--market", "cm", "--symbol", "BTCUSD_PERP", "--day", "2024-01-02", "--trades=50"])
    zip_path, checksum_path = capsys.readouterr().out.split()
    assert Path(zip_path) == tmp_path / ArchiveFile(Market.COINM, "trades", "BTCUSD_PERP", DAY_2024).key
    assert Path(checksum_path).is_file()
    assert len(read_csv_rows(Path(zip_path))) == 50


def test_generation_time_one_million_spot_trades(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    day = write_trades_day(tmp_path, Market.SPOT, "BTCUSDT", DAY_2024, 1_000_000, price_precision=2, size_precision=5)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n1,000,000 spot trades generated in {elapsed:.2f} s ({day.zip_path.stat().st_size / 1e6:.1f} MB zip)")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES} (expected beside the repository)")
    return SAMPLES


def test_server_serves_sample_byte_identical(samples: Path, http: httpx.Client) -> None:
    with ArchiveServer(samples) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        for key in (SAMPLE_KEY, SAMPLE_KEY + ".CHECKSUM"):
            data = (samples / key).read_bytes()
            response = http.get(f"{server.url}/{key}")
            assert response.status_code == 200
            assert response.content == data
            assert response.headers["Content-Length"] == str(len(data))
            assert response.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
            modified = email.utils.parsedate_to_datetime(response.headers["Last-Modified"])
            assert int(modified.timestamp()) == int((samples / key).stat().st_mtime)
        published_sha256 = http.get(f"{server.url}/{SAMPLE_KEY}.CHECKSUM").text.split()[0]
        assert hashlib.sha256(http.get(f"{server.url}/{SAMPLE_KEY}").content).hexdigest() == published_sha256
        assert http.get(f"{server.url}/{SAMPLE_KEY}").headers["Content-Type"] == "application/zip"
        assert http.get(f"{server.url}/{SAMPLE_KEY}.CHECKSUM").headers["Content-Type"] == "text/plain"
        head = http.head(f"{server.url}/{SAMPLE_KEY}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == str((samples / SAMPLE_KEY).stat().st_size)

        missing = http.get(f"{server.url}/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-1999-01-01.zip")
        assert (missing.status_code, missing.text) == (404, "Not Found")
        assert http.head(f"{server.url}/data/spot/").status_code == 404
        assert http.get(f"{server.url}/%2E%2E/MANIFEST.md").status_code == 404
        assert server.requests[0] == ("GET", f"/{SAMPLE_KEY}")
    assert server.requests[-1] == ("GET", "/%2E%2E/MANIFEST.md")


def test_server_reads_files_fresh(tmp_path: Path, http: httpx.Client) -> None:
    day = _trades(tmp_path, Market.USDM)
    with ArchiveServer(tmp_path) as server:
        url = f"{server.url}/{day.archive_file.key}"
        before = http.get(url)
        replace_csv(day, "1,2.0,0.001,0.002,1704153600000,true\n")
        after = http.get(url)
    assert before.content != after.content == day.zip_path.read_bytes()
    assert before.headers["ETag"] != after.headers["ETag"]


def test_server_faults_apply_once_each(tmp_path: Path, http: httpx.Client) -> None:
    day = _trades(tmp_path, Market.SPOT)
    key, data = day.archive_file.key, day.zip_path.read_bytes()
    with ArchiveServer(tmp_path) as server:
        url = f"{server.url}/{key}"
        server.inject(
            key,
            Fault.status(500),
            Fault.status(503, body=b"Slow Down"),
            Fault.status(403),
            Fault.status(429, headers={"Retry-After": "1"}),
            Fault.truncate(0.25),
            Fault.delay(0.3),
        )
        assert http.get(url).status_code == 500
        slow = http.get(url)
        assert (slow.status_code, slow.content) == (503, b"Slow Down")
        assert http.get(url).status_code == 403
        limited = http.get(url)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(url)
        started = time.perf_counter()
        delayed = http.get(url)
        assert time.perf_counter() - started >= 0.3 and delayed.content == data
        assert http.get(url).content == data

        other = day.checksum_path.relative_to(tmp_path).as_posix()
        server.inject(other, Fault.truncate(0.5))
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"{server.url}/{other}")
        assert http.get(f"{server.url}/{other}").content == day.checksum_path.read_bytes()
        assert [path for _, path in server.requests].count(f"/{key}") == 7


def test_truncate_fault_sends_full_length_and_partial_body(tmp_path: Path, http: httpx.Client) -> None:
    day = _trades(tmp_path, Market.SPOT)
    size = day.zip_path.stat().st_size
    with ArchiveServer(tmp_path) as server:
        server.inject(day.archive_file.key, Fault.truncate(0.5))
        received = bytearray()
        url = f"{server.url}/{day.archive_file.key}"
        with pytest.raises(httpx.RemoteProtocolError), http.stream("GET", url) as response:
            assert response.headers["Content-Length"] == str(size)
            for chunk in response.iter_raw():
                received += chunk
    assert bytes(received) == day.zip_path.read_bytes()[: size // 2]


def _list_all(http: httpx.Client, server: ArchiveServer, prefix: str) -> tuple[list[str], list[str], list[ET.Element]]:
    keys: list[str] = []
    prefixes: list[str] = []
    pages: list[ET.Element] = []
    marker = ""
    while True:
        params = {"delimiter": "/", "prefix": prefix} | ({"marker": marker} if marker else {})
        response = http.get(f"{server.url}/", params=params)
        assert response.status_code == 200
        page = ET.fromstring(response.content)
        assert page.tag == f"{S3}ListBucketResult"
        pages.append(page)
        keys += [node.findtext(f"{S3}Key") for node in page.findall(f"{S3}Contents")]
        prefixes += [node.findtext(f"{S3}Prefix") for node in page.findall(f"{S3}CommonPrefixes")]
        if page.findtext(f"{S3}IsTruncated") != "true":
            assert page.find(f"{S3}NextMarker") is None
            return keys, prefixes, pages
        marker = page.findtext(f"{S3}NextMarker")


def test_listing_pages(tmp_path: Path, http: httpx.Client) -> None:
    days = [_trades(tmp_path, Market.SPOT, DAY_2024 + dt.timedelta(days=offset)) for offset in range(3)]
    for symbol in ("ETHUSDT", "BNBUSDT", "ADAUSDT"):
        write_trades_day(tmp_path, Market.SPOT, symbol, DAY_2024, 10, price_precision=2, size_precision=5)
    folder = "data/spot/daily/trades/BTCUSDT/"
    with ArchiveServer(tmp_path, page_size=2) as server:
        keys, prefixes, pages = _list_all(http, server, folder)
        expected = sorted(k for d in days for k in (d.archive_file.key, d.archive_file.checksum_key))
        assert keys == expected and prefixes == []
        assert len(pages) == 3
        first = pages[0]
        assert first.findtext(f"{S3}Name") == "data.binance.vision"
        assert first.findtext(f"{S3}Prefix") == folder
        assert first.findtext(f"{S3}Marker") == ""
        assert first.findtext(f"{S3}MaxKeys") == "2"
        assert first.findtext(f"{S3}Delimiter") == "/"
        assert first.findtext(f"{S3}NextMarker") == expected[1]
        assert pages[1].findtext(f"{S3}Marker") == expected[1]
        contents = first.find(f"{S3}Contents")
        data = (tmp_path / expected[0]).read_bytes()
        assert contents.findtext(f"{S3}ETag") == f'"{hashlib.md5(data).hexdigest()}"'
        assert contents.findtext(f"{S3}Size") == str(len(data))
        assert contents.findtext(f"{S3}StorageClass") == "STANDARD"
        modified = contents.findtext(f"{S3}LastModified")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", modified)
        mtime = dt.datetime.fromtimestamp(int((tmp_path / expected[0]).stat().st_mtime), dt.timezone.utc)
        assert modified == mtime.strftime("%Y-%m-%dT%H:%M:%S.000Z")

        keys, prefixes, pages = _list_all(http, server, "data/spot/daily/trades/")
        assert keys == [] and len(pages) == 2
        assert prefixes == [f"data/spot/daily/trades/{s}/" for s in ("ADAUSDT", "BNBUSDT", "BTCUSDT", "ETHUSDT")]

        assert _list_all(http, server, "data/")[1] == ["data/spot/"]
        keys, prefixes, _ = _list_all(http, server, "data/futures/")
        assert keys == prefixes == []

        server.inject(LISTING_KEY, Fault.status(503))
        assert http.get(f"{server.url}/", params={"delimiter": "/", "prefix": folder}).status_code == 503
        path_style = http.get(f"{server.url}/data.binance.vision", params={"delimiter": "/", "prefix": folder})
        assert path_style.status_code == 200 and b"<ListBucketResult" in path_style.content
