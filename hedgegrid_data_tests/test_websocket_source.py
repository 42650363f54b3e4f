"""Captured Binance WebSocket frames as feeds (``sources/websocket`` over ``sources/landing``): the real captures of
``../shared/samples/binance_ws`` through the source, read back by Nautilus' own catalog reader equal to the frames'
text; overlapping captures merged by id; files spanning midnight; bad files failing closed naming file and line;
a large generated capture; and one Dagster materialization and the landing sensor on a real instance."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import Definitions, build_sensor_context, in_process_executor, instance_for_test
from nautilus_trader.model.data import FundingRateUpdate, MarkPriceUpdate, QuoteTick, TradeTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation import AutomationSettings, build_automation
from hedgegrid_data.automation.alerts import AlertsResource
from hedgegrid_data.cli.status import symbol_status
from hedgegrid_data.errors import ArchiveDataError, NotPublishedError
from hedgegrid_data.feeds.configured import configured_feeds
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.feeds.registry import FeedRegistry
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import archive_feeds
from hedgegrid_data.sources.landing.index import LandingImport
from hedgegrid_data.sources.landing.source import LandingDay, LandingSource
from hedgegrid_data.sources.websocket.feeds import websocket_feeds
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.trades import BUYER, SELLER
from hedgegrid_data.testing.ws_capture_generator import generate_capture
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import SHARED, materializations

SAMPLES = SHARED / "samples" / "binance_ws"
DAY, NEXT = dt.date(2024, 8, 8), dt.date(2024, 8, 9)
SAMPLE = {"spot": ("hftbacktest_spot_btcusdt_20240808.gz", "BTCUSDT", "BTCUSDT.BINANCE"),
          "um": ("hftbacktest_usdm_btcusdt_20240808.gz", "BTCUSDT", "BTCUSDT-PERP.BINANCE"),
          "cm": ("hftbacktest_cm_btcusd_perp_20240808.gz", "BTCUSD_PERP", "BTCUSD-PERP.BINANCE")}


@pytest.fixture(scope="module")
def samples() -> Path:
    if not (SAMPLES / SAMPLE["spot"][0]).is_file():
        pytest.skip(f"real WebSocket captures not found at {SAMPLES} (../shared is absent in a user's clone)")
    return SAMPLES


def imports(tmp_path: Path, *entries: dict) -> Path:
    """An imports file with these ``[[websocket]]`` entries."""
    def value(v: object) -> str:
        return json.dumps(str(v) if isinstance(v, Path) else v)

    text = "".join("[[websocket]]\n" + "".join(f"{k} = {value(v)}\n" for k, v in e.items()) + "\n" for e in entries)
    path = tmp_path / "imports.toml"
    path.write_text(text)
    return path


def entry(name: str, landing: Path, market: str, symbol: str, **more: object) -> dict:
    return {"name": name, "landing": landing, "venue": "binance", "market": market, "symbol": symbol,
            "first_day": "2024-08-01", **more}


def by_table(feeds: list[Feed]) -> dict[str, Feed]:
    return {f.table: f for f in feeds}


def build_day(feed: Feed, store: DataStore, day: dt.date, symbol: str):
    """The day through the recipe: fetch, normalize, publish (when the feed publishes)."""
    feed.source.fetch(None, feed.source.raw_root(store), feed.files(day, symbol))
    normalized = normalize_day(feed, store, day, symbol)
    if feed.publisher:
        publish_day(feed, store, day, symbol)
    return normalized


def frames_of(path: Path) -> list[tuple[int, dict]]:
    """(receive ns, frame data) of every frame of a capture, parsed independently of the source (json only)."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        out = []
        for line in f.read().splitlines():
            receive, _, body = line.partition(b" ")
            frame = json.loads(body)
            out.append((int(receive), frame.get("data", frame)))
    return out


def day_of(ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).date()


def expected_trades(frames: list[tuple[int, dict]], day: dt.date, event: str = "trade", ids: str = "t") -> list:
    """The source's trades of the day as (id, price, size, side, ts_event, ts_init), first receipt of each id."""
    first: dict[int, tuple] = {}
    for receive, data in frames:
        if data.get("e") == event and data.get("X", "MARKET") == "MARKET" and day_of(data["T"] * 10**6) == day:
            row = (data[ids], Decimal(data["p"]), Decimal(data["q"]), SELLER if data["m"] else BUYER,
                   data["T"] * 10**6, receive)
            if data[ids] not in first or receive < first[data[ids]][5]:
                first[data[ids]] = row
    return sorted(first.values(), key=lambda r: (r[4], r[0]))


