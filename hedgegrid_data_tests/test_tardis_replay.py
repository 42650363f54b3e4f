"""Tardis' replay through the real ``tardis-client`` against a loopback fake of ``/v1/data-feeds/{exchange}`` (gzip
bodies, 28-character receive times): the real Binance USD-M frames of ``../shared/samples/binance_ws`` served back
as replay minutes into a real Dagster instance and the catalog (equal to the frames' text through Nautilus' reader),
the client's traps and cache, key handling, filing by exchange time across midnight, mark prices and funding, and
fail-closed frames."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, instance_for_test, materialize
from nautilus_trader.model.data import QuoteTick, TradeTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.errors import ArchiveDataError, DownloadError, NotPublishedError
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import normalize_day
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.tardis.config import load_config
from hedgegrid_data.sources.tardis.feeds import tardis_feeds
from hedgegrid_data.sources.tardis.layout import ReplayFile
from hedgegrid_data.sources.tardis.resources import TardisResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.tardis_server import Fault, TardisServer, iso_time
from hedgegrid_data_tests.conftest import SHARED

SAMPLE = SHARED / "samples" / "binance_ws" / "hftbacktest_usdm_btcusdt_20240808.gz"
EXCHANGE, SYMBOL, INSTRUMENT = "binance-futures", "BTCUSDT", "BTCUSDT-PERP.BINANCE"
CAPTURE_DAY = dt.date(2024, 8, 8)
FREE_DAY = dt.date(2024, 9, 1)
KEY = "TD.replayKeyOfTheAccount42xY"
MS = 10**6


@pytest.fixture(scope="session")
def usdm_frames() -> list[tuple[int, bytes]]:
    """(receive ns, combined-stream frame) of the real capture (its one REST snapshot line left out)."""
    if not SAMPLE.is_file():
        pytest.skip(f"real Binance WebSocket captures not found at {SAMPLE} (../shared is absent in a user's clone)")
    frames = []
    for line in gzip.decompress(SAMPLE.read_bytes()).splitlines():
        ns, _, frame = line.partition(b" ")
        if frame.startswith(b'{"stream"'):
            frames.append((int(ns), frame))
    return frames


def _feeds(tmp_path: Path, channels: str, first_day: str = "2024-08-01") -> dict[str, Feed]:
    config = tmp_path / "tardis.toml"
    config.write_text(f'first_day = "{first_day}"\nreplay_publish = ["TradeTick", "QuoteTick"]\n\n["{EXCHANGE}"]\n'
                      f'symbols = ["{SYMBOL}"]\nchannels = {channels}\n')
    return {f.dataset: f for f in tardis_feeds(load_config(config))}


def _resource(server: TardisServer, api_key: str = KEY) -> TardisResource:
    return TardisResource(api_key=api_key, api_url=server.url)


def _data(frame: bytes) -> dict:
    return json.loads(frame)["data"]


def _channel(frame: bytes) -> str:
    return json.loads(frame)["stream"].split("@")[1]


def test_the_real_capture_replayed_through_tardis_client_into_the_catalog(
        tmp_path: Path, data_store: DataStore, usdm_frames: list[tuple[int, bytes]]) -> None:
    feeds = _feeds(tmp_path, '["trade", "bookTicker"]')
    day_end_ms = (int(dt.datetime(2024, 8, 9, tzinfo=dt.UTC).timestamp()) * 1000)
    with TardisServer(tmp_path / "empty", api_key=KEY) as server, instance_for_test() as instance:
        server.add_frames(EXCHANGE, usdm_frames)
        resources = {"data_store": DataStoreResource(data_dir=str(data_store.root)), "tardis": _resource(server)}
        for dataset in ("trades", "quotes"):
            result = materialize(build_feed_assets(feeds[dataset]), partition_key=f"{CAPTURE_DAY}|{SYMBOL}",
                                 instance=instance, resources=resources)
            assert result.success
            checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
            assert checks["minutes_verified"].passed and checks["catalog_integrity"].passed
        normalized = instance.get_latest_materialization_event(
            AssetKey("tardis_replay_binance_futures_trades_normalized")).asset_materialization.metadata
        raw = instance.get_latest_materialization_event(
            AssetKey("tardis_replay_binance_futures_trades_raw")).asset_materialization.metadata
    seen = [s for s in server.seen if s["path"] == f"/v1/data-feeds/{EXCHANGE}"]
    assert len(seen) == 2 * 1442  # two channels × the day and its edge minutes
    assert {s["accept_encoding"] for s in seen} == {"gzip, deflate"}  # never zstd (the client's trap)
    assert {s["authorization"] for s in seen} == {f"Bearer {KEY}"}
    assert raw["minutes"].value == 1442 and raw["first_minute"].value == "2024-08-07T23:59:00"

    trades = [(ns, _data(f)) for ns, f in usdm_frames if _channel(f) == "trade"]
    in_day = [(ns, d) for ns, d in trades if d["T"] < day_end_ms]
    assert normalized["next_day_rows_left"].value == len(trades) - len(in_day)
    expected = sorted(((d["t"], Decimal(d["p"]), Decimal(d["q"]), 2 if d["m"] else 1, d["T"] * MS, ns // 100 * 100)
                       for ns, d in in_day), key=lambda t: (t[4], t[0]))
    catalog = ParquetDataCatalog(str(data_store.catalog))
    assert [(int(t.trade_id.value), t.price.as_decimal(), t.size.as_decimal(), int(t.aggressor_side), t.ts_event,
             t.ts_init) for t in catalog.query(TradeTick, identifiers=[INSTRUMENT])] == expected

    quotes = [(ns, _data(f)) for ns, f in usdm_frames if _channel(f) == "bookTicker"]
    quotes = [(ns, d) for ns, d in quotes if d["T"] < day_end_ms]
    first_receipt: dict[int, tuple] = {}  # one book update (``u``) received twice is one quote: its first receipt
    for ns, d in sorted(quotes, key=lambda q: (q[1]["T"], q[0])):
        first_receipt.setdefault(d["u"], (Decimal(d["b"]), Decimal(d["B"]), Decimal(d["a"]), Decimal(d["A"]),
                                          d["T"] * MS, ns // 100 * 100))
    assert [(q.bid_price.as_decimal(), q.bid_size.as_decimal(), q.ask_price.as_decimal(), q.ask_size.as_decimal(),
             q.ts_event, q.ts_init) for q in catalog.query(QuoteTick, identifiers=[INSTRUMENT])] == sorted(
        first_receipt.values(), key=lambda q: (q[4], q[5]))
    cache = data_store.raw / "tardis_replay" / "cache" / "feeds" / EXCHANGE
    assert len(list(cache.rglob("*.json.gz"))) == 2 * 1442  # the client's cache, under the data directory


def _minute_frames(day: dt.date) -> list[tuple[int, bytes]]:
    """Synthetic Binance USD-M frames around ``day``: trades at its edges (one of the previous day received after
    midnight, one of the day received after the next midnight) and mark-price updates with funding."""
    start = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()) * 1000
    end = start + 86_400_000

    def trade(t: int, exchange_ms: int, price: str, received_ms: int) -> tuple[int, bytes]:
        data = {"e": "trade", "E": exchange_ms, "T": exchange_ms, "s": SYMBOL, "t": t, "p": price, "q": "0.010",
                "X": "MARKET", "m": t % 2 == 0}
        return received_ms * MS + 1234, json.dumps({"stream": "btcusdt@trade", "data": data}).encode()

    def mark(exchange_ms: int, price: str, rate: str) -> tuple[int, bytes]:
        data = {"e": "markPriceUpdate", "E": exchange_ms, "s": SYMBOL, "p": price, "P": "59000.1", "i": "59001.5",
                "r": rate, "T": start + 8 * 3_600_000}
        return (exchange_ms + 15) * MS, json.dumps({"stream": "btcusdt@markPrice@1s", "data": data}).encode()

    return [trade(1, start - 5, "59000.1", start + 20), trade(2, start + 1_000, "59000.2", start + 1_030),
            trade(3, end - 3, "59000.3", end + 40), trade(4, end + 2, "59000.4", end + 50),
            *(mark(start + 60_000 * n, f"59000.{n}2345678", f"-0.0000{n}100") for n in range(1, 6))]


def test_every_message_is_filed_under_the_day_of_its_exchange_time(tmp_path: Path, data_store: DataStore) -> None:
    day = dt.date(2024, 8, 20)
    feeds = _feeds(tmp_path, '["trade", "markPrice"]')
    with TardisServer(tmp_path / "empty", api_key=KEY) as server:
        server.add_frames(EXCHANGE, _minute_frames(day))
        for feed in (feeds["trades"], feeds["mark_prices"]):  # funding updates share the markPrice file
            feed.source.fetch(_resource(server), feed.source.raw_root(data_store), feed.files(day, SYMBOL))
        for feed in feeds.values():
            normalize_day(feed, data_store, day, SYMBOL)
    table = pq.read_table(feeds["trades"].normalized_file(data_store, day, SYMBOL)).to_pylist()
    assert [r["trade_id"] for r in table] == [2, 3]  # 1 is the previous day's, 4 the next day's
    marks = pq.read_table(feeds["mark_prices"].normalized_file(data_store, day, SYMBOL)).to_pylist()
    assert [f"{r['mark_price']:f}" for r in marks] == [f"59000.{n}23456780000" for n in range(1, 6)]
    funding = pq.read_table(feeds["funding_updates"].normalized_file(data_store, day, SYMBOL)).to_pylist()
    assert [f"{r['rate']:f}" for r in funding] == [f"-0.0000{n}100" for n in range(1, 6)]


def test_a_cut_body_or_a_corrupt_cached_minute_is_fetched_again_not_trusted(
        tmp_path: Path, data_store: DataStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the client logs its api_key at DEBUG: that record must never exist
    day = dt.date(2024, 8, 20)
    file = ReplayFile(EXCHANGE, "trade", SYMBOL, day)
    raw_root = data_store.raw / "tardis_replay"
    with TardisServer(tmp_path / "empty", api_key=KEY) as server:
        server.add_frames(EXCHANGE, _minute_frames(day))
        server.inject(f"data-feeds/{EXCHANGE}", Fault.truncate(0.5))  # a gzip body cut in transit, then cached
        replay = _resource(server).replay(raw_root)
        first = replay.fetch_verified(file)
        assert first.provenance.verified["refetched_cache_minutes"] == 1
        assert first.provenance.verified["messages"] == 4
        minute = next((raw_root / "cache").rglob("00/00.json.gz"))
        minute.write_bytes(minute.read_bytes()[:-10])  # a cached minute damaged on disk
        requests = len(server.requests)
        again = replay.fetch_verified(file)
        assert len(server.requests) == requests + 1  # only the damaged minute is asked for again
    assert again.provenance.verified["refetched_cache_minutes"] == 1
    assert again.provenance.sha256 == first.provenance.sha256
    assert KEY not in caplog.text


def test_keys_401_and_5xx(tmp_path: Path) -> None:
    day = dt.date(2024, 8, 20)
    file = ReplayFile(EXCHANGE, "trade", SYMBOL, day)
    with TardisServer(tmp_path / "empty", api_key=KEY) as server:
        with pytest.raises(NotPublishedError, match="only the first day of each month without an API key"):
            _resource(server, api_key="").replay(tmp_path / "a").fetch_verified(file)
        assert server.requests == []
        with pytest.raises(DownloadError, match="HTTP 401 Unauthorized: the configured TARDIS_API_KEY was refused") \
                as refused:
            _resource(server, api_key="not-the-key-7777").replay(tmp_path / "b").fetch_verified(file)
        assert "not-the-key" not in str(refused.value)
        server.add_frames(EXCHANGE, _minute_frames(FREE_DAY))
        server.inject(f"data-feeds/{EXCHANGE}", Fault.status(500))  # the client retries after ~2 s
        free = _resource(server, api_key="").replay(tmp_path / "c").fetch_verified(
            ReplayFile(EXCHANGE, "trade", SYMBOL, FREE_DAY))  # free: no key, no edge minutes
        assert free.provenance.verified["minutes"] == 1440 and free.provenance.verified["messages"] == 2
        assert all(s["authorization"] == "" for s in server.seen[-1440:])
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.name.endswith(".gz"):
            assert KEY.encode() not in path.read_bytes()


@pytest.mark.parametrize(("line", "message"), [
    (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1724112000', "line 3"),
    (b'{"stream":"btcusdt@trade","data":{"e":"forceOrder","E":1724112000100,"o":{}}}',
     "events the trade channel does not carry: {'forceOrder': 1}"),
    ((b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1724155200100,"T":1724155200100,"s":"BTCUSDT","t":9,'
      b'"p":"59000.12","q":"0.010","X":"MARKET","m":true}}'), "line 3: price '59000.12' has more decimals"),
    ((b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1724025600100,"T":1724025600100,"s":"BTCUSDT","t":9,'
      b'"p":"59000.1","q":"0.010","X":"MARKET","m":true}}'), "line 3: exchange time .* lies outside 2024-08-20"),
])
def test_bad_frames_fail_the_day_naming_file_and_line(tmp_path: Path, data_store: DataStore, line: bytes,
                                                     message: str) -> None:
    """The raw replay file as a fetch keeps it, with one bad frame among good ones."""
    day = dt.date(2024, 8, 20)
    feed = _feeds(tmp_path, '["trade"]')["trades"]
    good = [f"{iso_time(ns)} ".encode() + frame for ns, frame in _minute_frames(day)[1:3]]
    raw = data_store.raw / "tardis_replay" / ReplayFile(EXCHANGE, "trade", SYMBOL, day).key
    raw.parent.mkdir(parents=True)
    raw.write_bytes(gzip.compress(b"\n".join([good[0], b"", b"2024-08-20T12:00:00.0000000Z " + line, good[1]]) + b"\n"))
    with pytest.raises(ArchiveDataError, match=message) as failed:
        normalize_day(feed, data_store, day, SYMBOL)
    assert "binance-futures_trade_2024-08-20_BTCUSDT.txt.gz" in str(failed.value)
    assert not feed.normalized_file(data_store, day, SYMBOL).exists()
