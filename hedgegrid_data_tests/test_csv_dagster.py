"""CSV imports as Dagster feeds: a landing folder per import, the landing sensor requesting the days its files
cover, a real Dagster instance running the group, and Nautilus' own reader giving back the vendor's text.

The vendor files are the real archive samples re-shaped the way vendors ship them (ISO times, their own header
names, ``.gz``): COIN-M aggTrades as trades, spot 1m klines as bars, the USD-M funding month as funding events.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest
from dagster import Definitions, build_sensor_context, in_process_executor, instance_for_test
from nautilus_trader.model.data import Bar, FundingRateUpdate, MarkPriceUpdate
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation import AutomationSettings, build_automation
from hedgegrid_data.automation.alerts import AlertsResource
from hedgegrid_data.catalog.funding_rates import register_funding_rate_codec
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.registry import FeedRegistry
from hedgegrid_data.resources import DataStoreResource
from hedgegrid_data.sources.binance_archive.feeds import archive_feeds
from hedgegrid_data.sources.csv.feeds import csv_feeds
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.trades import BUYER, SELLER
from hedgegrid_data.testing.csv_generator import trades_table, write_csv
from hedgegrid_data_tests.conftest import materializations

AGG_TRADES = "data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip"
KLINES = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-0{}.zip"
FUNDING = "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2026-04.zip"
TRADES_DAY = dt.date(2026, 5, 8)


def _zip_csv(path: Path) -> pa.Table:
    """The CSV inside an archive zip as text columns (a headerless file gets the archive's kline names)."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read(archive.namelist()[0])
    header = data.split(b"\n", 1)[0]
    names = header.decode().strip().split(",")
    if header[:1].isdigit():
        names = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
                 "taker_buy_volume", "taker_buy_quote_volume", "ignore"]
    options = pcsv.ReadOptions(column_names=names, skip_rows=0 if header[:1].isdigit() else 1)
    return pcsv.read_csv(io.BytesIO(data), read_options=options,
                         convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())))


def _iso(epoch_text: pa.Array, unit: str = "ms") -> pa.Array:
    ns = pc.multiply(pc.cast(epoch_text, pa.int64()), {"ms": 10**6, "us": 10**3}[unit])
    return pc.binary_join_element_wise(
        pc.strftime(ns.cast(pa.timestamp("ns", tz="UTC")), format="%Y-%m-%dT%H:%M:%S"), "Z", "")


def _write_gz(path: Path, table: pa.Table) -> Path:
    buffer = io.BytesIO()
    pcsv.write_csv(table, buffer, pcsv.WriteOptions(quoting_style="none"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue()) if path.suffix == ".gz" else buffer.getvalue())
    return path


def vendor_trades(binance_samples: Path, landing: Path) -> pa.Table:
    """The real COIN-M aggTrades day as a vendor ships it: ISO times, its own names and side words, ``.gz``."""
    agg = _zip_csv(binance_samples / AGG_TRADES)
    side = pc.if_else(pc.equal(agg.column("is_buyer_maker"), "true"), "SELL", "BUY")
    table = pa.table({"Trade ID": agg.column("agg_trade_id"), "Time": _iso(agg.column("transact_time")),
                      "Price": agg.column("price"),
                      "Size": pc.replace_substring_regex(agg.column("quantity"), r"\.0$", ""), "Side": side})
    _write_gz(landing / "vendorx_BTCUSD_2026-05-08.csv.gz", table)
    return table


