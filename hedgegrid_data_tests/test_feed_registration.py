"""A feed that exists only in this test — its own source (JSON-lines trade files in a directory) for a second venue
— registered without touching any shared module, gets the complete group: raw, normalized, catalog with its
checks, quality report, daily job, schedule and sensors; Nautilus reads its catalog day back exactly.

It also shows the identity rules: a second source of an instrument another feed publishes keeps its own paths
and never writes the catalog, and the registry refuses two publishers of one series.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from dagster import (
    ConfigurableResource,
    DagsterInstance,
    Definitions,
    SensorResult,
    build_sensor_context,
    in_process_executor,
    instance_for_test,
)
from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.data import TradeTick
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CurrencyPair, Instrument
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.automation import AutomationSettings, build_automation
from hedgegrid_data.automation.alerts import AlertsResource
from hedgegrid_data.feeds.feed import CatalogSeries, CheckSpec, Descriptions, Feed, Republication
from hedgegrid_data.feeds.registry import FeedRegistry
from hedgegrid_data.feeds.trades_day import CanonicalTradesDay, TradesFile
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import archive_feeds, trades_feed
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.trades import BUYER, SELLER
from hedgegrid_data.venues.binance import Market, build_instrument
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import materializations

EXAMPLEX = Venue("EXAMPLEX")
DAY = dt.date(2024, 1, 2)


# --- the venue: identity and increments ------------------------------------------------------------------------

def examplex_instrument(symbol: str) -> Instrument:
    return CurrencyPair(
        instrument_id=InstrumentId(Symbol(symbol), EXAMPLEX), raw_symbol=Symbol(symbol),
        base_currency=Currency.from_str("BTC"), quote_currency=Currency.from_str("USD"),
        price_precision=2, size_precision=4, price_increment=Price.from_str("0.01"),
        size_increment=Quantity.from_str("0.0001"), margin_init=Decimal(0), margin_maint=Decimal(0),
        maker_fee=Decimal(0), taker_fee=Decimal(0), ts_event=0, ts_init=0)


# --- the source: how bytes are fetched, verified and parsed -----------------------------------------------------

@dataclass(frozen=True)
class ExampleFile:
    symbol: str
    day: dt.date

    @property
    def key(self) -> str:
        return f"{self.symbol}/{self.day.isoformat()}.jsonl"


class ExampleFilesResource(ConfigurableResource):
    root: str


class ExampleProbe:
    def __init__(self, root: Path):
        self.root = root

    def is_published(self, key: str) -> bool | None:
        return (self.root / key).is_file()


class ExampleSource:
    """A directory of ``<symbol>/<date>.jsonl`` trade files, one JSON object a line."""

    name = "example"
    resource_key = listing_resource_key = "example_files"
    kinds = frozenset({"jsonl"})
    pool = None
    raw_check = CheckSpec("sha256_recorded", True, "The file was copied whole; its sha256 is recorded.")

    def raw_root(self, store: DataStore) -> Path:
        return store.raw / self.name

    def file_key(self, file: ExampleFile) -> str:
        return file.key

    def probe_key(self, file: ExampleFile) -> str:
        return file.key

    def fetch(self, resource: ExampleFilesResource, raw_root: Path,
              files: Sequence[ExampleFile]) -> tuple[dict[str, object], dict[str, object]]:
        digests = {}
        for file in files:
            target = raw_root / file.key
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target) as tmp:
                shutil.copyfile(Path(resource.root) / file.key, tmp)
            digests[file.key] = hashlib.sha256(target.read_bytes()).hexdigest()
        return {"files": len(files)}, digests

    @contextmanager
    def probe(self, resource: ExampleFilesResource) -> Iterator[ExampleProbe]:
        yield ExampleProbe(Path(resource.root))

    def republished(self, resource: ExampleFilesResource, raw_root: Path, files: Mapping[str, ExampleFile],
                    log: Any) -> Iterator[Republication]:
        for key in files:
            served, fetched = (Path(resource.root) / key).read_bytes(), (raw_root / key).read_bytes()
            if served != fetched:
                yield Republication(key, hashlib.sha256(served).hexdigest(), f"content {len(fetched)} → {len(served)} B")

    def extra_assets(self, feed: Feed) -> list:
        return []


def read_example_trades(store: DataStore, day: dt.date, symbol: str) -> TradesFile:
    path = store.raw / "example" / ExampleFile(symbol, day).key

    def batches() -> Iterator[pa.RecordBatch]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        yield pa.RecordBatch.from_pydict({
            "trade_id": pa.array([r["id"] for r in rows], pa.int64()),
            "price": pa.array([r["price"] for r in rows]).cast(pa.decimal128(38, 2)),
            "qty": pa.array([r["qty"] for r in rows]).cast(pa.decimal128(38, 4)),
            "ts_event": pa.array([r["ts"] for r in rows], pa.int64()).cast(pa.timestamp("ns", "UTC")),
            "aggressor_side": pa.array([BUYER if r["side"] == "buy" else SELLER for r in rows], pa.uint8()),
        })

    return TradesFile(path.name, batches)


def example_feed(instrument: Callable[[str], Instrument] = examplex_instrument, venue: str = "examplex",
                 publisher: bool = True, symbols: Sequence[str] = ("BTCUSD",)) -> Feed:
    return Feed(
        name=f"{venue}_spot_trades", source=ExampleSource(), venue=venue, market="spot", table="trades",
        dataset="trades", first_day="2024-01-01", symbols=tuple(symbols),
        files=lambda day, symbol: [ExampleFile(symbol, day)],
        steps=CanonicalTradesDay(read_example_trades, instrument),
        instrument_ids=lambda symbol: instrument(symbol).id.value, publishes=TradeTick, publisher=publisher,
        consecutive_ids=True,
        normalized_checks=(CheckSpec("trade_id_gaps", True), CheckSpec("trade_silences", False),
                           CheckSpec("day_coverage", False), CheckSpec("price_spikes", False),
                           CheckSpec("volume_spikes", False)),
        report_series=lambda symbol: CatalogSeries(TradeTick, instrument(symbol).id.value),
        descriptions=Descriptions("Example trade files, copied whole.", "Canonical trades.", "TradeTick days."))


def write_example_day(root: Path, symbol: str, day: dt.date, n: int, first_id: int = 1) -> list[dict]:
    start = int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp()) * 10**9
    rows = [{"id": first_id + i, "price": f"{42000 + (i % 97) * 0.25:.2f}", "qty": f"0.{(i * 37) % 10000:04d}"
             if (i * 37) % 10000 else "1.0000", "side": "buy" if i % 3 else "sell",
             "ts": start + (i * 86_399_000_000_000) // n + 7} for i in range(n)]
    path = root / ExampleFile(symbol, day).key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return rows


def _definitions(feed: Feed, files: Path, store: DataStore, alerts: Path) -> Definitions:
    resources = {"data_store": DataStoreResource(data_dir=str(store.root)),
                 "example_files": ExampleFilesResource(root=str(files)),
                 "hedgegrid_alerts": AlertsResource(alerts_file=str(alerts))}
    automation = build_automation([feed], AutomationSettings(availability_window_days=3), resources=resources,
                                  alert_sensors=False)
    return Definitions(assets=[*build_feed_assets(feed), *automation["assets"]], resources=automation["resources"],
                       jobs=automation["jobs"], schedules=automation["schedules"], sensors=automation["sensors"],
                       executor=in_process_executor)


def _evaluate(defs: Definitions, name: str, instance: DagsterInstance) -> SensorResult:
    context = build_sensor_context(instance=instance, definitions=defs, sensor_name=name, resources=defs.resources)
    return defs.get_repository_def().get_sensor_def(name).evaluate_tick(context)


def test_a_feed_defined_outside_the_package_gets_a_complete_group(tmp_path: Path, data_store: DataStore) -> None:
    feed = example_feed()
    FeedRegistry([*archive_feeds(), feed])  # a second venue beside every archive feed: no identity clash
    files = tmp_path / "files"
    rows = write_example_day(files, "BTCUSD", DAY, 5_000, first_id=1_000)
    defs = _definitions(feed, files, data_store, tmp_path / "alerts.jsonl")
    repository = defs.get_repository_def()
    graph = repository.asset_graph
    group = "examplex_spot_trades"
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == {
        f"{group}_raw", f"{group}_normalized", f"{group}_catalog", f"{group}_quality_report"}
    assert {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys} >= {
        (f"{group}_raw", "sha256_recorded"), (f"{group}_normalized", "schema_valid"),
        (f"{group}_normalized", "trade_id_gaps"), (f"{group}_catalog", "rows_in_equals_rows_out"),
        (f"{group}_catalog", "catalog_integrity")}
    assert {s.name for s in repository.sensor_defs} == {f"{group}_availability", f"{group}_republication"}
    assert {s.name for s in repository.schedule_defs} == {f"{group}_nightly"}

    with instance_for_test() as instance:
        result = repository.get_job(f"{group}_daily").execute_in_process(
            partition_key=f"{DAY}|BTCUSD", instance=instance)
        assert result.success
        checks = {(c.check_name, c.passed) for c in result.get_asset_check_evaluations()}
        assert checks == {("sha256_recorded", True), ("schema_valid", True), ("trade_id_gaps", True),
                          ("trade_silences", True), ("day_coverage", True), ("price_spikes", True),
                          ("volume_spikes", True), ("rows_in_equals_rows_out", True), ("catalog_integrity", True)}
        # the run rewrote the group's rolling report itself
        assert materializations(result, f"{group}_quality_report")[0].metadata[
            "BTCUSD_mean_quality_score"].value == 1.0

        # the source's file changed: the re-publication sensor rebuilds the day through the feed's job
        assert _evaluate(defs, f"{group}_republication", instance).run_requests == []
        write_example_day(files, "BTCUSD", DAY, 5_001, first_id=1_000)
        [rebuild] = _evaluate(defs, f"{group}_republication", instance).run_requests
        assert rebuild.partition_key == f"{DAY}|BTCUSD"
        assert rebuild.tags["hedgegrid/trigger"] == "republication"

        # a day of the watched window whose file is out is requested by the availability sensor
        yesterday = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
        write_example_day(files, "BTCUSD", yesterday, 10)
        available = _evaluate(defs, f"{group}_availability", instance)
        assert [r.partition_key for r in available.run_requests] == [f"{yesterday}|BTCUSD"]

    ticks = ParquetDataCatalog(str(data_store.catalog)).trade_ticks(instrument_ids=["BTCUSD.EXAMPLEX"])
    assert [(t.trade_id.value, str(t.price), str(t.size), int(t.aggressor_side), t.ts_event, t.ts_init)
            for t in ticks] == [(str(r["id"]), r["price"], r["qty"], BUYER if r["side"] == "buy" else SELLER,
                                 r["ts"], r["ts"]) for r in rows]
    assert (data_store.root / "normalized/example/spot/trades/BTCUSD/2024-01-02.parquet").is_file()
    assert (data_store.root / "quality/example/spot/trades/BTCUSD/2024-01-02.json").is_file()


def test_a_second_source_of_an_instrument_keeps_its_own_files_and_never_publishes(tmp_path: Path,
                                                                                 data_store: DataStore) -> None:
    """The example source carrying Binance's spot BTCUSDT: its tables live under its own source name, and only
    the declared publisher may write the instrument's ``TradeTick``s."""
    def binance_spot(symbol: str) -> Instrument:
        return build_instrument(symbol_spec(Market.SPOT, symbol))

    copy = example_feed(binance_spot, venue="example_binance", publisher=False, symbols=("BTCUSDT",))
    FeedRegistry([trades_feed(Market.SPOT), copy])
    with pytest.raises(ValueError, match="binance_spot_trades and example_binance_spot_trades would both publish "
                                         "TradeTick for BTCUSDT.BINANCE"):
        FeedRegistry([trades_feed(Market.SPOT), replace(copy, publisher=True)])

    files = tmp_path / "files"
    rows = write_example_day(files, "BTCUSDT", DAY, 300)
    for row in rows:
        row["qty"] = row["qty"][:-1] + "0"  # BTCUSDT's step is 0.00001
    (files / ExampleFile("BTCUSDT", DAY).key).write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    defs = _definitions(copy, files, data_store, tmp_path / "alerts.jsonl")
    with instance_for_test() as instance:
        result = defs.get_repository_def().get_job("example_binance_spot_trades_daily").execute_in_process(
            partition_key=f"{DAY}|BTCUSDT", instance=instance)
        assert result.success
        published = materializations(result, "example_binance_spot_trades_catalog")[0].metadata
        assert published["published"].value is False
    written = sorted(str(p.relative_to(data_store.root)) for p in data_store.root.rglob("*.parquet"))
    assert written == [
        "normalized/example/spot/trades/BTCUSDT/2024-01-02.parquet",
        "staging/example/spot/trades/catalog/data/trade_tick/BTCUSDT.BINANCE/"
        "2024-01-02T00-00-00-000000000Z_2024-01-02T23-59-59-999999999Z.parquet",
    ]
    assert not (data_store.catalog / "data").exists()
