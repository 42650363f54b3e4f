"""Tardis' downloadable CSV datasets through real parts: a loopback fake of datasets.tardis.dev driven by the real
httpx client, a real Dagster instance, the real Nautilus reader (every value equal to the source text), the API key
kept out of everything written, fail-closed parsing, the real Tardis rows of ``../shared/samples/tardis``, the
reconciliation with the Binance archive, and one BacktestNode fed from the Tardis catalog."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import (
    AssetKey,
    Definitions,
    EnvVar,
    build_sensor_context,
    in_process_executor,
    instance_for_test,
    materialize,
)
from nautilus_trader.config import BacktestDataConfig
from nautilus_trader.model.data import FundingRateUpdate, MarkPriceUpdate, OrderBookDepth10, QuoteTick, TradeTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation import AutomationSettings, build_automation
from hedgegrid_data.automation.alerts import AlertsResource
from hedgegrid_data.catalog.funding_rates import register_funding_rate_codec
from hedgegrid_data.errors import ArchiveDataError, ChecksumMismatchError, DownloadError, HedgegridDataError
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.feeds.registry import FeedRegistry
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import archive_feeds, trades_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.sources.tardis.config import load_config
from hedgegrid_data.sources.tardis.datasets_csv import quotes_table, trade_batches
from hedgegrid_data.sources.tardis.download import KeyRequired
from hedgegrid_data.sources.tardis.feeds import tardis_feeds
from hedgegrid_data.sources.tardis.layout import DatasetFile
from hedgegrid_data.sources.tardis.resources import TardisResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import read_csv_rows
from hedgegrid_data.testing.tardis_generator import (
    derivative_ticker_rows,
    quotes_rows,
    trades_rows,
    write_rows,
)
from hedgegrid_data.testing.tardis_server import Fault, TardisServer
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import SHARED, edited_symbols_file, generate_trades
from hedgegrid_data_tests.recording_actor import record_backtest

SAMPLES_TARDIS = SHARED / "samples" / "tardis"
EXCHANGE, SYMBOL, INSTRUMENT = "binance-futures", "BTCUSDT", "BTCUSDT-PERP.BINANCE"
FREE_DAY = dt.date(2024, 1, 1)  # Tardis serves the first day of a month without a key
PAID_DAY = dt.date(2024, 1, 2)
KEY = "TD.k3yOfTheTardisAccount9zQ"
ALL_TYPES = '["TradeTick", "QuoteTick", "MarkPriceUpdate", "FundingRateUpdate"]'


@pytest.fixture(scope="session")
def tardis_samples() -> Path:
    if not (SAMPLES_TARDIS / "bitmex_trades_XBTUSD.csv").is_file():
        pytest.skip(f"real Tardis samples not found at {SAMPLES_TARDIS} (../shared is absent in a user's clone)")
    return SAMPLES_TARDIS


def _feeds(tmp_path: Path, publish: str = ALL_TYPES, first_day: str = "2024-01-01") -> dict[str, Feed]:
    config = tmp_path / "tardis.toml"
    config.write_text(f'first_day = "{first_day}"\npublish = {publish}\n\n["{EXCHANGE}"]\nsymbols = ["{SYMBOL}"]\n'
                      'datasets = ["trades", "quotes", "derivative_ticker"]\n')
    return {f.table: f for f in tardis_feeds(load_config(config))}


def _write_day(root: Path, day: dt.date, n: int = 1_500, seed: int = 0) -> dict[str, list[list[str]]]:
    rows = {"trades": trades_rows(EXCHANGE, SYMBOL, day, n, seed),
            "quotes": quotes_rows(EXCHANGE, SYMBOL, day, n, seed),
            "derivative_ticker": derivative_ticker_rows(EXCHANGE, SYMBOL, day, n, seed)}
    for data_type, written in rows.items():
        write_rows(root, EXCHANGE, data_type, SYMBOL, day, written)
    return rows


def _resources(server: TardisServer, store: DataStore, api_key: object = "") -> dict:
    return {"data_store": DataStoreResource(data_dir=str(store.root)),
            "tardis": TardisResource(api_key=api_key, datasets_url=server.url, download_attempts=3, base_delay=0.01)}


def _catalog(store: DataStore, data_cls: type) -> list:
    register_funding_rate_codec()
    return ParquetDataCatalog(str(store.catalog)).query(data_cls, identifiers=[INSTRUMENT])


def _us(text: str) -> int:
    return int(text) * 1000


def _expected_marks(rows: list[list[str]]) -> list[tuple]:
    """Rows whose (mark, index) changed, in file order: what the mark-price table keeps."""
    kept, previous = [], None
    for r in rows:
        if (r[10], r[9]) != previous:
            kept.append((Decimal(r[10]), _us(r[2]), _us(r[3])))
        previous = (r[10], r[9])
    return kept


def _expected_funding(rows: list[list[str]]) -> list[tuple]:
    kept, previous = [], None
    for r in rows:
        if (r[5], r[4]) != previous:
            kept.append((Decimal(r[5]), _us(r[4]), _us(r[2]), _us(r[3])))
        previous = (r[5], r[4])
    return kept


def test_a_free_day_without_key_through_dagster_into_the_catalog_equal_to_the_source_text(
        tmp_path: Path, data_store: DataStore) -> None:
    root = tmp_path / "tardis"
    rows = _write_day(root, FREE_DAY)
    feeds = _feeds(tmp_path)
    with TardisServer(root, api_key=KEY) as server, instance_for_test() as instance:
        for feed in feeds.values():
            result = materialize(build_feed_assets(feed), partition_key=f"{FREE_DAY}|{SYMBOL}", instance=instance,
                                 resources=_resources(server, data_store))
            assert result.success
            checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
            assert checks["gzip_verified"].passed and checks["catalog_integrity"].passed
        assert all(not seen["authorization"] for seen in server.seen)  # a free day: no key asked, none sent
        normalized = instance.get_latest_materialization_event(AssetKey("tardis_binance_futures_trades_normalized"))
        assert normalized.asset_materialization.metadata["rows"].value == 1_500

    trades = sorted(rows["trades"], key=lambda r: (int(r[2]), int(r[4])))
    assert [(int(t.trade_id.value), t.price.as_decimal(), t.size.as_decimal(), int(t.aggressor_side), t.ts_event,
             t.ts_init) for t in _catalog(data_store, TradeTick)] == [
        (int(r[4]), Decimal(r[6]), Decimal(r[7]), 1 if r[5] == "buy" else 2, _us(r[2]), _us(r[3])) for r in trades]
    quotes = sorted(rows["quotes"], key=lambda r: (int(r[2]), int(r[3])))
    assert [(q.bid_price.as_decimal(), q.bid_size.as_decimal(), q.ask_price.as_decimal(), q.ask_size.as_decimal(),
             q.ts_event, q.ts_init) for q in _catalog(data_store, QuoteTick)] == [
        (Decimal(r[6]), Decimal(r[7]), Decimal(r[5]), Decimal(r[4]), _us(r[2]), _us(r[3])) for r in quotes]
    assert [(m.value.as_decimal(), m.ts_event, m.ts_init) for m in _catalog(data_store, MarkPriceUpdate)] == \
        _expected_marks(rows["derivative_ticker"])
    assert [(f.rate, f.next_funding_ns, f.ts_event, f.ts_init) for f in _catalog(data_store, FundingRateUpdate)] == \
        _expected_funding(rows["derivative_ticker"])
    assert any(f.rate < 0 for f in _catalog(data_store, FundingRateUpdate))  # signed rates, exact
    assert (data_store.root / f"normalized/tardis/{EXCHANGE}/quotes/{SYMBOL}/{FREE_DAY}.parquet").is_file()


def test_the_api_key_is_sent_only_as_a_header_and_never_written(tmp_path: Path, data_store: DataStore,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tardis"
    _write_day(root, PAID_DAY, n=200)
    feed = _feeds(tmp_path)["quotes"]
    monkeypatch.setenv("TARDIS_API_KEY", KEY)
    storage = tmp_path / "dagster_home"
    storage.mkdir()
    with TardisServer(root, api_key=KEY) as server, instance_for_test(temp_dir=str(storage)) as instance:
        result = materialize(build_feed_assets(feed), partition_key=f"{PAID_DAY}|{SYMBOL}", instance=instance,
                             resources=_resources(server, data_store, EnvVar("TARDIS_API_KEY")))
        assert result.success
        assert {s["authorization"] for s in server.seen} == {f"Bearer {KEY}"}
    for directory in (storage, data_store.root):
        for path in directory.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
                if path.suffix == ".gz":
                    assert KEY.encode() not in gzip.decompress(path.read_bytes()), path


def test_without_key_a_paid_day_fails_at_once_and_a_refused_key_is_not_retried(tmp_path: Path) -> None:
    root = tmp_path / "tardis"
    _write_day(root, PAID_DAY, n=50)
    file = DatasetFile(EXCHANGE, "quotes", SYMBOL, PAID_DAY)
    with TardisServer(root, api_key=KEY) as server:
        with TardisResource(datasets_url=server.url).datasets(tmp_path / "raw") as datasets, \
                pytest.raises(KeyRequired, match="first day of each month without an API key; set TARDIS_API_KEY"):
            datasets.fetch_verified(file)
        assert server.requests == []  # not even asked
        with TardisResource(api_key="wrong-key-0123456789", datasets_url=server.url).datasets(tmp_path / "raw") as d, \
                pytest.raises(DownloadError, match="HTTP 401 Unauthorized: the configured TARDIS_API_KEY was refused") \
                as refused:
            d.fetch_verified(file)
        assert len(server.requests) == 1  # 401: at once
        assert "wrong-key" not in str(refused.value)
    assert not (tmp_path / "raw" / file.key).exists()


def test_429_and_5xx_are_retried_and_a_truncated_body_refetched(tmp_path: Path) -> None:
    root = tmp_path / "tardis"
    _write_day(root, FREE_DAY, n=300)
    file = DatasetFile(EXCHANGE, "trades", SYMBOL, FREE_DAY)
    with TardisServer(root) as server:
        server.inject(file.url_key, Fault.status(429, {"Retry-After": "0"}), Fault.status(500), Fault.truncate(0.5))
        with TardisResource(datasets_url=server.url, base_delay=0.01).datasets(tmp_path / "raw") as datasets:
            verified = datasets.fetch_verified(file)
        assert len(server.requests) == 4
    assert verified.path.read_bytes() == (root / file.url_key).read_bytes()


def test_a_truncated_gzip_is_refused_and_nothing_kept(tmp_path: Path) -> None:
    root = tmp_path / "tardis"
    _write_day(root, FREE_DAY, n=300)
    file = DatasetFile(EXCHANGE, "trades", SYMBOL, FREE_DAY)
    served = root / file.url_key
    served.write_bytes(served.read_bytes()[:-40])  # served whole, but the file itself is cut
    with TardisServer(root) as server, TardisResource(datasets_url=server.url).datasets(tmp_path / "raw") as datasets, \
            pytest.raises(ChecksumMismatchError, match="truncated gzip|corrupt gzip"):
        datasets.fetch_verified(file)
    assert not any(p.is_file() for p in (tmp_path / "raw").rglob("*"))


def _stage_with(tmp_path: Path, store: DataStore, table: str, data_type: str, rows: list[list[str]],
                header: str | None = None) -> None:
    feed = _feeds(tmp_path)[table]
    write_rows(store.raw / "tardis", EXCHANGE, data_type, SYMBOL, FREE_DAY, rows, header)
    raw = store.raw / "tardis" / "v1" / DatasetFile(EXCHANGE, data_type, SYMBOL, FREE_DAY).key
    target = store.raw / "tardis" / DatasetFile(EXCHANGE, data_type, SYMBOL, FREE_DAY).key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(raw, target)
    normalize_day(feed, store, FREE_DAY, SYMBOL)


@pytest.mark.parametrize(("table", "data_type", "edit", "message"), [
    ("trades", "trades", lambda r: r[5].__setitem__(6, "40000.12"), "line 7: price '40000.12' has more decimals"),
    ("trades", "trades", lambda r: r[3].__setitem__(6, "4O000"), "line 5: price '4O000' is not a decimal number"),
    ("trades", "trades", lambda r: r[9].__setitem__(2, "1704153600000001"), "line 11: timestamp '1704153600000001' lies outside"),
    ("trades", "trades", lambda r: r[2].__setitem__(5, "unknown"), "line 4: side 'unknown' is not a taker side"),
    ("trades", "trades", lambda r: r[4].__setitem__(1, "ETHUSDT"), "line 6: symbol 'ETHUSDT' is not the file's"),
    ("trades", "trades", lambda r: r[6].pop(), "malformed or truncated CSV after line"),
    ("quotes", "quotes", lambda r: r[8].__setitem__(7, "1.0005"), "line 10: bid_amount '1.0005' has more decimals"),
    ("mark_prices", "derivative_ticker", lambda r: r[1].__setitem__(10, "-1"), "line 3: schema validation failed"),
])
def test_bad_rows_fail_naming_file_and_line_and_nothing_is_written(tmp_path: Path, data_store: DataStore, table: str,
                                                                    data_type: str, edit, message: str) -> None:
    maker = {"trades": trades_rows, "quotes": quotes_rows, "derivative_ticker": derivative_ticker_rows}[data_type]
    rows = maker(EXCHANGE, SYMBOL, FREE_DAY, 40)
    edit(rows)
    with pytest.raises(ArchiveDataError, match=message) as failed:
        _stage_with(tmp_path, data_store, table, data_type, rows)
    assert f"{EXCHANGE}_{data_type}_{FREE_DAY}_{SYMBOL}.csv.gz" in str(failed.value)
    assert not (data_store.root / "normalized").exists() or not any(
        p.is_file() for p in (data_store.root / "normalized").rglob("*"))
    assert not any(p.is_file() for p in data_store.staging.rglob("*.parquet"))


def test_an_unknown_field_fails_the_day(tmp_path: Path, data_store: DataStore) -> None:
    rows = [r + ["x"] for r in trades_rows(EXCHANGE, SYMBOL, FREE_DAY, 5)]
    header = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount,is_liquidation"
    with pytest.raises(ArchiveDataError, match=r"line 1: not a Tardis trades header: unknown field\(s\) "
                                               r"\['is_liquidation'\]"):
        _stage_with(tmp_path, data_store, "trades", "trades", rows, header)


def test_the_real_tardis_rows_parse_exactly(tardis_samples: Path, tmp_path: Path) -> None:
    """The real CSV rows Tardis sends (BitMEX trades with UUID ids, Huobi quotes), equal to their text."""
    for name in ("bitmex_trades_XBTUSD.csv", "huobi-dm-swap_quotes_BTC-USD.csv"):
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((tardis_samples / name).read_bytes()))
    text = (tardis_samples / "bitmex_trades_XBTUSD.csv").read_text().splitlines()[1:]
    [batch] = list(trade_batches(tmp_path / "bitmex_trades_XBTUSD.csv.gz", "bitmex", dt.date(2020, 3, 1), "bitmex",
                                 "XBTUSD", 1, 0, text_ids=True))
    assert [(r["trade_id"], f"{r['price']:f}".rstrip("0").rstrip("."), f"{r['qty']:f}", r["aggressor_side"],
             r["ts_event"].value, r["ts_init"].value) for r in batch.to_pylist()] == [
        (i, p, a, 1 if s == "buy" else 2, int(t) * 1000, int(lt) * 1000)
        for _, _, t, lt, i, s, p, a in (line.split(",") for line in text)]
    quotes = quotes_table(tmp_path / "huobi-dm-swap_quotes_BTC-USD.csv.gz", "huobi", dt.date(2020, 5, 1),
                          "huobi-dm-swap", "BTC-USD", 1, 0)
    text = (tardis_samples / "huobi-dm-swap_quotes_BTC-USD.csv").read_text().splitlines()[1:]
    assert [(f"{r['bid_price']:f}", f"{r['bid_size']:f}", f"{r['ask_price']:f}", f"{r['ask_size']:f}", r["line"])
            for r in quotes.to_pylist()] == [(bp, ba, ap, aa, n) for n, (_, _, _, _, aa, ap, bp, ba) in
                                             enumerate((line.split(",") for line in text), start=2)]


def test_reconciliation_finds_an_injected_missing_trade_and_price_difference(tmp_path: Path,
                                                                              data_store: DataStore) -> None:
    """The Binance archive's day and a Tardis copy of it with one trade left out and one price changed."""
    archive_root = tmp_path / "archive"
    generated = generate_trades(archive_root, Market.USDM, SYMBOL, FREE_DAY, 2_000)
    archive_feed = trades_feed(Market.USDM)
    archive_feed.source.fetch(BinanceArchiveResource(base_url=str(archive_root)),
                              archive_feed.source.raw_root(data_store), archive_feed.files(FREE_DAY, SYMBOL))
    normalize_day(archive_feed, data_store, FREE_DAY, SYMBOL)
    rows = []
    for trade_id, price, qty, _, ms, buyer_maker in read_csv_rows(generated.zip_path):
        rows.append([EXCHANGE, SYMBOL, str(int(ms) * 1000), str(int(ms) * 1000 + 20_000), trade_id,
                     "sell" if buyer_maker == "true" else "buy", price, qty])
    missing, changed = rows.pop(700), rows[1_200]
    original = changed[6]
    changed[6] = str(Decimal(changed[6]) + Decimal("0.1"))
    feed = _feeds(tmp_path)["trades"]
    _stage_with(tmp_path, data_store, "trades", "trades", rows)
    day = normalize_day(feed, data_store, FREE_DAY, SYMBOL)
    [verdict] = [v for v in day.verdicts if v.check == "trades_match_archive"]
    assert not verdict.passed
    assert (verdict.metadata["missing"], verdict.metadata["extra"], verdict.metadata["differing"]) == (1, 0, 1)
    assert verdict.metadata["compared"] == 1_999
    assert verdict.metadata["first_missing"] == [missing[4]]
    assert verdict.metadata["first_differing"][0].startswith(f"trade {changed[4]}: price {changed[6]} ≠ ")

    rows.insert(700, missing)  # the unaltered copy reconciles
    changed[6] = original
    _stage_with(tmp_path, data_store, "trades", "trades", rows)
    [verdict] = [v for v in normalize_day(feed, data_store, FREE_DAY, SYMBOL).verdicts
                 if v.check == "trades_match_archive"]
    assert verdict.passed and verdict.metadata["compared"] == 2_000


