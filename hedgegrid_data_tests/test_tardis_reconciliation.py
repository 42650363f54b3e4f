"""Cross-source reconciliation of mark prices and funding (``quality/cross_source.py``), the settled funding derived
from the updates table (``tables/funding.py``), and the Tardis feeds in the deployment's definitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from dagster import Definitions

from hedgegrid_data.assets.factory import build_feed_assets
from hedgegrid_data.automation import build_automation
from hedgegrid_data.feeds.configured import configured_feeds
from hedgegrid_data.quality.cross_source import funding_matches, mark_prices_match
from hedgegrid_data.resources import default_data_store
from hedgegrid_data.sources.tardis.config import load_config
from hedgegrid_data.sources.tardis.feeds import tardis_feeds
from hedgegrid_data.sources.tardis.resources import default_tardis_resources
from hedgegrid_data.tables.funding import settled_from_updates

HOUR = dt.timedelta(hours=1)
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _updates(rows: list[tuple[str, dt.datetime, dt.datetime]]) -> pl.DataFrame:
    return pl.DataFrame({"rate": [Decimal(r) for r, _, _ in rows], "next_funding_time": [n for _, n, _ in rows],
                         "ts_event": [t for _, _, t in rows], "ts_init": [t for _, _, t in rows]},
                        schema={"rate": pl.Decimal(38, 8), "next_funding_time": pl.Datetime("ns", "UTC"),
                                "ts_event": pl.Datetime("ns", "UTC"), "ts_init": pl.Datetime("ns", "UTC")})


def test_the_settled_rate_is_the_one_in_force_just_before_each_boundary() -> None:
    updates = _updates([("0.00010000", T0 + 8 * HOUR, T0 + HOUR),
                        ("-0.00002000", T0 + 8 * HOUR, T0 + 7 * HOUR),
                        ("-0.00003000", T0 + 8 * HOUR, T0 + 8 * HOUR),  # at the boundary: too late for it
                        ("0.00005000", T0 + 16 * HOUR, T0 + 8 * HOUR + dt.timedelta(seconds=1)),
                        ("0.00004000", None, T0 + 9 * HOUR)])
    settled = settled_from_updates(updates)
    assert settled.select("funding_time", "rate").rows() == [(T0 + 8 * HOUR, Decimal("-0.00002000")),
                                                             (T0 + 16 * HOUR, Decimal("0.00005000"))]


def test_funding_reconciliation_counts_a_differing_and_a_missing_event() -> None:
    updates = _updates([("0.00010000", T0 + 8 * HOUR, T0 + 7 * HOUR), ("0.00020000", T0 + 16 * HOUR, T0 + 15 * HOUR)])
    archive = pl.DataFrame({"funding_time": [T0 + 8 * HOUR, T0 + 16 * HOUR, T0 + 24 * HOUR],
                            "rate": [Decimal("0.0001"), Decimal("0.00021"), Decimal("0.0003")]},
                           schema={"funding_time": pl.Datetime("ns", "UTC"), "rate": pl.Decimal(38, 8)})
    verdict = funding_matches(updates, archive)
    assert not verdict.passed
    assert (verdict.metadata["compared"], verdict.metadata["differing"], verdict.metadata["missing"]) == (2, 1, 1)
    assert verdict.metadata["first_differing"][0].startswith(
        "2024-01-01T16:00:00.000000000Z: archive 0.00021000 ≠ updates 0.00020000")
    assert verdict.metadata["first_missing"] == ["2024-01-02T00:00:00.000000000Z"]
    assert funding_matches(updates, archive.head(1)).passed


def test_mark_price_reconciliation_finds_a_mark_outside_its_minute_kline() -> None:
    minute = dt.timedelta(minutes=1)
    marks = pl.DataFrame({"mark_price": [Decimal("42000.123456780000"), Decimal("42001.5"), Decimal(42100)],
                          "ts_event": [T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=50),
                                       T0 + minute + dt.timedelta(seconds=5)]},
                         schema={"mark_price": pl.Decimal(38, 12), "ts_event": pl.Datetime("ns", "UTC")})
    klines = pl.DataFrame({"open_time": [T0, T0 + minute], "low": [Decimal(42000), Decimal(42000)],
                           "high": [Decimal(42002), Decimal(42050)], "close": [Decimal("42001.5"),
                                                                                  Decimal(42010)]},
                          schema={"open_time": pl.Datetime("ns", "UTC"), "low": pl.Decimal(38, 8),
                                  "high": pl.Decimal(38, 8), "close": pl.Decimal(38, 8)})
    verdict = mark_prices_match(marks, klines)
    assert not verdict.passed
    assert (verdict.metadata["compared"], verdict.metadata["outside_kline"], verdict.metadata["minutes"],
            verdict.metadata["minute_closes_equal"]) == (3, 1, 2, 1)
    assert verdict.metadata["first_outside"] == [
        "2024-01-01T00:01:05.000000000Z: mark 42100.000000000000 outside [42000.00000000, 42050.00000000]"]
    assert mark_prices_match(marks.head(2), klines).passed


def test_no_tardis_feed_without_its_configuration_and_a_complete_group_with_it(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEDGEGRID_TARDIS_FILE", raising=False)
    assert tardis_feeds() == []
    assert not [f for f in configured_feeds() if f.source.name.startswith("tardis")]
    config = tmp_path / "tardis.toml"
    config.write_text('first_day = "2024-01-01"\n\n["binance-futures"]\nsymbols = ["BTCUSDT"]\n'
                      'datasets = ["quotes", "derivative_ticker"]\nchannels = ["aggTrade"]\n\n'
                      '["binance"]\nsymbols = ["BTCUSDT"]\ndatasets = ["trades"]\n')
    monkeypatch.setenv("HEDGEGRID_TARDIS_FILE", str(config))
    feeds = [f for f in configured_feeds() if f.source.name.startswith("tardis")]
    assert sorted(f.name for f in feeds) == [
        "tardis_binance_futures_funding_updates", "tardis_binance_futures_mark_prices", "tardis_binance_futures_quotes",
        "tardis_binance_trades", "tardis_replay_binance_futures_agg_trades"]
    automation = build_automation(feeds)
    defs = Definitions(assets=[a for f in feeds for a in build_feed_assets(f)], sensors=automation["sensors"],
                       schedules=automation["schedules"], jobs=automation["jobs"],
                       resources={"data_store": default_data_store(), **default_tardis_resources(),
                                  **automation["resources"]})
    repository = defs.get_repository_def()
    assert {s.name for s in repository.sensor_defs} >= {"tardis_binance_futures_quotes_availability",
                                                         "tardis_replay_binance_futures_agg_trades_availability"}
    assert "tardis_binance_futures_quotes_catalog" in {k.to_user_string() for k in
                                                       repository.asset_graph.get_all_asset_keys()}
    with pytest.raises(ValueError, match="not in the Binance symbols file"):
        bad = tmp_path / "bad.toml"
        bad.write_text('first_day = "2024-01-01"\n\n["binance-futures"]\nsymbols = ["DOGEUSDT"]\n')
        load_config(bad)
    with pytest.raises(ValueError, match="derivative_ticker"):
        bad.write_text('first_day = "2024-01-01"\n\n["binance"]\nsymbols = ["BTCUSDT"]\n'
                       'datasets = ["derivative_ticker"]\n')
        load_config(bad)