def expected_quotes(frames: list[tuple[int, dict]], day: dt.date) -> list:
    """The source's quotes of the day, ordered by (ts_event, ts_init), each book update (``u``) once: its first
    receipt."""
    rows = []
    for receive, data in frames:
        if data.get("e", "bookTicker" if "u" in data and "b" in data else None) == "bookTicker":
            ts_event = data["T"] * 10**6 if "T" in data else receive
            if day_of(ts_event) == day:
                rows.append((*(Decimal(data[k]) for k in "bBaA"), ts_event, receive, data["u"]))
    rows.sort(key=lambda r: (r[4], r[5]))
    seen, unique = set(), []
    for row in rows:
        if row[6] not in seen:
            seen.add(row[6])
            unique.append(row[:6])
    return unique


def catalog_trades(store: DataStore, instrument_id: str) -> list:
    ticks = ParquetDataCatalog(str(store.catalog)).query(TradeTick, identifiers=[instrument_id])
    return [(int(t.trade_id.value), Decimal(str(t.price)), Decimal(str(t.size)), int(t.aggressor_side), t.ts_event,
             t.ts_init) for t in ticks]


def catalog_quotes(store: DataStore, instrument_id: str) -> list:
    ticks = ParquetDataCatalog(str(store.catalog)).query(QuoteTick, identifiers=[instrument_id])
    return [(Decimal(str(q.bid_price)), Decimal(str(q.bid_size)), Decimal(str(q.ask_price)), Decimal(str(q.ask_size)),
             q.ts_event, q.ts_init) for q in ticks]


@pytest.mark.parametrize("market", ["spot", "um", "cm"])
def test_real_captures_read_back_through_nautilus_equal_to_the_frames(market: str, samples: Path, tmp_path: Path,
                                                                      data_store: DataStore) -> None:
    name, symbol, instrument_id = SAMPLE[market]
    toml = imports(tmp_path, entry("hft", samples, market, symbol, glob=name, tables=["trades", "quotes"]))
    feeds = by_table(websocket_feeds(toml))  # alone: they publish
    frames = frames_of(samples / name)
    # spot's capture spans midnight: both days are built, each from its own rows of the same file
    days = [DAY, NEXT] if market == "spot" else [DAY]
    for day in days:
        trades = build_day(feeds["trades"], data_store, day, symbol)
        assert trades.metadata["rows"] == len(expected_trades(frames, day))
        assert {v.check: v.passed for v in trades.verdicts}["trade_id_gaps"]  # one unbroken capture
    quotes = build_day(feeds["quotes"], data_store, DAY, symbol)
    assert quotes.metadata["frames_skipped"]["depthUpdate"] > 0
    assert catalog_trades(data_store, instrument_id) == [r for d in days for r in expected_trades(frames, d)]
    assert catalog_quotes(data_store, instrument_id) == expected_quotes(frames, DAY)
    assert (data_store.root / f"normalized/websocket/{market}/hft_trades/{symbol}/{DAY}.parquet").is_file()
    [stored] = (data_store.raw / "websocket/hft/objects").iterdir()  # the file once, for every day it covers
    assert stored.name.endswith(name)


def _write(path: Path, lines: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data, 1) if path.name.endswith(".gz") else data)
    return path


def _shifted(line: bytes, ns: int) -> bytes:
    receive, _, body = line.partition(b" ")
    return b"%d %s" % (int(receive) + ns, body)


