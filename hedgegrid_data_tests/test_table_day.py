"""The generic day steps of quotes, mark prices and funding-rate updates (``feeds/table_day.py``), and trades with
receive times: through the day recipe into the catalog, read back by Nautilus equal to the source text; rows
received twice kept once; a row outside the day refused naming its line, with nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from nautilus_trader.model.data import FundingRateUpdate, MarkPriceUpdate, QuoteTick, TradeTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.catalog.funding_rates import register_funding_rate_codec
from hedgegrid_data.errors import ArchiveDataError
from hedgegrid_data.feeds.feed import Feed
from hedgegrid_data.feeds.recipe import normalize_day, publish_day
from hedgegrid_data.feeds.table_day import FUNDING_UPDATES, MARK_PRICES, QUOTES, CanonicalTableDay, TableFile
from hedgegrid_data.feeds.trades_day import CanonicalTradesDay, TradesFile
from hedgegrid_data.store import DataStore
from hedgegrid_data.tables.funding import funding_update_schema
from hedgegrid_data.tables.mark_prices import mark_price_schema
from hedgegrid_data.tables.quotes import quote_schema
from hedgegrid_data.tables.trades import trade_fields
from hedgegrid_data_tests.test_feed_registration import ExampleSource, examplex_instrument

DAY = dt.date(2024, 1, 2)
T0 = int(dt.datetime(2024, 1, 2, tzinfo=dt.UTC).timestamp()) * 10**9
INSTRUMENT_ID = "BTCUSD.EXAMPLEX"


def ns(seconds: float) -> int:
    return T0 + int(seconds * 10**9)


def table_of(schema: pa.Schema, rows: list[tuple], lines: list[int]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays = [pa.array([Decimal(v) if isinstance(v, str) else v for v in col], field.type)
              for col, field in zip(columns, schema, strict=True)]
    return pa.Table.from_arrays([*arrays, pa.array(lines, pa.int64())], names=[*schema.names, "line"])


def feed_of(steps, dataset: str, publishes: type) -> Feed:
    return Feed(name=f"example_{dataset}", source=ExampleSource(), venue="examplex", market="spot", table=dataset,
                dataset=dataset, first_day="2024-01-01", symbols=("BTCUSD",), files=lambda day, symbol: [],
                steps=steps, instrument_ids=lambda symbol: INSTRUMENT_ID, publishes=publishes)


def run_day(feed: Feed, store: DataStore) -> None:
    normalized = normalize_day(feed, store, DAY, "BTCUSD")
    assert not [v for v in normalized.verdicts if v.blocks], normalized.verdicts
    publish_day(feed, store, DAY, "BTCUSD")


def test_quotes_round_trip_with_duplicates_dropped(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    rows = [("100.01", "1.5000", "100.02", "0.2500", ns(2), ns(2.1)),
            ("100.00", "2.0000", "100.01", "0.0000", ns(1), ns(1.2)),
            ("100.00", "2.0000", "100.01", "0.0000", ns(1), ns(1.5))]  # the second row received again, later
    quotes = table_of(quote_schema(2, 4), rows, [3, 2, 9])
    feed = feed_of(CanonicalTableDay(lambda s, d, sym: TableFile("quotes.jsonl", quotes), examplex_instrument,
                                     QUOTES), "quotes", QuoteTick)
    run_day(feed, store)
    ticks = ParquetDataCatalog(str(store.catalog)).query(QuoteTick, identifiers=[INSTRUMENT_ID])
    assert [(str(t.bid_price), str(t.bid_size), str(t.ask_price), str(t.ask_size), t.ts_event, t.ts_init)
            for t in ticks] == [("100.00", "2.0000", "100.01", "0.0000", ns(1), ns(1.2)),
                                ("100.01", "1.5000", "100.02", "0.2500", ns(2), ns(2.1))]


def test_mark_prices_keep_their_decimals(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    rows = [("42000.12345678", "42001.5", ns(1), ns(1.01)), ("42000.1", None, ns(2), ns(2.01))]
    marks = table_of(mark_price_schema(), rows, [1, 2])
    feed = feed_of(CanonicalTableDay(lambda s, d, sym: TableFile("marks.jsonl", marks), examplex_instrument,
                                     MARK_PRICES), "mark_prices", MarkPriceUpdate)
    run_day(feed, store)
    updates = ParquetDataCatalog(str(store.catalog)).query(MarkPriceUpdate, identifiers=[INSTRUMENT_ID])
    assert [(str(u.value), u.ts_event, u.ts_init) for u in updates] == [
        ("42000.12345678", ns(1), ns(1.01)), ("42000.10000000", ns(2), ns(2.01))]


def test_funding_updates_round_trip(tmp_path: Path) -> None:
    register_funding_rate_codec()
    store = DataStore(tmp_path)
    rows = [("0.00010000", ns(8 * 3600), ns(1), ns(1.1)), ("-0.00002358", ns(8 * 3600), ns(3), ns(3.1))]
    updates = table_of(funding_update_schema(), rows, [1, 2])
    feed = feed_of(CanonicalTableDay(lambda s, d, sym: TableFile("funding.jsonl", updates), examplex_instrument,
                                     FUNDING_UPDATES), "funding_updates", FundingRateUpdate)
    run_day(feed, store)
    read = ParquetDataCatalog(str(store.catalog)).query(FundingRateUpdate, identifiers=[INSTRUMENT_ID])
    assert [(format(u.rate, "f"), u.next_funding_ns, u.ts_event, u.ts_init) for u in read] == [
        ("0.00010000", ns(8 * 3600), ns(1), ns(1.1)), ("-0.00002358", ns(8 * 3600), ns(3), ns(3.1))]


def test_a_row_outside_the_day_is_refused_naming_its_line(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    rows = [("100.00", "2.0000", "100.01", "1.0000", ns(1), ns(1)),
            ("100.00", "2.0000", "100.01", "1.0000", ns(86_400), ns(86_400))]
    quotes = table_of(quote_schema(2, 4), rows, [1, 7])
    feed = feed_of(CanonicalTableDay(lambda s, d, sym: TableFile("quotes.jsonl", quotes), examplex_instrument,
                                     QUOTES), "quotes", QuoteTick)
    with pytest.raises(ArchiveDataError, match=r"quotes.jsonl.*line 7|line 7.*quotes.jsonl"):
        normalize_day(feed, store, DAY, "BTCUSD")
    assert not feed.normalized_file(store, DAY, "BTCUSD").exists()
    assert not list(feed.staging(store).rglob("*.parquet"))


def test_too_many_decimals_for_the_instrument_is_an_error(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    rows = [("100.001", "2.0000", "100.01", "1.0000", ns(1), ns(1))]
    quotes = table_of(quote_schema(3, 4), rows, [4])
    feed = feed_of(CanonicalTableDay(lambda s, d, sym: TableFile("quotes.jsonl", quotes), examplex_instrument,
                                     QUOTES), "quotes", QuoteTick)
    with pytest.raises(ArchiveDataError, match="quotes.jsonl"):
        normalize_day(feed, store, DAY, "BTCUSD")


def test_trades_with_receive_times_merge_overlapping_captures(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    fields = trade_fields(2, 4)
    schema = pa.schema([fields[c] for c in ("trade_id", "price", "qty", "ts_event", "aggressor_side", "ts_init")])

    def batch(rows: list[tuple]) -> pa.RecordBatch:
        columns = list(zip(*rows, strict=True))
        return pa.RecordBatch.from_arrays(
            [pa.array([Decimal(v) if isinstance(v, str) else v for v in col], f.type)
             for col, f in zip(columns, schema, strict=True)], schema=schema)

    first = [(1, "100.00", "0.5000", ns(1), 1, ns(1.3)), (2, "100.01", "0.1000", ns(2), 2, ns(2.3))]
    second = [(2, "100.01", "0.1000", ns(2), 2, ns(2.1)), (3, "100.02", "0.2000", ns(3), 1, ns(3.1))]
    steps = CanonicalTradesDay(lambda s, d, sym: TradesFile("captures", lambda: iter([batch(first), batch(second)])),
                               examplex_instrument, receive_times=True)
    feed = feed_of(steps, "trades", TradeTick)
    run_day(feed, store)
    ticks = ParquetDataCatalog(str(store.catalog)).query(TradeTick, identifiers=[INSTRUMENT_ID])
    assert [(t.trade_id.value, str(t.price), t.ts_event, t.ts_init) for t in ticks] == [
        ("1", "100.00", ns(1), ns(1.3)), ("2", "100.01", ns(2), ns(2.1)), ("3", "100.02", ns(3), ns(3.1))]


def test_quotes_with_update_ids_merge_by_update_and_refuse_one_update_with_two_values(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    rows = [("100.00", "2.0000", "100.01", "1.0000", ns(1), ns(1)),
            ("100.00", "2.0000", "100.01", "1.0000", ns(1.005), ns(1.005)),  # update 7 again, a later receipt
            ("100.00", "2.0000", "100.01", "1.0000", ns(1), ns(1))]  # update 8: equal values, its own quote
    quotes = table_of(quote_schema(2, 4), rows, [1, 2, 3]).append_column("update_id", pa.array([7, 7, 8]))
    feed = feed_of(CanonicalTableDay(lambda s, d, sym: TableFile("quotes.jsonl", quotes), examplex_instrument,
                                     QUOTES), "quotes", QuoteTick)
    run_day(feed, store)
    ticks = ParquetDataCatalog(str(store.catalog)).query(QuoteTick, identifiers=[INSTRUMENT_ID])
    assert [(t.ts_event, t.ts_init) for t in ticks] == [(ns(1), ns(1)), (ns(1), ns(1))]

    conflicting = quotes.set_column(0, "bid_price", pa.array([Decimal("100.00"), Decimal("99.99"), Decimal("100.00")],
                                                            pa.decimal128(38, 2)))
    feed = feed_of(CanonicalTableDay(lambda s, d, sym: TableFile("quotes.jsonl", conflicting), examplex_instrument,
                                     QUOTES), "quotes", QuoteTick)
    with pytest.raises(ArchiveDataError, match=r"update 7 differ \(lines 1, 2\)"):
        normalize_day(feed, DataStore(tmp_path / "other"), DAY, "BTCUSD")
