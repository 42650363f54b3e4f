"""Hostile archives and hostile servers (red-team issue 13): every one fails closed, in bounded memory, with the
product's own error naming the file or URL, and leaves nothing behind.

Memory is measured, not assumed: a bomb is ingested by the trades feed's ``normalize_day`` in a child process whose
peak RSS is the child's own high-water mark (``VmHWM``); a guard inside the child stops it long before it could hurt
the machine.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from nautilus_trader.model.data import TradeTick

from hedgegrid_data.atomic import atomic_path, remove_orphaned_temp_files
from hedgegrid_data.catalog.day_files import day_file_path
from hedgegrid_data.errors import ArchiveDataError, ChecksumMismatchError, DownloadError
from hedgegrid_data.feeds.recipe import normalize_day
from hedgegrid_data.partitions import day_and_symbol
from hedgegrid_data.sources.binance_archive.download import CHECKSUM_MAX_BYTES, BinanceArchive
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.sources.binance_archive.listing import PAGE_MAX_BYTES, ArchiveListing, PublicationProbe
from hedgegrid_data.sources.binance_archive.trades import write_normalized_trades
from hedgegrid_data.sources.binance_archive.universe import archive_universe
from hedgegrid_data.sources.http import RetryPolicy
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import (
    DeflatedMember,
    deflate_repeated,
    write_archive_csv,
    write_raw_zip,
)
from hedgegrid_data.testing.archive_server import LISTING_KEY, ArchiveServer, Fault
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec, symbol_universe
from hedgegrid_data_tests.conftest import REPO_ROOT, generate_trades

MIB, GIB = 1 << 20, 1 << 30
MEMORY_BOUND = 3 * GIB // 2
RSS_GUARD = 3 * GIB  # the child stops itself beyond this: a regression fails the test, not the machine
DAY = dt.date(2024, 1, 2)
TRADES = ArchiveFile(Market.USDM, "trades", "BTCUSDT", DAY)
ROW = b"100,42000.1,0.001,42.0001,1704153600000,true\n"  # a valid USD-M BTCUSDT trade of DAY
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
SECRET = "s3cr3t-t0ken"

CHILD = r"""
import json, os, sys, threading, time
request = json.loads(sys.argv[1])

def guard():
    while True:
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        if rss > request["rss_guard"]:
            print(json.dumps({"error": "RssGuard", "message": f"RSS {rss} passed the guard"}), flush=True)
            os._exit(70)
        time.sleep(0.01)

threading.Thread(target=guard, daemon=True).start()
import datetime as dt
from pathlib import Path
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.feeds.recipe import normalize_day
from hedgegrid_data.sources.binance_archive.feeds import trades_feed
from hedgegrid_data.store import DataStore
from hedgegrid_data.venues.binance import Market

def peak() -> int:
    # this process's own high-water mark: ru_maxrss would also count the forked parent's pages before exec
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

day = dt.date.fromisoformat(request["day"])
try:
    normalize_day(trades_feed(Market(request["market"])), DataStore(Path(request["store"])), day, request["symbol"])
    print(json.dumps({"error": None, "peak": peak()}))
except HedgegridDataError as exc:
    print(json.dumps({"error": [c.__name__ for c in type(exc).__mro__], "message": str(exc), "peak": peak()}))
"""


def _ingest_in_child(store: DataStore, archive_file: ArchiveFile, tmp_path: Path) -> tuple[dict, int]:
    """the trades feed's ``normalize_day`` of ``archive_file`` in a child process: (its outcome, its peak RSS in bytes)."""
    request = {"store": str(store.root), "market": archive_file.market.value, "symbol": archive_file.symbol,
               "day": archive_file.day.isoformat(), "rss_guard": RSS_GUARD}
    out_path, err_path = tmp_path / "child.out", tmp_path / "child.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(request)], stdout=out, stderr=err,
                                 cwd=REPO_ROOT)
        child.wait()
    lines = out_path.read_text().splitlines()
    assert lines, f"the child said nothing (exit {child.returncode}): {err_path.read_text()[-2000:]}"
    outcome = json.loads(lines[-1])
    return outcome, outcome.get("peak", RSS_GUARD)  # a child stopped by its guard passed RSS_GUARD