def _imports(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "imports.toml"
    path.write_text(text)
    return path


TRADES_IMPORT = """
[[csv]]
name = "vendorx"
landing = "landing/vendorx"
glob = "*.csv.gz"
table = "trades"
venue = "VENDORX"
market = "perp"
symbol = "BTCUSD"
first_day = "2026-01-01"
ids = "integer"
tick_size = "0.1"
step_size = "1"
base = "BTC"
quote = "USD"
contract_size = "100"
"""


def _definitions(feed: Feed, store: DataStore, tmp_path: Path) -> Definitions:
    resources = {"data_store": DataStoreResource(data_dir=str(store.root)),
                 "hedgegrid_alerts": AlertsResource(alerts_file=str(tmp_path / "alerts.jsonl"))}
    automation = build_automation([feed], AutomationSettings(), resources=resources, alert_sensors=False)
    return Definitions(assets=[*build_feed_assets(feed), *automation["assets"]], resources=automation["resources"],
                       jobs=automation["jobs"], schedules=automation["schedules"], sensors=automation["sensors"],
                       executor=in_process_executor)


def _run(defs: Definitions, feed: Feed, partition: str, instance) -> object:
    return defs.get_repository_def().get_job(f"{feed.name}_daily").execute_in_process(
        partition_key=partition, instance=instance, raise_on_error=False)


def test_vendor_trades_land_sensor_run_and_read_back_equal_to_the_text(tmp_path: Path, binance_samples: Path,
                                                                        data_store: DataStore) -> None:
    table = vendor_trades(binance_samples, tmp_path / "landing/vendorx")
    [feed] = csv_feeds(_imports(tmp_path, TRADES_IMPORT))
    FeedRegistry([*archive_feeds(), feed])  # another venue: no identity clash with the archive
    defs = _definitions(feed, data_store, tmp_path)
    repository = defs.get_repository_def()
    assert {s.name for s in repository.sensor_defs} == {"csv_vendorx_trades_landing"}
    assert {k.to_user_string() for k in repository.asset_graph.get_all_asset_keys()} == {
        "csv_vendorx_trades_raw", "csv_vendorx_trades_normalized", "csv_vendorx_trades_catalog",
        "csv_vendorx_trades_quality_report"}

    with instance_for_test() as instance:
        sensor = repository.get_sensor_def("csv_vendorx_trades_landing")
        context = build_sensor_context(instance=instance, definitions=defs, sensor_name=sensor.name,
                                       resources=defs.resources)
        [request] = sensor.evaluate_tick(context).run_requests
        assert request.partition_key == f"{TRADES_DAY}|BTCUSD"
        result = _run(defs, feed, request.partition_key, instance)
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks["sha256_recorded"] and checks["schema_valid"] and checks["catalog_integrity"]
        normalized = materializations(result, "csv_vendorx_trades_normalized")[0].metadata
        assert normalized["rows"].value == table.num_rows == 105_280
        assert normalized["timestamp_formats"].value == "iso8601"
        # the files are fetched: the sensor asks again only when they change
        context = build_sensor_context(instance=instance, definitions=defs, sensor_name=sensor.name,
                                       resources=defs.resources)
        assert sensor.evaluate_tick(context).run_requests == []
        # a second export of the day lands: the day is requested again, naming the change
        _write_gz(tmp_path / "landing/vendorx/vendorx_BTCUSD_2026-05-08_late.csv.gz", table.slice(0, 10))
        context = build_sensor_context(instance=instance, definitions=defs, sensor_name=sensor.name,
                                       resources=defs.resources)
        [again] = sensor.evaluate_tick(context).run_requests
        assert again.partition_key == request.partition_key and again.run_key != request.run_key
        assert again.tags["hedgegrid/change"] == "new vendorx_BTCUSD_2026-05-08_late.csv.gz"

    ticks = ParquetDataCatalog(str(data_store.catalog)).trade_ticks(instrument_ids=["BTCUSD.VENDORX"])
    expected = table.to_pylist()
    assert len(ticks) == len(expected)
    for tick, row in zip(ticks, expected, strict=True):
        assert (tick.trade_id.value, str(tick.price), str(tick.size)) == (row["Trade ID"], row["Price"], row["Size"])
        assert tick.aggressor_side == (BUYER if row["Side"] == "BUY" else SELLER)
    times = [t.ts_event for t in ticks]
    assert times == sorted(times) and times[0] == 1778198400020000000
    assert (data_store.root / "normalized/csv/perp/vendorx_trades/BTCUSD/2026-05-08.parquet").is_file()
    assert (data_store.root / "raw/csv/vendorx/BTCUSD/2026-05-08.json").is_file()


def _bad(case: str) -> tuple[bytes, list[str]]:
    """A vendor file of 2026-05-08 broken one way (gzip bytes), and what its error must say."""
    table = trades_table(TRADES_DAY, 100_000 if case == "truncated_gz" else 50, time_format="epoch_ms")
    columns = table.to_pydict()
    if case == "missing_column":
        del columns["Price"]
        expect = ["line 1: no price column"]
    elif case == "unknown_side":
        columns["Side"][3] = "X"
        expect = ["line 5: Side 'X' is not a known side value"]
    elif case == "mixed_units":
        columns["Time"][2] = columns["Time"][2][:-3]
        expect = ["line 4: Time", "mixed units"]
    elif case == "spanning_days":
        columns["Time"][1] = str(int(columns["Time"][1]) + 86_400_000)
        expect = ["line 3: Time", "lies outside 2026-05-08, which the file's name says it holds"]
    else:
        expect = ["cannot read the file past line", "truncated or corrupt"]
    buffer = io.BytesIO()
    pcsv.write_csv(pa.table(columns), buffer, pcsv.WriteOptions(quoting_style="none"))
    data = gzip.compress(buffer.getvalue())
    return (data[: len(data) // 2] if case == "truncated_gz" else data), expect


@pytest.mark.parametrize("case", ["missing_column", "unknown_side", "mixed_units", "spanning_days", "truncated_gz"])
def test_bad_input_fails_naming_file_and_line_and_leaves_nothing(tmp_path: Path, data_store: DataStore,
                                                                 case: str) -> None:
    data, expect = _bad(case)
    name = "vendorx_BTCUSD_2026-05-08.csv.gz"
    (tmp_path / "landing/vendorx").mkdir(parents=True)
    (tmp_path / "landing/vendorx" / name).write_bytes(data)
    [feed] = csv_feeds(_imports(tmp_path, TRADES_IMPORT))
    defs = _definitions(feed, data_store, tmp_path)
    with instance_for_test() as instance:
        result = _run(defs, feed, f"{TRADES_DAY}|BTCUSD", instance)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        message = failure.step_failure_data.error.to_string()
    assert name in message and all(part in message for part in expect), message
    assert not any(data_store.root.rglob("*.parquet"))


def test_binance_instruments_do_not_publish_by_default(tmp_path: Path) -> None:
    """CSV trades of BTCUSDT-PERP.BINANCE keep their table while the archive publishes; declared publisher, the
    registry refuses the deployment."""
    text = """
[[csv]]
name = "vendor_binance"
landing = "landing"
table = "trades"
venue = "BINANCE"
market = "um"
symbol = "BTCUSDT"
first_day = "2024-01-01"
"""
    archive = archive_feeds()
    [feed] = csv_feeds(_imports(tmp_path, text), archive)
    assert feed.instrument_ids("BTCUSDT") == "BTCUSDT-PERP.BINANCE" and not feed.publisher
    FeedRegistry([*archive, feed])
    [alone] = csv_feeds(_imports(tmp_path, text))  # nobody else publishes it: the import does
    assert alone.publisher
    [declared] = csv_feeds(_imports(tmp_path, text + "publisher = true\n"), archive)
    with pytest.raises(ValueError, match="would both publish TradeTick for BTCUSDT-PERP.BINANCE"):
        FeedRegistry([*archive, declared])


BARS_IMPORT = """
[[csv]]
name = "bars_vendor"
landing = "landing/bars"
glob = "*.csv"
table = "bars"
interval = "1m"
venue = "VENDORX"
market = "spot"
symbol = "BTCUSDT"
first_day = "2020-01-01"
tick_size = "0.01"
step_size = "0.000001"
base = "BTC"
quote = "USDT"
[csv.timestamp]
column = "Open Time"
format = "iso8601"
"""


def test_vendor_bars_of_two_days_in_one_file_publish_each_day_equal_to_the_text(
        tmp_path: Path, binance_samples: Path, data_store: DataStore) -> None:
    """One undated export holding 2020-01-01 and 02 (a monthly-style file): each day takes only its own bars."""
    days = [_zip_csv(binance_samples / KLINES.format(n)) for n in (1, 2)]
    klines = pa.concat_tables(days)
    table = pa.table({"Open Time": _iso(klines.column("open_time")), "Open": klines.column("open"),
                      "High": klines.column("high"), "Low": klines.column("low"), "Close": klines.column("close"),
                      "Volume": klines.column("volume")})
    _write_gz(tmp_path / "landing/bars/btcusdt_export.csv", table)
    [feed] = csv_feeds(_imports(tmp_path, BARS_IMPORT))
    defs = _definitions(feed, data_store, tmp_path)
    with instance_for_test() as instance:
        for day in ("2020-01-01", "2020-01-02"):
            result = _run(defs, feed, f"{day}|BTCUSDT", instance)
            assert result.success
            checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
            assert checks["ohlcv_rules"] and checks["bar_gaps"] and checks["catalog_integrity"]
    bars = ParquetDataCatalog(str(data_store.catalog)).bars(
        bar_types=["BTCUSDT.VENDORX-1-MINUTE-LAST-EXTERNAL"])
    assert len(bars) == 2 * 1440
    for bar, row in zip(bars, klines.to_pylist(), strict=True):
        assert all(Decimal(str(getattr(bar, c))) == Decimal(row[c]) for c in ("open", "high", "low", "close", "volume"))
        assert bar.ts_event == int(row["close_time"]) * 10**6
    assert isinstance(bars[0], Bar)


FUNDING_IMPORT = """
[[csv]]
name = "funding_vendor"
landing = "landing/funding"
table = "funding"
venue = "VENDORX"
market = "perp"
symbol = "BTCUSDT"
first_day = "2026-04-01"
tick_size = "0.1"
step_size = "0.001"
base = "BTC"
quote = "USDT"
[csv.columns]
rate = "Funding Rate"
"""


def test_vendor_funding_month_publishes_settled_events_equal_to_the_text(
        tmp_path: Path, binance_samples: Path, data_store: DataStore) -> None:
    funding = _zip_csv(binance_samples / FUNDING)
    table = pa.table({"Time": _iso(funding.column("calc_time")), "Funding Rate": funding.column("last_funding_rate"),
                      "funding_interval_hours": funding.column("funding_interval_hours")})
    _write_gz(tmp_path / "landing/funding/BTCUSDT-funding-2026-04.csv", table)
    [feed] = csv_feeds(_imports(tmp_path, FUNDING_IMPORT))
    defs = _definitions(feed, data_store, tmp_path)
    with instance_for_test() as instance:
        result = _run(defs, feed, "2026-04-10|BTCUSDT", instance)
        assert result.success
    register_funding_rate_codec()
    updates = ParquetDataCatalog(str(data_store.catalog)).query(FundingRateUpdate, identifiers=["BTCUSDT.VENDORX"])
    day = [r for r in funding.to_pylist() if dt.datetime.fromtimestamp(int(r["calc_time"]) / 1000, dt.UTC).date()
           == dt.date(2026, 4, 10)]
    assert len(updates) == len(day) == 3
    for update, row in zip(updates, day, strict=True):
        assert Decimal(update.rate) == Decimal(row["last_funding_rate"])
        assert update.ts_event == int(row["calc_time"]) * 10**6
        boundary = update.ts_event - update.ts_event % (3600 * 10**9)
        assert update.next_funding_ns == boundary + int(row["funding_interval_hours"]) * 3600 * 10**9


MARKS_IMPORT = """
[[csv]]
name = "marks_vendor"
landing = "landing/marks"
table = "mark_prices"
venue = "VENDORX"
market = "perp"
symbols = ["BTCUSDT", "ETHUSDT"]
symbol_column = "instrument"
first_day = "2020-01-01"
tick_size = "0.01"
step_size = "0.001"
base = "BTC"
quote = "USDT"
[csv.timestamp]
column = "ts"
format = "epoch_us"
"""


def test_vendor_mark_prices_filtered_by_symbol_column_read_back_equal(tmp_path: Path, binance_samples: Path,
                                                                      data_store: DataStore) -> None:
    """Mark prices of two symbols in one file (µs epochs): each symbol's partition takes only its rows."""
    klines = _zip_csv(binance_samples / KLINES.format(1))
    n = klines.num_rows
    us = pc.cast(pc.multiply(pc.cast(klines.column("close_time"), pa.int64()), 1000), pa.string())
    table = pa.table({"ts": pa.concat_arrays([us.combine_chunks()] * 2),
                      "instrument": pa.array(["BTCUSDT"] * n + ["ETHUSDT"] * n),
                      "mark_price": pa.concat_arrays([klines.column("close").combine_chunks(),
                                                      klines.column("open").combine_chunks()])})
    _write_gz(tmp_path / "landing/marks/marks.csv", table)
    [feed] = csv_feeds(_imports(tmp_path, MARKS_IMPORT))
    defs = _definitions(feed, data_store, tmp_path)
    with instance_for_test() as instance:
        assert _run(defs, feed, "2020-01-01|BTCUSDT", instance).success
    marks = ParquetDataCatalog(str(data_store.catalog)).query(MarkPriceUpdate, identifiers=["BTCUSDT.VENDORX"])
    assert [(Decimal(str(m.value)), m.ts_event) for m in marks] == [
        (Decimal(c), int(t) * 10**6) for c, t in zip(klines.column("close").to_pylist(),
                                                      klines.column("close_time").to_pylist(), strict=True)]


def test_generated_large_overlapping_exports_are_deduplicated_and_conflicts_refused(tmp_path: Path,
                                                                                   data_store: DataStore) -> None:
    """Two large vendor exports of one day overlapping by 30,000 trades (``.gz`` and ``.zst``): every trade once;
    then one overlapping trade differs between them: the day fails and nothing of it is published."""
    day = dt.date(2026, 5, 9)
    table = trades_table(day, 200_000, time_format="iso")
    landing = tmp_path / "landing/vendorx"
    write_csv(landing / "part-a.csv.gz", table.slice(0, 150_000))
    write_csv(landing / "part-b.csv.zst", table.slice(120_000))
    [feed] = csv_feeds(_imports(tmp_path, TRADES_IMPORT.replace('"*.csv.gz"', '"part-*"')))
    defs = _definitions(feed, data_store, tmp_path)
    with instance_for_test() as instance:
        result = _run(defs, feed, f"{day}|BTCUSD", instance)
        assert result.success
        metadata = materializations(result, "csv_vendorx_trades_normalized")[0].metadata
        assert (metadata["rows"].value, metadata["duplicates_dropped"].value) == (200_000, 30_000)
    ticks = ParquetDataCatalog(str(data_store.catalog)).trade_ticks(instrument_ids=["BTCUSD.VENDORX"])
    assert [(t.trade_id.value, str(t.price), str(t.size)) for t in ticks[::997]] == [
        (r["Trade ID"], r["Price"], r["Size"]) for r in table.take(list(range(0, 200_000, 997))).to_pylist()]

    other = DataStore(tmp_path / "other")
    changed = table.slice(120_000).to_pydict()
    changed["Price"][10] = "1.0"
    write_csv(landing / "part-b.csv.zst", pa.table(changed))
    with instance_for_test() as instance:
        result = _run(_definitions(feed, other, tmp_path), feed, f"{day}|BTCUSD", instance)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "ids appear more than once with different values: [120011]" in failure.step_failure_data.error.to_string()
    assert not any(other.root.rglob("*.parquet"))


def test_the_deployment_loads_every_configured_import(tmp_path: Path) -> None:
    """With ``HEDGEGRID_IMPORTS`` the definitions gain one group and one landing sensor per import; without it
    they stay as they are (``test_definitions.py``)."""
    imports = _imports(tmp_path, f"{TRADES_IMPORT}\n{BARS_IMPORT}\n{FUNDING_IMPORT}\n{MARKS_IMPORT}")
    script = (
        "import json, hedgegrid_data.definitions as d\n"
        "r = d.defs.get_repository_def()\n"
        "print(json.dumps({'assets': sorted(k.to_user_string() for k in r.asset_graph.get_all_asset_keys()\n"
        "                                   if k.to_user_string().startswith('csv_')),\n"
        "                  'sensors': sorted(s.name for s in r.sensor_defs if s.name.startswith('csv_')),\n"
        "                  'schedules': sorted(s.name for s in r.schedule_defs if s.name.startswith('csv_'))}))\n")
    env = {**os.environ, "HEDGEGRID_IMPORTS": str(imports), "HEDGEGRID_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    groups = ["csv_bars_vendor_bars", "csv_funding_vendor_funding", "csv_marks_vendor_mark_prices",
              "csv_vendorx_trades"]
    assert loaded == {"assets": sorted(f"{g}_{a}" for g in groups for a in ("raw", "normalized", "catalog",
                                                                             "quality_report")),
                      "sensors": [f"{g}_landing" for g in groups], "schedules": []}