def test_overlapping_captures_are_merged_by_trade_id(samples: Path, tmp_path: Path, data_store: DataStore) -> None:
    """Two recorders (the second 5 ms later) overlapping for a fifth of the capture give the same day as one."""
    lines = gzip.decompress((samples / SAMPLE["spot"][0]).read_bytes()).splitlines()
    cut_a, cut_b = len(lines) * 3 // 5, len(lines) * 2 // 5
    landing = tmp_path / "landing"
    _write(landing / "recorder-a.jsonl", lines[:cut_a])
    _write(landing / "recorder-b.jsonl.gz", [_shifted(line, 5_000_000) for line in lines[cut_b:]])
    toml = imports(tmp_path, entry("two", landing, "spot", "BTCUSDT", tables=["trades", "quotes"]))
    feeds = by_table(websocket_feeds(toml))
    day = build_day(feeds["trades"], data_store, DAY, "BTCUSDT")
    assert day.metadata["received_twice"] > 1000
    assert day.metadata["capture_files"] == "recorder-a.jsonl, recorder-b.jsonl.gz"
    both = frames_of(landing / "recorder-a.jsonl") + frames_of(landing / "recorder-b.jsonl.gz")
    merged = expected_trades(both, DAY)
    assert [t[:5] for t in merged] == [t[:5] for t in expected_trades(frames_of(samples / SAMPLE["spot"][0]), DAY)]
    assert catalog_trades(data_store, "BTCUSDT.BINANCE") == merged
    status = symbol_status(feeds["trades"], data_store, "BTCUSDT", dt.datetime(2024, 8, 10, 12, tzinfo=dt.UTC))
    assert (status["source"], status["first_day"], status["last_day"]) == ("websocket", "2024-08-08", "2024-08-08")
    build_day(feeds["quotes"], data_store, DAY, "BTCUSDT")
    quotes = catalog_quotes(data_store, "BTCUSDT.BINANCE")
    # a quote received by both recorders is in once (spot quotes' time is their receipt's: it differs by 5 ms)
    assert quotes == expected_quotes(both, DAY)  # each update u once

    # a trade id received twice with another price is an error naming both files and lines
    index = next(i for i in range(cut_b, cut_a) if b'"e":"trade"' in lines[i])
    changed = lines[index].replace(b'"p":"', b'"p":"1')
    _write(landing / "recorder-b.jsonl.gz", [_shifted(line, 5_000_000) for line in lines[cut_b:index]]
           + [_shifted(changed, 5_000_000)] + [_shifted(line, 5_000_000) for line in lines[index + 1:]])
    with pytest.raises(ArchiveDataError, match=rf"trade id \d+ was received before with other values "
                                               rf"\(recorder-a.jsonl, line {index + 1}\)") as error:
        build_day(feeds["trades"], data_store, DAY, "BTCUSDT")
    assert (error.value.file, error.value.line) == ("recorder-b.jsonl.gz", index - cut_b + 1)


def _nothing_written(store: DataStore, feed: Feed, day: dt.date, symbol: str) -> None:
    assert not feed.normalized_file(store, day, symbol).exists()
    assert not list(store.staging.rglob("*.parquet")) and not (store.catalog / "data").exists()