def _bomb_store(tmp_path: Path, member: DeflatedMember, **zip_options: object) -> DataStore:
    store = DataStore(tmp_path / "store")
    write_raw_zip(store.raw, TRADES, member, **zip_options)
    return store


def _assert_refused_in_bounded_memory(store: DataStore, tmp_path: Path, message: str, name: str) -> int:
    outcome, peak = _ingest_in_child(store, TRADES, tmp_path)
    print(f"\npeak RSS, {name}: {peak / MIB:.0f} MiB")
    assert "ArchiveDataError" in (outcome["error"] or []), outcome
    assert outcome["message"].startswith(TRADES.file_name), outcome
    assert message in outcome["message"], outcome
    assert peak < MEMORY_BOUND
    written = [p for p in store.root.rglob("*") if p.is_file() and not p.is_relative_to(store.raw)]
    assert written == []
    return peak


def _random_digits(n: int, seed: int = 13) -> bytes:
    return bytes(random.Random(seed).choices(b"0123456789", k=n))


def _rows(n: int, first_id: int = 100) -> bytes:
    """``n`` valid trades in order (ids from ``first_id``)."""
    return b"".join(ROW.replace(b"100,", b"%d," % (first_id + i), 1) for i in range(n))


# --- 1. zip bombs -----------------------------------------------------------------------------------------------


def test_a_3_gib_first_line_is_refused_by_the_ratio_its_zip_declares(tmp_path: Path) -> None:
    bomb = deflate_repeated(b"7" * MIB, 3 * 1024)
    store = _bomb_store(tmp_path, bomb)
    _assert_refused_in_bounded_memory(store, tmp_path, "zip bomb refused: BTCUSDT-trades-2024-01-02.csv declares "
                                      f"{3 * GIB} bytes", "3 GiB first line, honest sizes")


def test_a_3_gib_first_line_whose_zip_lies_about_its_size_is_refused_as_it_inflates(tmp_path: Path) -> None:
    bomb = deflate_repeated(b"7" * MIB, 3 * 1024)
    store = _bomb_store(tmp_path, bomb, declared_size=bomb.compressed_size * 4)
    _assert_refused_in_bounded_memory(store, tmp_path, "zip bomb refused: BTCUSDT-trades-2024-01-02.csv inflates to",
                                      "3 GiB first line, lying sizes")


def test_one_row_repeated_into_gigabytes_is_refused_by_its_ratio(tmp_path: Path) -> None:
    bomb = deflate_repeated(ROW * 20_000, 3_500)  # 3.1 GiB of one repeated trade from a ~3 MB zip
    store = _bomb_store(tmp_path, bomb)
    _assert_refused_in_bounded_memory(store, tmp_path, "more than 200:1", "one row repeated, ratio ~1000:1")


def test_a_2_gib_line_after_valid_rows_is_named_without_being_read(tmp_path: Path) -> None:
    # Random digits repeating every 16 KiB: ~50:1, under the ratio limit, so the rows before it parse, Arrow
    # stops at the line and the walk that looks for the bad line meets it.
    unit = _random_digits(16 * 1024) * 64
    bomb = deflate_repeated(unit, 2 * 1024, head=_rows(1000), tail=b"\n" + _rows(1, first_id=2000))
    assert bomb.size / bomb.compressed_size < 200
    store = _bomb_store(tmp_path, bomb)
    _assert_refused_in_bounded_memory(store, tmp_path, "line 1001: a line longer than 1048576 bytes",
                                      "2 GiB line after 1000 rows, ratio ~50:1")


def test_repeated_rows_beyond_what_may_be_sorted_in_memory_are_refused(tmp_path: Path) -> None:
    # 9.6M trades with one id, one in ten with another quantity (~80:1): the day needs re-sorting, and its
    # normalized rows pass the 512 MiB the re-sort may hold.
    rng = random.Random(5)
    unit = b"".join(ROW.replace(b"0.001", b"0.%03d" % rng.randrange(1, 1000)) if i % 10 == 0 else ROW
                    for i in range(1000))
    bomb = deflate_repeated(unit, 9_600)
    assert bomb.size / bomb.compressed_size < 200
    store = _bomb_store(tmp_path, bomb)
    _assert_refused_in_bounded_memory(store, tmp_path, "refused rather than sorted in memory",
                                      "9.6M repeated rows needing a re-sort")