def test_without_the_archive_day_reconciliation_is_not_applicable(tmp_path: Path, data_store: DataStore) -> None:
    _stage_with(tmp_path, data_store, "trades", "trades", trades_rows(EXCHANGE, SYMBOL, FREE_DAY, 30))
    day = normalize_day(_feeds(tmp_path)["trades"], data_store, FREE_DAY, SYMBOL)
    [verdict] = [v for v in day.verdicts if v.check == "trades_match_archive"]
    assert verdict.passed and verdict.metadata["applicable"] is False


def test_by_default_tardis_publishes_quotes_only_and_sits_beside_the_archive(tmp_path: Path) -> None:
    feeds = _feeds(tmp_path, publish='["QuoteTick"]')
    assert {t: f.publishes for t, f in feeds.items()} == {"trades": None, "quotes": QuoteTick, "mark_prices": None,
                                                          "funding_updates": None}
    registry = FeedRegistry([*archive_feeds(), *feeds.values()])
    assert registry.publisher(INSTRUMENT, QuoteTick).name == "tardis_binance_futures_quotes"
    assert registry.publisher(INSTRUMENT, TradeTick).name == "binance_um_trades"
    with pytest.raises(ValueError, match="would both publish TradeTick for BTCUSDT-PERP.BINANCE"):
        FeedRegistry([*archive_feeds(), *_feeds(tmp_path, publish='["TradeTick"]').values()])
    names = {f.normalized_file(DataStore(tmp_path), FREE_DAY, SYMBOL) for f in feeds.values()}
    assert len(names) == 4 and all("/tardis/binance-futures/" in str(n) for n in names)


