"""``hedgegrid-data status`` on a data store with a missing day and a failed check: the table a person reads
(a child process on a pipe) and the JSON a script reads."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from hedgegrid_data.cli.ingest import ingest_day
from hedgegrid_data.cli.main import main
from hedgegrid_data.sources.binance_archive.feeds import agg_trades_feed, trades_feed
from hedgegrid_data.sources.binance_archive.resources import BinanceArchiveResource
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import read_csv_text, replace_csv, write_agg_trades_day
from hedgegrid_data.testing.cli import run_cli
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec
from hedgegrid_data_tests.conftest import REPO_ROOT, generate_trades

NOW = "2024-01-07T12:00:00+00:00"


@pytest.fixture
def store_with_gaps(tmp_path: Path, archive_root: Path) -> DataStore:
    """Spot BTCUSDT trades: 01-02 and 01-04 published, 01-03 never ingested, 01-05 blocked by a trade id gap."""
    for day in (2, 4, 5):
        generated = generate_trades(archive_root, Market.SPOT, "BTCUSDT", dt.date(2024, 1, day), 500,
                                    first_id=day * 10_000)
    lines = read_csv_text(generated.zip_path).splitlines(keepends=True)
    replace_csv(generated, "".join(lines[:100] + lines[103:]))  # 3 trade ids missing on 01-05
    store = DataStore(tmp_path / "data")
    feed, resource = trades_feed(Market.SPOT), BinanceArchiveResource(base_url=str(archive_root))
    results = {day: ingest_day(feed, store, resource, dt.date(2024, 1, day), "BTCUSDT") for day in (2, 4, 5)}
    assert results[2].ok and results[4].ok, results
    assert not results[5].ok and "trade_id_gaps" in results[5].error
    return store


def test_status_table_on_a_pipe(store_with_gaps: DataStore) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEGRID_")}
    run = run_cli(["status", "--data-dir", str(store_with_gaps.root), "--now", NOW], env, REPO_ROOT)
    assert run.returncode == 0, run.output + run.stderr
    assert "\x1b[" not in run.output
    [row] = [line for line in run.output.splitlines() if "BTCUSDT" in line]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    failed_checks = cells.pop(9).split(", ")
    assert "trade_id_gaps" in failed_checks
    assert cells == ["binance", "spot", "BTCUSDT", "trades", "binance", "2024-01-02", "2024-01-04", "1: 2024-01-03",
                     "0.00 (2024-01-05)", "2 day(s) behind; 2024-01-06T00:00 due, 36.0 h ago"]


def test_status_json(store_with_gaps: DataStore, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEGRID_DATA_DIR", str(store_with_gaps.root))
    assert main(["status", "--json", "--now", NOW, "--source", "binance", "--market", "spot"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    failed_checks = row["latest_report"].pop("failed_checks")
    assert "trade_id_gaps" in failed_checks
    assert row == {
        "venue": "binance", "market": "spot", "symbol": "BTCUSDT", "data_type": "trades", "source": "binance",
        "feed": "binance_spot_trades", "instrument_id": "BTCUSDT.BINANCE", "held_in": "catalog",
        "first_day": "2024-01-02", "last_day": "2024-01-04", "days": 2, "missing_days": ["2024-01-03"],
        "latest_report": {"day": "2024-01-05", "quality_score": 0.0, "blocked": True},
        "newest_due_day": "2024-01-06", "days_behind": 2, "overdue_since": "2024-01-06T00:00:00+00:00",
        "stale_hours": 36.0,
    }
    # nothing stored for a symbol: no row
    assert main(["status", "--json", "--now", NOW, "--symbol", "ETHUSDT"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_feed_that_publishes_nothing_is_judged_by_its_normalized_days(tmp_path: Path, archive_root: Path,
                                                                         capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    spec = symbol_spec(Market.SPOT, "BTCUSDT")
    for day in (2, 3):
        write_agg_trades_day(archive_root, Market.SPOT, "BTCUSDT", dt.date(2024, 1, day), 300,
                             price_precision=spec.price_precision, size_precision=spec.size_precision,
                             first_id=day * 10_000)
    store = DataStore(tmp_path / "data")
    feed = agg_trades_feed(Market.SPOT)  # aggTrades keep their table: trades publish the TradeTicks
    for day in (2, 3):
        assert ingest_day(feed, store, BinanceArchiveResource(base_url=str(archive_root)), dt.date(2024, 1, day),
                          "BTCUSDT").ok
    monkeypatch.setenv("HEDGEGRID_DATA_DIR", str(store.root))
    assert main(["status", "--json", "--now", NOW]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["feed"], row["held_in"], row["first_day"], row["last_day"], row["missing_days"]) == (
        "binance_spot_agg_trades", "normalized", "2024-01-02", "2024-01-03", [])
    assert not (store.catalog / "data").exists()