def test_a_first_line_longer_than_a_line_can_be_is_named(tmp_path: Path) -> None:
    member = deflate_repeated(_random_digits(2 * MIB), 1, tail=b"\n" + ROW)
    zip_path, _ = write_raw_zip(tmp_path, TRADES, member)
    with pytest.raises(ArchiveDataError, match=r"^BTCUSDT-trades-2024-01-02\.zip, line 1: a line longer than"):
        write_normalized_trades(zip_path, TRADES, symbol_spec(Market.USDM, "BTCUSDT"), tmp_path / "out.parquet")
    assert not list(tmp_path.glob("*out.parquet*"))


def test_an_encrypted_member_is_the_products_own_error(tmp_path: Path) -> None:
    zip_path, _ = write_raw_zip(tmp_path, TRADES, deflate_repeated(ROW, 10), encrypted=True)
    with pytest.raises(ArchiveDataError, match=r"^BTCUSDT-trades-2024-01-02\.zip: .*csv is encrypted"):
        write_normalized_trades(zip_path, TRADES, symbol_spec(Market.USDM, "BTCUSDT"), tmp_path / "out.parquet")
    assert not list(tmp_path.glob("*out.parquet*"))


# --- 5. prices no decimal (or no Nautilus raw) can hold ---------------------------------------------------------


@pytest.mark.parametrize(("price", "message"), [
    ("1" + "0" * 38 + ".0", r"line 2: price '1000000000+\.0' has more than 38 digits"),
    # 2^128 + 42000 in units of 10^-8: Arrow's own parse wraps it around to 0.042 without a word
    ("3402823669209384634633746074317.72411456", r"line 2: price '3402823669209384634633746074317\.72411456' has "
                                                 r"more than 38 digits"),
    ("1" + "0" * 37, r"line 2: price '1000000000+' has more than 37 integer digits"),
    ("1e38", r"line 2: price '1e38' is not a decimal number"),
    ("1" + "0" * 25 + ".0", r"price up to 1000000000+\.0 .* exceed what a Nautilus fixed-point raw can hold"),
])
def test_a_price_too_large_names_file_line_and_column(tmp_path: Path, price: str, message: str) -> None:
    rows = [ROW.decode().strip(), f"101,{price},0.001,42.0001,1704153600001,true"]
    store = DataStore(tmp_path / "store")
    write_archive_csv(store.raw, TRADES, "\n".join(rows) + "\n")
    with pytest.raises(ArchiveDataError, match=r"^BTCUSDT-trades-2024-01-02\.zip(, |: )" + message):
        normalize_day(trades_feed(TRADES.market), store, TRADES.day, TRADES.symbol)
    assert [p for p in store.root.rglob("*") if p.is_file() and not p.is_relative_to(store.raw)] == []


# --- 2, 3, 7, 8. hostile servers --------------------------------------------------------------------------------


def _archive(base: str, tmp_path: Path, **options: object) -> BinanceArchive:
    options.setdefault("retry", FAST_RETRY)
    return BinanceArchive(base, tmp_path / "raw", **options)  # type: ignore[arg-type]


def _nothing_kept(tmp_path: Path) -> bool:
    raw = tmp_path / "raw"
    return not raw.exists() or not [p for p in raw.rglob("*") if p.is_file()]


@pytest.mark.parametrize("content_length", [True, False], ids=["announced", "unannounced"])
def test_a_huge_checksum_body_is_not_read(archive_root: Path, archive_server: ArchiveServer, tmp_path: Path,
                                          content_length: bool) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.checksum_key, Fault.huge_body(6 * GIB, content_length=content_length))
    with _archive(archive_server.url, tmp_path) as archive, \
            pytest.raises(DownloadError, match=rf"{day.archive_file.checksum_key}: .*{CHECKSUM_MAX_BYTES} bytes one "
                                               r"can be: not read"):
        archive.fetch_verified(day.archive_file)
    assert archive_server.huge_bytes_sent < 64 * MIB  # what the loopback socket buffers took before the hang-up
    assert len(archive_server.requests) == 1 and _nothing_kept(tmp_path)