def test_a_backtest_receives_trades_quotes_marks_and_funding_from_the_tardis_catalog_in_time_order(
        tmp_path: Path, data_store: DataStore) -> None:
    root = tmp_path / "tardis"
    rows = _write_day(root, FREE_DAY, n=300, seed=3)
    for feed in _feeds(tmp_path).values():
        source = root / feed.files(FREE_DAY, SYMBOL)[0].url_key
        target = data_store.raw / "tardis" / feed.files(FREE_DAY, SYMBOL)[0].key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        normalize_day(feed, data_store, FREE_DAY, SYMBOL)
        publish_day(feed, data_store, FREE_DAY, SYMBOL)
    register_funding_rate_codec()
    catalog = str(data_store.catalog)
    events = record_backtest(
        tmp_path / "events.jsonl",
        [BacktestDataConfig(catalog_path=catalog, data_cls=cls, instrument_ids=[INSTRUMENT])
         for cls in (TradeTick, QuoteTick, MarkPriceUpdate, FundingRateUpdate)],
        trade_instruments=[INSTRUMENT], quote_instruments=[INSTRUMENT], mark_price_instruments=[INSTRUMENT],
        funding_rate_instruments=[INSTRUMENT])
    kinds = [e[0] for e in events]
    assert kinds.count("TradeTick") == 300 and kinds.count("QuoteTick") == 300
    assert kinds.count("MarkPriceUpdate") == len(_expected_marks(rows["derivative_ticker"]))
    assert kinds.count("FundingRateUpdate") == len(_expected_funding(rows["derivative_ticker"]))
    ts_init = [e[-1] for e in events]
    assert ts_init == sorted(ts_init)
    first_trade = next(e for e in events if e[0] == "TradeTick")
    earliest = min(rows["trades"], key=lambda r: (int(r[2]), int(r[4])))
    assert first_trade[2:] == [earliest[4], earliest[6], earliest[7], 1 if earliest[5] == "buy" else 2,
                               _us(earliest[2]), _us(earliest[3])]


