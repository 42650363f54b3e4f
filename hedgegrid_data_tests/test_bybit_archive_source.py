"""The Bybit archive source against a loopback server in Bybit's layout, over real httpx: verified downloads with
their provenance, transient faults retried, a truncated gzip refused, "not published" told apart, the incomplete
index never consulted, and re-publications (a changed ETag or size) found by HEAD."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hedgegrid_data.errors import ChecksumMismatchError, DownloadError, NotPublishedError
from hedgegrid_data.sources.bybit_archive.dialects import Dialect
from hedgegrid_data.sources.bybit_archive.layout import BybitFile
from hedgegrid_data.sources.bybit_archive.resources import BybitArchiveResource
from hedgegrid_data.sources.bybit_archive.source import BYBIT_ARCHIVE
from hedgegrid_data.sources.http import USER_AGENT, Served
from hedgegrid_data.sources.provenance import Provenance, republication_change
from hedgegrid_data.testing.bybit_generator import truncate_gzip, write_trading_day
from hedgegrid_data.testing.bybit_server import BybitArchiveServer, Fault
from hedgegrid_data.venues.bybit import BybitMarket

DAY = dt.date(2025, 9, 2)
SPOT_SAMPLE = BybitFile(BybitMarket.SPOT, "UNIUSDC", dt.date(2025, 5, 17))


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@pytest.fixture
def bybit_root(tmp_path: Path) -> Path:
    root = tmp_path / "bybit"
    root.mkdir()
    return root


@pytest.fixture
def bybit_server(bybit_root: Path) -> Iterator[BybitArchiveServer]:
    with BybitArchiveServer(bybit_root, unlisted=frozenset({f"trading/BTCUSDT/BTCUSDT{DAY}.csv.gz"})) as server:
        yield server


def _resource(server: BybitArchiveServer) -> BybitArchiveResource:
    return BybitArchiveResource(base_url=server.url, download_attempts=3)


def test_a_real_day_is_fetched_verified_and_its_provenance_kept(bybit_root: Path, bybit_server: BybitArchiveServer,
                                                                 bybit_samples: Path, tmp_path: Path) -> None:
    shutil.copytree(bybit_samples / "spot", bybit_root / "spot")
    raw = tmp_path / "raw"
    metadata, checked = BYBIT_ARCHIVE.fetch(_resource(bybit_server), raw, [SPOT_SAMPLE])
    kept = raw / SPOT_SAMPLE.key
    assert kept.read_bytes() == (bybit_samples / SPOT_SAMPLE.key).read_bytes()
    provenance = Provenance.read(kept)
    assert provenance is not None
    assert provenance.url == f"{bybit_server.url}/{SPOT_SAMPLE.key}"
    assert provenance.size == kept.stat().st_size and provenance.etag and provenance.last_modified
    assert provenance.verified["csv_sha256"].startswith("8c616b8f") and provenance.verified["members"] == 1
    assert metadata["sha256"] == provenance.sha256 and metadata["etag"] == provenance.etag
    assert checked[SPOT_SAMPLE.file_name]["sha256"] == provenance.sha256
    assert set(bybit_server.user_agents) == {USER_AGENT}


def test_the_incomplete_index_is_never_needed(bybit_root: Path, bybit_server: BybitArchiveServer,
                                               tmp_path: Path) -> None:
    day = write_trading_day(bybit_root, BybitMarket.LINEAR, "BTCUSDT", DAY, 500)
    index = httpx.get(f"{bybit_server.url}/trading/BTCUSDT/").text
    assert day.file.file_name not in index  # the archive's index pages leave files out
    with BYBIT_ARCHIVE.probe(_resource(bybit_server)) as probe:
        assert probe.is_published(day.file.key) is True
        assert probe.is_published(BybitFile(BybitMarket.LINEAR, "BTCUSDT", DAY + dt.timedelta(1)).key) is False
    BYBIT_ARCHIVE.fetch(_resource(bybit_server), tmp_path / "raw", [day.file])
    assert (tmp_path / "raw" / day.file.key).read_bytes() == day.path.read_bytes()
    assert all(method in ("GET", "HEAD") and "?" not in path for method, path in bybit_server.requests)


def test_transient_faults_are_retried(bybit_root: Path, bybit_server: BybitArchiveServer, tmp_path: Path) -> None:
    day = write_trading_day(bybit_root, BybitMarket.LINEAR, "BTCUSDT", DAY, 2_000)
    bybit_server.inject(day.file.key, Fault.truncate(0.5), Fault.status(503, {"Retry-After": "0"}))
    BYBIT_ARCHIVE.fetch(_resource(bybit_server), tmp_path / "raw", [day.file])
    assert (tmp_path / "raw" / day.file.key).read_bytes() == day.path.read_bytes()
    assert [m for m, p in bybit_server.requests if p.endswith(day.file.file_name)] == ["GET"] * 3


def test_a_published_truncated_gzip_is_refused_and_nothing_kept(bybit_root: Path, bybit_server: BybitArchiveServer,
                                                                tmp_path: Path) -> None:
    day = write_trading_day(bybit_root, BybitMarket.INVERSE, "BTCUSD", DAY, 2_000, size_precision=0)
    truncate_gzip(day.path, 0.8)  # served whole, with a matching Content-Length: only gzip's trailer can tell
    with pytest.raises(ChecksumMismatchError, match="truncated gzip"):
        BYBIT_ARCHIVE.fetch(_resource(bybit_server), tmp_path / "raw", [day.file])
    assert not (tmp_path / "raw").exists() or not any(p.is_file() for p in (tmp_path / "raw").rglob("*"))


def test_not_published_and_gave_up_are_told_apart(bybit_root: Path, bybit_server: BybitArchiveServer,
                                                   tmp_path: Path) -> None:
    missing = BybitFile(BybitMarket.SPOT, "ETHUSDT", DAY)
    with pytest.raises(NotPublishedError, match="HTTP 404"):
        BYBIT_ARCHIVE.fetch(_resource(bybit_server), tmp_path / "raw", [missing])
    day = write_trading_day(bybit_root, BybitMarket.LINEAR, "ETHUSDT", DAY, 100, price_precision=2)
    bybit_server.inject(day.file.key, *[Fault.status(500)] * 3)
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        BYBIT_ARCHIVE.fetch(_resource(bybit_server), tmp_path / "raw", [day.file])
    bybit_server.inject(day.file.key, Fault.status(500))
    with BYBIT_ARCHIVE.probe(_resource(bybit_server)) as probe:
        assert probe.is_published(day.file.key) is None  # could not tell


def test_a_changed_etag_or_size_is_a_republication(bybit_root: Path, bybit_server: BybitArchiveServer,
                                                    tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    day = write_trading_day(bybit_root, BybitMarket.LINEAR, "BTCUSDT", DAY, 1_000, dialect=Dialect.TRADING_RPI)
    other = write_trading_day(bybit_root, BybitMarket.LINEAR, "BTCUSDT", DAY - dt.timedelta(1), 1_000, seed=1)
    BYBIT_ARCHIVE.fetch(_resource(bybit_server), raw, [day.file, other.file])
    files = {day.file.key: day.file, other.file.key: other.file}
    log = _Log()
    assert list(BYBIT_ARCHIVE.republished(_resource(bybit_server), raw, files, log)) == []

    # re-uploaded with another gzip header time: the same size, other bytes, so only the ETag tells
    day.path.write_bytes(gzip.compress(gzip.decompress(day.path.read_bytes()), compresslevel=6, mtime=1))
    other.path.write_bytes(other.path.read_bytes() + gzip.compress(b"", mtime=0))  # a second (empty) member
    changes = {r.file_key: r for r in BYBIT_ARCHIVE.republished(_resource(bybit_server), raw, files, log)}
    assert set(changes) == {day.file.key, other.file.key}
    assert changes[day.file.key].change.startswith("ETag")
    assert changes[other.file.key].change.startswith("size")
    assert log.warnings == []


def test_what_counts_as_a_republication() -> None:
    fetched = Provenance("u", "0" * 64, 100, '"abc"', "Wed, 03 Sep 2025 08:00:00 GMT", "t")
    assert republication_change(fetched, Served(100, '"abc"', "Wed, 03 Sep 2025 08:00:00 GMT")) is None
    assert republication_change(fetched, Served(100, '"abc"', "Thu, 04 Sep 2025 08:00:00 GMT")) is None  # re-upload
    assert republication_change(fetched, Served(100, 'W/"abd"', None)) == "ETag abc → abd"
    assert republication_change(fetched, Served(101, '"abc"', None)) == "size 100 → 101"
    mirrored = Provenance("u", "0" * 64, 100, None, "Wed, 03 Sep 2025 08:00:00 GMT", "t")
    assert republication_change(mirrored, Served(100, None, "Thu, 04 Sep 2025 08:00:00 GMT")).startswith("Last-Mod")


def test_a_local_mirror_directory_is_a_base(bybit_root: Path, tmp_path: Path) -> None:
    day = write_trading_day(bybit_root, BybitMarket.LINEAR, "BTCUSDT", DAY, 300)
    resource = BybitArchiveResource(base_url=str(bybit_root))
    BYBIT_ARCHIVE.fetch(resource, tmp_path / "raw", [day.file])
    provenance = Provenance.read(tmp_path / "raw" / day.file.key)
    assert provenance is not None and provenance.etag is None and provenance.last_modified
    with BYBIT_ARCHIVE.probe(resource) as probe:
        assert probe.is_published(day.file.key) is True
    files = {day.file.key: day.file}
    assert list(BYBIT_ARCHIVE.republished(resource, tmp_path / "raw", files, _Log())) == []
    write_trading_day(bybit_root, BybitMarket.LINEAR, "BTCUSDT", DAY, 301)
    [change] = BYBIT_ARCHIVE.republished(resource, tmp_path / "raw", files, _Log())
    assert change.change.startswith("size")