def test_a_huge_listing_page_is_not_read(archive_server: ArchiveServer) -> None:
    archive_server.inject(LISTING_KEY, Fault.huge_body(6 * GIB, content_length=False))
    with ArchiveListing(archive_server.url, retry=FAST_RETRY) as listing, \
            pytest.raises(DownloadError, match=rf"prefix=data%2F.*listing page is longer than the {PAGE_MAX_BYTES}"):
        list(listing.objects("data/"))
    assert archive_server.huge_bytes_sent < 64 * MIB


def test_a_listing_answer_that_is_not_xml_is_the_products_error_without_its_body(archive_server: ArchiveServer
                                                                                 ) -> None:
    archive_server.inject(LISTING_KEY, Fault.status(200, body=f"<html>{SECRET}</html".encode()))
    with ArchiveListing(archive_server.url, retry=FAST_RETRY) as listing, \
            pytest.raises(DownloadError, match=r"is not an S3 ListObjects page \(ParseError") as raised:
        list(listing.objects("data/"))
    assert SECRET not in str(raised.value)


def test_a_checksum_error_never_quotes_the_body(archive_root: Path, archive_server: ArchiveServer,
                                               tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    for body in (f"internal-metadata: token={SECRET}", f"{'a' * 64}  {SECRET}"):
        archive_server.inject(day.archive_file.checksum_key, Fault.status(200, body=body.encode()))
        with _archive(archive_server.url, tmp_path) as archive, pytest.raises(ChecksumMismatchError) as raised:
            archive.fetch_verified(day.archive_file)
        assert SECRET not in str(raised.value)
        assert "characters" in str(raised.value)


def test_a_redirect_to_another_host_is_not_followed(archive_root: Path, archive_server: ArchiveServer,
                                                   tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    internal_root = tmp_path / "internal"
    (internal_root / "metadata").mkdir(parents=True)
    (internal_root / "metadata" / "token").write_text(SECRET)
    with ArchiveServer(internal_root) as internal:
        target = internal.url.replace("http://", f"http://admin:{SECRET}@") + "/metadata/token"
        archive_server.inject(day.archive_file.checksum_key, Fault.redirect(target))
        with _archive(archive_server.url, tmp_path) as archive, pytest.raises(DownloadError) as raised:
            archive.fetch_verified(day.archive_file)
        assert internal.requests == []
    message = str(raised.value)
    assert message.startswith(f"{archive_server.url}/{day.archive_file.checksum_key}: redirected to http://admin:***@")
    assert "outside the allowed hosts" in message and SECRET not in message
    assert _nothing_kept(tmp_path)


def test_redirects_within_the_base_host_or_to_an_allowed_one_are_followed(archive_root: Path,
                                                                          archive_server: ArchiveServer,
                                                                          tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.checksum_key, Fault.redirect(f"/{day.archive_file.checksum_key}"))
    with _archive(archive_server.url, tmp_path / "same") as archive:
        assert archive.fetch_verified(day.archive_file).path.read_bytes() == day.zip_path.read_bytes()
    with ArchiveServer(archive_root) as mirror:
        archive_server.inject(day.archive_file.key, Fault.redirect(f"{mirror.url}/{day.archive_file.key}"))
        mirror_host = mirror.url.removeprefix("http://")
        with _archive(archive_server.url, tmp_path / "allowed", redirect_hosts=[mirror_host]) as archive:
            assert archive.fetch_verified(day.archive_file).path.read_bytes() == day.zip_path.read_bytes()
        assert ("GET", f"/{day.archive_file.key}") in mirror.requests


def test_a_redirect_loop_is_the_products_error(archive_root: Path, archive_server: ArchiveServer,
                                               tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    key = day.archive_file.checksum_key
    archive_server.inject(key, *[Fault.redirect(f"/{key}")] * 20)
    with _archive(archive_server.url, tmp_path) as archive, \
            pytest.raises(DownloadError, match=rf"{key}: more than 5 redirects \(a redirect loop\?\): not followed"):
        archive.fetch_verified(day.archive_file)


def test_credentials_never_appear_in_errors_or_provenance(archive_root: Path, archive_server: ArchiveServer,
                                                         tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    base = archive_server.url.replace("http://", f"http://reader:{SECRET}@")
    with _archive(base, tmp_path) as archive:
        assert SECRET not in archive.fetch_verified(day.archive_file).provenance.url
        assert SECRET not in (tmp_path / "raw" / f"{day.archive_file.key}.provenance.json").read_text()
    archive_server.inject(day.archive_file.checksum_key, *[Fault.status(503)] * FAST_RETRY.attempts)
    with _archive(base, tmp_path / "again") as archive, pytest.raises(DownloadError, match="gave up") as raised:
        archive.fetch_verified(day.archive_file)
    assert SECRET not in str(raised.value) and "http://reader:***@127.0.0.1" in str(raised.value)


def test_a_trickling_server_meets_the_transfer_deadline(archive_root: Path, archive_server: ArchiveServer,
                                                        tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.key, Fault.trickle(0.05))
    with _archive(archive_server.url, tmp_path, zip_deadline=2.0) as archive, \
            pytest.raises(DownloadError, match=rf"{day.archive_file.key}: the zip did not arrive within its 2 s "
                                               r"deadline \([0-9]+ bytes received\)"):
        archive.fetch_verified(day.archive_file)
    assert _nothing_kept(tmp_path)


def test_a_stalled_server_costs_one_deadline_not_every_attempt(archive_root: Path, archive_server: ArchiveServer,
                                                               tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.checksum_key, Fault.delay(5.0))
    with _archive(archive_server.url, tmp_path, checksum_deadline=1.0) as archive, \
            pytest.raises(DownloadError, match=r"gave up after 1 attempts: ReadTimeout: timed out; another "
                                               r"attempt would pass the 1 s deadline"):
        archive.fetch_verified(day.archive_file)
    assert len(archive_server.requests) == 1


def test_a_retry_after_beyond_the_ceiling_fails_at_once_saying_what_was_asked(archive_root: Path,
                                                                             archive_server: ArchiveServer,
                                                                             tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.checksum_key, Fault.status(429, {"Retry-After": "999999"}))
    with _archive(archive_server.url, tmp_path) as archive, \
            pytest.raises(DownloadError, match=r"HTTP 429 asks to retry after 999999 s \(Retry-After: '999999'\), "
                                               r"more than the 120 s this client waits: not retried"):
        archive.fetch_verified(day.archive_file)
    assert len(archive_server.requests) == 1
    archive_server.inject(day.archive_file.checksum_key, Fault.status(503, {"Retry-After": "0.2"}))
    with _archive(archive_server.url, tmp_path) as archive:
        assert archive.fetch_verified(day.archive_file).path.read_bytes() == day.zip_path.read_bytes()


def test_a_bad_content_encoding_is_the_products_error(archive_root: Path, archive_server: ArchiveServer,
                                                      tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.key, Fault.bad_encoding())
    with _archive(archive_server.url, tmp_path) as archive, \
            pytest.raises(DownloadError, match=rf"{day.archive_file.key}: the body does not decode as its "
                                               r"Content-Encoding 'gzip' says"):
        archive.fetch_verified(day.archive_file)
    assert _nothing_kept(tmp_path)


def test_a_mirror_that_gzips_the_zip_is_understood(archive_root: Path, archive_server: ArchiveServer,
                                                   tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 1_000)
    archive_server.inject(day.archive_file.checksum_key, Fault.gzipped())
    archive_server.inject(day.archive_file.key, Fault.gzipped())
    with _archive(archive_server.url, tmp_path) as archive:
        assert archive.fetch_verified(day.archive_file).path.read_bytes() == day.zip_path.read_bytes()
    assert len(archive_server.requests) == 2


def test_a_gzip_bomb_for_a_zip_is_not_written_out(archive_root: Path, archive_server: ArchiveServer,
                                                  tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    bomb = gzip.compress(bytes(64 * MIB))  # ~64 KB on the wire
    archive_server.inject(day.archive_file.key, Fault.status(200, {"Content-Encoding": "gzip"}, body=bomb))
    with _archive(archive_server.url, tmp_path) as archive, \
            pytest.raises(DownloadError, match=rf"{day.archive_file.key}: its Content-Encoding inflates the zip "
                                               r"more than 200:1"):
        archive.fetch_verified(day.archive_file)
    assert _nothing_kept(tmp_path)


def test_other_http_errors_are_the_products_error(archive_root: Path, archive_server: ArchiveServer,
                                                  tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.checksum_key, Fault.status(400))
    with _archive(archive_server.url, tmp_path) as archive, \
            pytest.raises(DownloadError, match=rf"{day.archive_file.checksum_key}: HTTP 400: not retried"):
        archive.fetch_verified(day.archive_file)


def test_the_publication_probe_does_not_follow_a_redirect_elsewhere(archive_root: Path,
                                                                    archive_server: ArchiveServer) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 100)
    with ArchiveServer(archive_root) as elsewhere, PublicationProbe(archive_server.url) as probe:
        archive_server.inject(day.archive_file.key, Fault.redirect(f"{elsewhere.url}/{day.archive_file.key}"))
        assert probe.is_published(day.archive_file.key) is None
        assert elsewhere.requests == []
        assert probe.is_published(day.archive_file.key) is True


# --- 9. temporary files of killed writers -----------------------------------------------------------------------

KILLED_WRITER = r"""
import sys
from pathlib import Path
from hedgegrid_data.atomic import atomic_path
with atomic_path(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"x" * 1_000_000)
    print(tmp, flush=True)
    sys.stdin.read()  # until killed
"""


def test_temp_files_of_a_killed_writer_are_removed_and_no_others(tmp_path: Path) -> None:
    directory = tmp_path / "normalized"
    directory.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(directory / "2024-01-02.parquet")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO_ROOT)
    assert writer.stdout is not None
    orphan = Path(writer.stdout.readline().decode().strip())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    old_style = directory / f".2024-01-03.parquet.{'0' * 32}.tmp"  # a name from before pids were in it
    old_style.write_bytes(b"x")
    others = [directory / ".notes.tmp", directory / "2024-01-02.parquet.tmp", directory / "data.parquet"]
    for other in others:
        other.write_bytes(b"x")
    with atomic_path(directory / "2024-01-04.parquet") as live:
        live.write_bytes(b"x")
        os.utime(live, (time.time() - 86_400,) * 2)
        assert orphan.exists()
        assert remove_orphaned_temp_files(directory) == [orphan]
        assert live.exists() and old_style.exists()
        os.utime(old_style, (time.time() - 2 * 3600,) * 2)
        assert remove_orphaned_temp_files(directory) == [old_style]
        assert live.exists()
    assert sorted(p.name for p in directory.iterdir()) == sorted([*(o.name for o in others), "2024-01-04.parquet"])


def test_orphan_sweep_can_recurse(tmp_path: Path) -> None:
    nested = tmp_path / "staging" / "catalog" / "data" / "trade_tick" / "BTCUSDT.BINANCE"
    nested.mkdir(parents=True)
    stale = nested / f".day.parquet.{'a' * 32}.tmp"
    stale.write_bytes(b"x")
    os.utime(stale, (time.time() - 2 * 3600,) * 2)
    assert remove_orphaned_temp_files(tmp_path / "staging") == []
    assert remove_orphaned_temp_files(tmp_path / "staging", recursive=True) == [stale]


def test_a_day_s_write_starts_by_removing_what_a_killed_writer_left(tmp_path: Path) -> None:
    """kill -9 mid-write leaves hidden temp files beside the normalized table and the staged day; the next
    materialization of that day removes them before writing."""
    store = DataStore(tmp_path / "store")
    feed = trades_feed(Market.USDM)
    write_archive_csv(store.raw, TRADES, ROW.decode())
    normalized = feed.normalized_file(store, TRADES.day, TRADES.symbol)
    staged = day_file_path(feed.staging(store), TradeTick, "BTCUSDT-PERP.BINANCE", TRADES.day)
    orphans = []
    for target in (normalized, staged):
        target.parent.mkdir(parents=True, exist_ok=True)
        writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, cwd=REPO_ROOT)
        assert writer.stdout is not None
        orphans.append(Path(writer.stdout.readline().decode().strip()))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert all(o.exists() for o in orphans)
    normalize_day(feed, store, TRADES.day, TRADES.symbol)
    assert not any(o.exists() for o in orphans)
    assert normalized.exists() and staged.exists()


# --- 6. symbol names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["../../etc", "BTC/USDT", "btcusdt", "", "BTC USDT", "A" * 65, "BTC|USDT"])
def test_a_symbol_that_is_not_a_name_is_refused_where_it_enters(tmp_path: Path, symbol: str) -> None:
    """The symbols file and a partition key (the listing: below): nothing may leave the data directory."""
    symbols = tmp_path / "symbols.toml"
    symbols.write_text(f'[spot."{symbol}"]\nbase = "BTC"\nquote = "USDT"\ntick_size = "0.01"\nstep_size = "0.001"\n')
    with pytest.raises(ValueError, match=r"is not a symbol name"):
        symbol_universe(symbols)
    with pytest.raises(ValueError, match=r"not a symbol name|is not '<date>\|<symbol>'"):
        day_and_symbol(f"2024-01-02|{symbol}")


def test_a_listed_folder_that_is_not_a_symbol_name_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "mirror" / "data" / "spot" / "daily" / "trades"
    for folder in ("BTCUSDT", "..evil"):
        (root / folder).mkdir(parents=True)
    with ArchiveListing(str(tmp_path / "mirror")) as listing, pytest.raises(ValueError, match="is not a symbol name"):
        archive_universe(listing, "data/spot/daily/trades/", lambda s: f"data/spot/daily/trades/{s}/",
                         first_dates=False)


def test_configured_and_partition_symbols_keep_working() -> None:
    assert day_and_symbol("2024-01-02|BTCUSD_PERP") == (dt.date(2024, 1, 2), "BTCUSD_PERP")
    assert day_and_symbol("2024-01-02|BTC-30AUG24")[1] == "BTC-30AUG24"


# --- 1. a gzip bomb, for a source without zips (Bybit) -----------------------------------------------------------

GZIP_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a regression fails the child, not the machine
from pathlib import Path
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.sources.bybit_archive.download import verify_gzip
try:
    verify_gzip(Path(sys.argv[1]), "BTCUSDT2025-09-02.csv.gz")
    print("verified")
except ArchiveDataError as exc:
    print(exc)
# this process's own peak (VmHWM): ru_maxrss would also count the forked parent's pages before exec
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def test_a_gzip_bomb_is_refused_with_flat_memory(tmp_path: Path) -> None:
    """2 GiB of one repeated row in a ~2 MB gzip: refused as it inflates, never held."""
    bomb = tmp_path / "BTCUSDT2025-09-02.csv.gz"
    row = (b"1756771200.1234,BTCUSDT,Buy,0.001,110000.5,ZeroPlusTick,"
           b"00000000-0000-0000-0000-000000000000,1.1e+06,0.001,110.0005\n")
    block = row * (8 << 20 // len(row))
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with bomb.open("wb") as out:
        for _ in range((2 << 30) // len(block)):
            out.write(compressor.compress(block))
        out.write(compressor.flush())
    child = subprocess.Popen([sys.executable, "-c", GZIP_CHILD, str(bomb)], stdout=subprocess.PIPE, cwd=REPO_ROOT)
    assert child.stdout is not None
    message, peak_kib = child.stdout.read().decode().rsplit("\n", 2)[:2]
    assert child.wait() == 0, message
    assert "bomb refused: the gzip inflates to" in message and "more than 200:1" in message
    assert int(peak_kib) * 1024 < 512 * 2**20