def test_a_quiet_check_that_the_day_files_hold_what_the_tables_hold(tmp_path: Path, data_store: DataStore) -> None:
    """Normalized quotes keep the canonical columns only (the source line is used for errors, not stored)."""
    _stage_with(tmp_path, data_store, "quotes", "quotes", quotes_rows(EXCHANGE, SYMBOL, FREE_DAY, 20))
    table = pq.read_table(data_store.root / f"normalized/tardis/{EXCHANGE}/quotes/{SYMBOL}/{FREE_DAY}.parquet")
    assert table.column_names == ["bid_price", "bid_size", "ask_price", "ask_size", "ts_event", "ts_init"]
    with pytest.raises(HedgegridDataError, match="not fetched"):
        normalize_day(_feeds(tmp_path)["trades"], DataStore(tmp_path / "empty"), FREE_DAY, SYMBOL)


@pytest.mark.parametrize("book", ["book_snapshot_5", "book_snapshot_25"])
def test_the_real_book_snapshots_into_order_book_depth10_equal_to_the_text(
        tmp_path: Path, data_store: DataStore, tardis_samples: Path, monkeypatch: pytest.MonkeyPatch,
        book: str) -> None:
    """The real 2020 rows (ticks of 0.01 then: ``price_decimals = 2``); Nautilus reads back every level's text, a
    five-level snapshot's missing levels as null orders."""
    monkeypatch.setenv("HEDGEGRID_SYMBOLS_FILE", str(edited_symbols_file(tmp_path, Market.USDM, SYMBOL,
                                                                         price_decimals=2)))
    day = dt.date(2020, 9, 1)
    config = tmp_path / "tardis.toml"
    config.write_text(f'first_day = "2020-09-01"\npublish = ["OrderBookDepth10"]\n\n["{EXCHANGE}"]\n'
                      f'symbols = ["{SYMBOL}"]\ndatasets = ["{book}"]\n')
    [feed] = tardis_feeds(load_config(config))
    lines = (tardis_samples / f"binance-futures_{book}_BTCUSDT.csv").read_text().splitlines()
    target = data_store.raw / "tardis" / DatasetFile(EXCHANGE, book, SYMBOL, day).key
    target.parent.mkdir(parents=True)
    target.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    normalize_day(feed, data_store, day, SYMBOL)
    published = publish_day(feed, data_store, day, SYMBOL)
    assert published.integrity.passed
    depths = ParquetDataCatalog(str(data_store.catalog)).query(OrderBookDepth10, identifiers=[INSTRUMENT])
    assert len(depths) == len(lines) - 1

    def level(text: str, decimals: int) -> str:
        return f"{Decimal(text):.{decimals}f}" if text else f"{0:.{decimals}f}"

    header = lines[0].split(",")
    for depth, line in zip(depths, lines[1:], strict=True):
        row = dict(zip(header, line.split(","), strict=True))
        expected = [(level(row.get(f"{side}[{i}].price", ""), 2), level(row.get(f"{side}[{i}].amount", ""), 3))
                    for side in ("bids", "asks") for i in range(10)]
        assert [(str(o.price), str(o.size)) for o in (*depth.bids, *depth.asks)] == expected
        assert (depth.ts_event, depth.ts_init) == (_us(row["timestamp"]), _us(row["local_timestamp"]))


