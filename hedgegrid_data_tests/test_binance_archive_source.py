"""Downloading and verifying archive files over real HTTP (httpx → loopback server in the archive's layout)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from hedgegrid_data.errors import (
    ChecksumMismatchError,
    DownloadError,
    NotPublishedError,
)
from hedgegrid_data.sources.binance_archive.download import (
    BinanceArchive,
    Provenance,
    RetryPolicy,
    parse_checksum,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.testing.archive_generator import (
    rewrite_checksum_wrong,
    truncate_zip,
)
from hedgegrid_data.testing.archive_server import ArchiveServer, Fault
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import generate_trades

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)
DAY = dt.date(2024, 1, 2)


def _archive(server: ArchiveServer, tmp_path: Path) -> BinanceArchive:
    return BinanceArchive(server.url, tmp_path / "raw", retry=FAST_RETRY)


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_parse_checksum_with_and_without_newline() -> None:
    digest = "a" * 64
    assert parse_checksum(f"{digest}  X.zip", "X.zip", "src") == digest
    assert parse_checksum(f"{digest}  X.zip\n", "X.zip", "src") == digest
    with pytest.raises(ChecksumMismatchError, match="names 'Y.zip'"):
        parse_checksum(f"{digest}  Y.zip\n", "X.zip", "src")
    with pytest.raises(ChecksumMismatchError, match="not a CHECKSUM line"):
        parse_checksum("<html>oops</html>", "X.zip", "src")


REAL_SAMPLES = [
    *(ArchiveFile(Market.SPOT, "klines", "BTCUSDT", dt.date(2020, 1, d), interval="1m") for d in (1, 2, 3)),
    *(ArchiveFile(Market.SPOT, "klines", "BTCUSDT", dt.date(2026, 5, d), interval="1h") for d in (8, 9)),
    ArchiveFile(Market.USDM, "fundingRate", "BTCUSDT", dt.date(2026, 4, 1), monthly=True),
    ArchiveFile(Market.COINM, "aggTrades", "BTCUSD_PERP", dt.date(2026, 5, 8)),
]


def test_real_samples_download_and_verify(archive_with_samples: Path, tmp_path: Path) -> None:
    assert sorted(f.key for f in REAL_SAMPLES) == sorted(
        p.relative_to(archive_with_samples).as_posix() for p in archive_with_samples.rglob("*.zip"))
    with ArchiveServer(archive_with_samples) as server, _archive(server, tmp_path) as archive:
        for archive_file in REAL_SAMPLES:
            verified = archive.fetch_verified(archive_file)
            assert verified.path.read_bytes() == (archive_with_samples / archive_file.key).read_bytes()
            assert verified.provenance.sha256 == parse_checksum(
                (archive_with_samples / archive_file.checksum_key).read_text(), archive_file.file_name, "sample")


def test_fetch_verified_keeps_zip_checksum_and_provenance(archive_root: Path, archive_server: ArchiveServer,
                                                          tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.USDM, "BTCUSDT", DAY, 2_000)
    with _archive(archive_server, tmp_path) as archive:
        verified = archive.fetch_verified(day.archive_file)
        assert not verified.reused
        assert verified.path == tmp_path / "raw" / day.archive_file.key
        assert verified.path.read_bytes() == day.zip_path.read_bytes()
        p = verified.provenance
        assert p.sha256 == hashlib.sha256(day.zip_path.read_bytes()).hexdigest()
        assert p.size == day.zip_path.stat().st_size
        assert p.url == f"{archive_server.url}/{day.archive_file.key}"
        assert p.etag and p.last_modified and p.fetched_at
        assert Provenance.read(verified.path) == p
        again = archive.fetch_verified(day.archive_file)
        assert again.reused
    zip_gets = [r for r in archive_server.requests if r == ("GET", "/" + day.archive_file.key)]
    assert len(zip_gets) == 1


def test_checksum_mismatch_fails_closed_and_keeps_nothing(archive_root: Path, archive_server: ArchiveServer,
                                                          tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.SPOT, "BTCUSDT", DAY, 1_000)
    rewrite_checksum_wrong(day)
    with _archive(archive_server, tmp_path) as archive, \
            pytest.raises(ChecksumMismatchError, match=r"BTCUSDT-trades-2024-01-02\.zip: sha256 .* does not match"):
        archive.fetch_verified(day.archive_file)
    assert _files_under(tmp_path / "raw") == []


def test_corrupted_zip_on_server_fails_checksum(archive_root: Path, archive_server: ArchiveServer,
                                                tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.SPOT, "BTCUSDT", DAY, 1_000)
    truncate_zip(day)
    with _archive(archive_server, tmp_path) as archive, pytest.raises(ChecksumMismatchError):
        archive.fetch_verified(day.archive_file)
    assert _files_under(tmp_path / "raw") == []


def test_not_published_says_so(archive_server: ArchiveServer, tmp_path: Path) -> None:
    missing = ArchiveFile(Market.COINM, "trades", "BTCUSD_PERP", DAY)
    with _archive(archive_server, tmp_path) as archive, pytest.raises(NotPublishedError, match="HTTP 404, not published"):
        archive.fetch_verified(missing)
    assert len(archive_server.requests) == 1


def test_forbidden_means_not_published(archive_root: Path, archive_server: ArchiveServer, tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.SPOT, "BTCUSDT", DAY, 100)
    archive_server.inject(day.archive_file.checksum_key, Fault.status(403))
    with _archive(archive_server, tmp_path) as archive, pytest.raises(NotPublishedError, match="HTTP 403"):
        archive.fetch_verified(day.archive_file)


def test_transient_failures_are_retried(archive_root: Path, archive_server: ArchiveServer, tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.SPOT, "BTCUSDT", DAY, 5_000)
    archive_server.inject(day.archive_file.checksum_key, Fault.status(503), Fault.status(429, {"Retry-After": "0"}))
    archive_server.inject(day.archive_file.key, Fault.truncate(0.3), Fault.status(500), Fault.delay(0.05))
    with _archive(archive_server, tmp_path) as archive:
        verified = archive.fetch_verified(day.archive_file)
    assert verified.path.read_bytes() == day.zip_path.read_bytes()
    gets = [path for method, path in archive_server.requests if method == "GET"]
    assert gets.count("/" + day.archive_file.checksum_key) == 3
    assert gets.count("/" + day.archive_file.key) == 3


def test_persistent_failure_gives_up_with_reasons(archive_root: Path, archive_server: ArchiveServer,
                                                  tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.SPOT, "BTCUSDT", DAY, 5_000)
    archive_server.inject(day.archive_file.key, *[Fault.truncate(0.5)] * FAST_RETRY.attempts)
    with _archive(archive_server, tmp_path) as archive, \
            pytest.raises(DownloadError, match=r"gave up after 4 attempts: truncated body|RemoteProtocolError"):
        archive.fetch_verified(day.archive_file)
    assert _files_under(tmp_path / "raw") == []


def test_local_mirror_directory(archive_root: Path, tmp_path: Path) -> None:
    day = generate_trades(archive_root, Market.COINM, "BTCUSD_PERP", DAY, 1_000)
    with BinanceArchive(str(archive_root), tmp_path / "raw") as archive:
        verified = archive.fetch_verified(day.archive_file)
        assert verified.path.read_bytes() == day.zip_path.read_bytes()
        with pytest.raises(NotPublishedError, match="not in the local mirror"):
            archive.fetch_verified(ArchiveFile(Market.COINM, "trades", "BTCUSD_PERP", dt.date(2024, 1, 3)))