def test_bad_captures_fail_closed_naming_file_and_line(samples: Path, tmp_path: Path, data_store: DataStore) -> None:
    compressed = (samples / SAMPLE["cm"][0]).read_bytes()
    lines = gzip.decompress(compressed).splitlines()
    # a truncated gzip: the index keeps what it read (its days are built, and fail naming the file)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "cut.gz").write_bytes(compressed[: len(compressed) // 2])
    [trades] = websocket_feeds(imports(tmp_path, entry("cut", truncated, "cm", "BTCUSD_PERP", tables=["trades"])))
    with pytest.raises(ArchiveDataError, match=r"cut.gz, line \d+: truncated or corrupt gzip after line \d+"):
        build_day(trades, data_store, DAY, "BTCUSD_PERP")
    _nothing_written(data_store, trades, DAY, "BTCUSD_PERP")

    # a JSON line cut in half in the middle of a file
    halved = tmp_path / "halved"
    _write(halved / "half.jsonl", [*lines[:100], lines[100][:60], *lines[101:200]])
    [trades] = websocket_feeds(imports(tmp_path, entry("half", halved, "cm", "BTCUSD_PERP", tables=["trades"])))
    with pytest.raises(ArchiveDataError, match=r"half.jsonl, line 101: not a JSON frame \(cut short\?\)"):
        build_day(trades, data_store, DAY, "BTCUSD_PERP")
    _nothing_written(data_store, trades, DAY, "BTCUSD_PERP")

    # more decimals than the instrument allows (COIN-M sizes are whole contracts)
    index = next(i for i, line in enumerate(lines) if b'"e":"trade"' in line)
    decimals = tmp_path / "decimals"
    _write(decimals / "d.jsonl", [*lines[:index], lines[index].replace(b'"q":"', b'"q":"0.5') , *lines[index + 1:3000]])
    [trades] = websocket_feeds(imports(tmp_path, entry("dec", decimals, "cm", "BTCUSD_PERP", tables=["trades"])))
    with pytest.raises(ArchiveDataError, match=rf"d.jsonl, line {index + 1}: qty '0.5\d*' has more decimals"):
        build_day(trades, data_store, DAY, "BTCUSD_PERP")
    _nothing_written(data_store, trades, DAY, "BTCUSD_PERP")

    # a trade of size 0, in the second of two files
    second = next(i for i in range(index + 1, len(lines)) if b'"e":"trade"' in lines[i])
    zero = tmp_path / "zero"
    _write(zero / "a.jsonl", lines[:index + 1])
    _write(zero / "b.jsonl", [*lines[index + 1:second], re.sub(rb'"q":"[0-9.]+"', b'"q":"0"', lines[second]),
                              *lines[second + 1:second + 100]])
    [trades] = websocket_feeds(imports(tmp_path, entry("zero", zero, "cm", "BTCUSD_PERP", tables=["trades"])))
    with pytest.raises(ArchiveDataError, match=rf"b.jsonl, line {second - index}: a trade of price [0-9.]+ and "
                                               "size 0: both must be above 0"):
        build_day(trades, data_store, DAY, "BTCUSD_PERP")
    _nothing_written(data_store, trades, DAY, "BTCUSD_PERP")


def test_a_large_generated_capture_spanning_midnight(tmp_path: Path, data_store: DataStore) -> None:
    landing = tmp_path / "landing"
    generated = generate_capture(landing / "um-BTCUSDT.jsonl.gz", Market.USDM, "BTCUSDT",
                                 dt.datetime(2024, 8, 8, 23, 58), 50_000)
    toml = imports(tmp_path, entry("gen", landing, "um", "BTCUSDT", tables=["trades", "agg_trades", "mark_prices",
                                                                           "funding_updates"]))
    feeds = by_table(websocket_feeds(toml))
    for day in (DAY, NEXT):
        for feed in feeds.values():
            build_day(feed, data_store, day, "BTCUSDT")
    frames = frames_of(generated.path)
    trades = catalog_trades(data_store, "BTCUSDT-PERP.BINANCE")
    assert [t[0] for t in trades] == list(range(generated.first_trade_id, generated.last_trade_id + 1))
    assert trades == [r for d in (DAY, NEXT) for r in expected_trades(frames, d)]
    catalog = ParquetDataCatalog(str(data_store.catalog))
    marks = catalog.query(MarkPriceUpdate, identifiers=["BTCUSDT-PERP.BINANCE"])
    source = sorted((data["E"] * 10**6, receive, Decimal(data["p"])) for receive, data in frames
                    if data.get("e") == "markPriceUpdate")
    assert len(marks) == generated.frames["markPrice@1s"] == len(source)
    assert [(m.ts_event, m.ts_init, Decimal(str(m.value))) for m in marks] == source
    funding = catalog.query(FundingRateUpdate, identifiers=["BTCUSDT-PERP.BINANCE"])
    assert len(funding) == len(source)
    # aggTrades keep their table (the trades feed publishes the instrument's TradeTicks)
    assert not feeds["agg_trades"].publisher
    aggregates = [row for d in (DAY, NEXT) for row in pq.read_table(
        feeds["agg_trades"].normalized_file(data_store, d, "BTCUSDT")).to_pylist()]
    assert [(r["trade_id"], r["price"], r["qty"], r["aggressor_side"], r["ts_event"].value, r["ts_init"].value)
            for r in aggregates] == [r for d in (DAY, NEXT) for r in expected_trades(frames, d, "aggTrade", "a")]