@pytest.mark.parametrize("with_key", [True, False])
def test_sensors_request_the_published_days_the_deployment_may_fetch_and_republished_ones(
        tmp_path: Path, data_store: DataStore, with_key: bool) -> None:
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=n) for n in (3, 2)]  # published; the day before them is not
    root = tmp_path / "tardis"
    for day in days:
        write_rows(root, EXCHANGE, "quotes", SYMBOL, day, quotes_rows(EXCHANGE, SYMBOL, day, 20))
    feed = _feeds(tmp_path, first_day=str(today - dt.timedelta(days=40)))["quotes"]
    with TardisServer(root, api_key=KEY) as server, instance_for_test() as instance:
        resources = {**_resources(server, data_store, KEY if with_key else ""),
                     "hedgegrid_alerts": AlertsResource(alerts_file=str(tmp_path / "alerts.jsonl"))}
        automation = build_automation([feed], AutomationSettings(availability_window_days=4), resources=resources,
                                      alert_sensors=False)
        defs = Definitions(assets=build_feed_assets(feed), resources=automation["resources"], jobs=automation["jobs"],
                           schedules=automation["schedules"], sensors=automation["sensors"],
                           executor=in_process_executor)
        repository = defs.get_repository_def()

        def evaluate(name: str):
            context = build_sensor_context(instance=instance, definitions=defs, sensor_name=name,
                                           resources=defs.resources)
            return repository.get_sensor_def(name).evaluate_tick(context)

        fetchable = [d for d in days if with_key or d.day == 1]  # without a key: the free first of a month only
        available = evaluate("tardis_binance_futures_quotes_availability")
        assert sorted(r.partition_key for r in available.run_requests) == [f"{d}|{SYMBOL}" for d in fetchable]
        if with_key:
            day = days[0]
            assert repository.get_job("tardis_binance_futures_quotes_daily").execute_in_process(
                partition_key=f"{day}|{SYMBOL}", instance=instance).success
            assert evaluate("tardis_binance_futures_quotes_republication").run_requests == []
            write_rows(root, EXCHANGE, "quotes", SYMBOL, day, quotes_rows(EXCHANGE, SYMBOL, day, 21))  # re-published
            [rebuild] = evaluate("tardis_binance_futures_quotes_republication").run_requests
            assert rebuild.partition_key == f"{day}|{SYMBOL}"