def test_the_registry_keeps_one_publisher_per_series(samples: Path, tmp_path: Path) -> None:
    toml = imports(tmp_path, entry("hft", samples, "um", "BTCUSDT"),
                   entry("other", samples, "um", "BTCUSDT", tables=["quotes"]))
    archive = archive_feeds()
    feeds = websocket_feeds(toml, archive)
    FeedRegistry([*archive, *feeds])
    assert {f.name: f.publisher for f in feeds} == {
        "binance_um_websocket_hft_trades": False, "binance_um_websocket_hft_agg_trades": False,
        "binance_um_websocket_hft_quotes": True, "binance_um_websocket_hft_mark_prices": False,
        "binance_um_websocket_hft_funding_updates": False, "binance_um_websocket_other_quotes": False}
    forced = websocket_feeds(imports(tmp_path, entry("hft", samples, "um", "BTCUSDT", publish=True)), archive)
    with pytest.raises(ValueError, match="would both publish TradeTick for BTCUSDT-PERP.BINANCE"):
        FeedRegistry([*archive, *forced])


def test_a_dagster_materialization_and_the_landing_sensor(samples: Path, tmp_path: Path,
                                                          data_store: DataStore) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copyfile(samples / SAMPLE["spot"][0], landing / "spot-1.gz")
    toml = imports(tmp_path, entry("hft", landing, "spot", "BTCUSDT", tables=["trades"]))
    [feed] = websocket_feeds(toml)
    resources = {"data_store": DataStoreResource(data_dir=str(data_store.root)),
                 "hedgegrid_alerts": AlertsResource(alerts_file=str(tmp_path / "alerts.jsonl"))}
    automation = build_automation([feed], AutomationSettings(), resources=resources, alert_sensors=False)
    defs = Definitions(assets=build_feed_assets(feed), resources=automation["resources"], jobs=automation["jobs"],
                       schedules=automation["schedules"], sensors=automation["sensors"], executor=in_process_executor)
    repository = defs.get_repository_def()
    name = feed.name
    assert {s.name for s in repository.sensor_defs} == {f"{name}_landing"} and not repository.schedule_defs

    def tick(instance) -> list:
        context = build_sensor_context(instance=instance, definitions=defs, sensor_name=f"{name}_landing",
                                       resources=defs.resources)
        return repository.get_sensor_def(f"{name}_landing").evaluate_tick(context).run_requests

    with instance_for_test() as instance:
        assert [r.partition_key for r in tick(instance)] == [f"{DAY}|BTCUSDT", f"{NEXT}|BTCUSDT"]
        result = repository.get_job(f"{name}_daily").execute_in_process(partition_key=f"{DAY}|BTCUSDT",
                                                                         instance=instance)
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {"sha256_recorded": True, "schema_valid": True, "trade_id_gaps": True,
                          "trade_silences": True, "day_coverage": False, "price_spikes": True,
                          "volume_spikes": True, "capture_disconnects": False, "rows_in_equals_rows_out": True,
                          "catalog_integrity": True}  # a 6-minute capture covers little of its day: WARN only
        [normalized] = materializations(result, f"{name}_normalized")
        on_the_day = len(expected_trades(frames_of(landing / "spot-1.gz"), DAY))
        assert normalized.metadata["rows"].value == on_the_day < 9_757  # its last trades are on the 9th
        # the fetched day is not requested again; the other day still is
        [request] = tick(instance)
        assert request.partition_key == f"{NEXT}|BTCUSDT" and request.tags["hedgegrid/trigger"] == "landing"
        # a second recorder's file lands: both days it covers are requested again
        (landing / "spot-2.jsonl").write_bytes(gzip.decompress((samples / SAMPLE["spot"][0]).read_bytes())[:200_000])
        requests = {r.partition_key: r.tags["hedgegrid/change"] for r in tick(instance)}
        assert requests == {f"{DAY}|BTCUSDT": "new spot-2.jsonl", f"{NEXT}|BTCUSDT": "new: spot-1.gz"}
    assert len(catalog_trades(data_store, "BTCUSDT.BINANCE")) == on_the_day