@pytest.mark.parametrize(("exchange", "symbol", "instrument", "tick", "step"), [
    ("binance", "BTCUSDT", "BTCUSDT.BINANCE", "0.01", "0.00001"),
    ("binance-delivery", "BTCUSD_PERP", "BTCUSD-PERP.BINANCE", "0.1", "1"),
])
def test_spot_and_coin_m_days_read_back_equal_to_the_text(tmp_path: Path, data_store: DataStore, exchange: str,
                                                          symbol: str, instrument: str, tick: str, step: str) -> None:
    config = tmp_path / "tardis.toml"
    config.write_text(f'first_day = "2024-01-01"\npublish = ["TradeTick", "QuoteTick"]\n\n["{exchange}"]\n'
                      f'symbols = ["{symbol}"]\ndatasets = ["trades", "quotes"]\n')
    feeds = {f.table: f for f in tardis_feeds(load_config(config))}
    rows = {"trades": trades_rows(exchange, symbol, FREE_DAY, 200, tick=tick, step=step),
            "quotes": quotes_rows(exchange, symbol, FREE_DAY, 200, tick=tick, step=step)}
    for table, written in rows.items():
        write_rows(data_store.raw / "tardis", exchange, table, symbol, FREE_DAY, written)
        source = data_store.raw / "tardis" / DatasetFile(exchange, table, symbol, FREE_DAY).url_key
        target = data_store.raw / "tardis" / DatasetFile(exchange, table, symbol, FREE_DAY).key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        normalize_day(feeds[table], data_store, FREE_DAY, symbol)
        assert publish_day(feeds[table], data_store, FREE_DAY, symbol).integrity.passed
    catalog = ParquetDataCatalog(str(data_store.catalog))
    trades = sorted(rows["trades"], key=lambda r: (int(r[2]), int(r[4])))
    assert [(t.trade_id.value, t.price.as_decimal(), t.size.as_decimal(), t.ts_init)
            for t in catalog.query(TradeTick, identifiers=[instrument])] == [
        (r[4], Decimal(r[6]), Decimal(r[7]), _us(r[3])) for r in trades]
    quotes = sorted(rows["quotes"], key=lambda r: (int(r[2]), int(r[3])))
    assert [(q.bid_price.as_decimal(), q.ask_size.as_decimal()) for q in
            catalog.query(QuoteTick, identifiers=[instrument])] == [(Decimal(r[6]), Decimal(r[4])) for r in quotes]