class TimesReader:
    """A landing content reader of one JSON time per line (``{"t": ns}``), counting the files it reads."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def spans(self, path: Path, name: str) -> dict[str, tuple[int, int]]:
        self.read.append(name)
        times = [json.loads(line)["t"] for line in path.read_text().splitlines()]
        return {"x": (min(times), max(times))}


def test_the_landing_index_reads_each_file_version_once(tmp_path: Path, data_store: DataStore) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    midnight = 1723161600 * 10**9
    (landing / "a.jsonl").write_text(f'{{"t": {midnight - 10**9}}}\n{{"t": {midnight + 10**9}}}\n')
    (landing / ".hidden.jsonl").write_text("not read\n")
    (landing / "b.jsonl.part").write_text("being written\n")
    reader = TimesReader()
    source = LandingSource("test", LandingImport("imp", landing, "*", reader))
    raw_root = source.raw_root(data_store)
    assert source.index(raw_root).days() == [DAY, NEXT] and reader.read == ["a.jsonl"]
    source.fetch(None, raw_root, [LandingDay("x", DAY)])
    assert source.change(source.index(raw_root), raw_root, LandingDay("x", DAY)) is None
    (landing / "a.jsonl").touch()  # same bytes, new mtime: not read again
    assert source.index(raw_root).days() == [DAY, NEXT] and reader.read == ["a.jsonl"]
    (landing / "a.jsonl").write_text(f'{{"t": {midnight - 2 * 10**9}}}\n')
    index = source.index(raw_root)
    assert reader.read == ["a.jsonl", "a.jsonl"] and index.days() == [DAY]
    assert source.change(index, raw_root, LandingDay("x", DAY))[1] == "changed a.jsonl"
    [republished] = source.republished(None, raw_root, {"x/2024-08-08": LandingDay("x", DAY)}, None)
    assert (republished.file_key, republished.change) == ("x/2024-08-08", "changed a.jsonl")
    with pytest.raises(NotPublishedError, match="no file of import 'imp'"):
        source.fetch(None, raw_root, [LandingDay("x", NEXT)])


def test_configured_feeds_take_the_imports_file(samples: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEGRID_IMPORTS", str(imports(tmp_path, entry("hft", samples, "spot", "BTCUSDT"))))
    feeds = {f.name: f for f in configured_feeds()}
    assert {n: f.publisher for n, f in feeds.items() if "websocket" in n} == {
        "binance_spot_websocket_hft_trades": False, "binance_spot_websocket_hft_agg_trades": False,
        "binance_spot_websocket_hft_quotes": True}
    sensors = {s.name for s in build_automation(feeds.values(), alert_sensors=False)["sensors"]}
    assert "binance_spot_websocket_hft_quotes_landing" in sensors
    assert "binance_spot_websocket_hft_quotes_availability" not in sensors
    monkeypatch.delenv("HEDGEGRID_IMPORTS")
    assert not [f for f in configured_feeds() if "websocket" in f.name]


def test_id_gaps_and_disconnects_are_reported_and_the_day_still_lands(tmp_path: Path, data_store: DataStore) -> None:
    """A capture that lost 40 seconds (a reconnect): the missing trade ids are counted and the window listed, as
    WARNs; what was received is published."""
    generated = generate_capture(tmp_path / "gen.jsonl", Market.USDM, "BTCUSDT", dt.datetime(2024, 8, 8, 12), 20_000)
    lines = generated.path.read_bytes().splitlines()
    start = int(lines[5_000].partition(b" ")[0])
    window = [start <= int(line.partition(b" ")[0]) < start + 40 * 10**9 for line in lines]
    kept = [line for line, out in zip(lines, window, strict=True) if not out]
    lost = [json.loads(line.partition(b" ")[2])["data"] for line, out in zip(lines, window, strict=True) if out]
    _write(tmp_path / "landing" / "gappy.jsonl", kept)
    [trades] = websocket_feeds(imports(tmp_path, entry("gap", tmp_path / "landing", "um", "BTCUSDT",
                                                       tables=["trades"], disconnect_seconds=30)))
    day = build_day(trades, data_store, DAY, "BTCUSDT")
    verdicts = {v.check: v for v in day.verdicts}
    gaps = verdicts["trade_id_gaps"]
    assert (gaps.passed, gaps.severity.value) == (False, "WARN")
    assert gaps.metadata["missing_ids"] == sum(1 for d in lost if d.get("e") == "trade") > 0
    disconnects = verdicts["capture_disconnects"]
    assert not disconnects.passed and disconnects.metadata["silences"] == 3  # before, during and after the capture
    assert len(catalog_trades(data_store, "BTCUSDT-PERP.BINANCE")) == generated.last_trade_id \
        - generated.first_trade_id + 1 - gaps.metadata["missing_ids"]
