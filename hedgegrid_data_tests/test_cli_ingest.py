"""``hedgegrid-data ingest`` as a user runs it: a child process on a pipe (plain lines) and on a
pseudo-terminal (the live display), real HTTP to the loopback archive servers, exit codes, and the days read
back through Nautilus equal to the source text; ``--via-dagster`` records the days in a Dagster instance."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from hedgegrid_data.cli.main import main
from hedgegrid_data.testing.archive_generator import read_csv_rows
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.testing.bybit_generator import write_trading_day
from hedgegrid_data.testing.bybit_server import BybitArchiveServer
from hedgegrid_data.testing.cli import run_cli
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.bybit import BybitMarket
from hedgegrid_data_tests.conftest import REPO_ROOT, generate_trades

DAY = dt.date(2024, 1, 2)
BYBIT_DAY = dt.date(2025, 9, 2)


def _env(data_dir: Path, **variables: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("HEDGEGRID_", "DAGSTER_"))}
    return {**kept, "HEDGEGRID_DATA_DIR": str(data_dir), **variables}


def _binance_ticks(data_dir: Path, instrument_id: str) -> list[tuple]:
    ticks = ParquetDataCatalog(str(data_dir / "catalog")).trade_ticks(instrument_ids=[instrument_id])
    return [(t.trade_id.value, t.price.as_decimal(), t.size.as_decimal(), t.ts_event) for t in ticks]


def _source_rows(zip_path: Path) -> list[tuple]:
    """The archive's CSV text (spot: µs times from 2025, ms before) as what Nautilus must read back."""
    return [(r[0], Decimal(r[1]), Decimal(r[2]), int(r[4]) * 1_000_000) for r in read_csv_rows(zip_path)]


def test_pipe_prints_plain_lines_and_exits_1_when_a_day_is_not_published(tmp_path: Path, archive_root: Path) -> None:
    generated = generate_trades(archive_root, Market.SPOT, "BTCUSDT", DAY, 3_000)
    data_dir = tmp_path / "data"
    with ArchiveServer(archive_root) as server:
        run = run_cli(["ingest", "--source", "binance", "--market", "spot", "--symbol", "BTCUSDT",
                       "--start", "2024-01-02", "--end", "2024-01-03", "--data-types", "trades"],
                      _env(data_dir, HEDGEGRID_BINANCE_URL=server.url), REPO_ROOT)
    assert run.returncode == 1, run.output + run.stderr
    assert "\x1b[" not in run.output  # no escape codes on a pipe
    lines = run.output.splitlines()
    assert "ingest: 2 day(s) to publish (binance_spot_trades × BTCUSDT, 2024-01-02 … 2024-01-03)" in lines[0]
    [published] = [line for line in lines if "binance_spot_trades BTCUSDT 2024-01-02 published" in line]
    assert "rows=3000" in published and "[1/2 days, 0 failed, 3000 rows" in published
    [failed] = [line for line in lines if line.startswith("FAILED binance_spot_trades BTCUSDT 2024-01-03")]
    assert "BTCUSDT-trades-2024-01-03.zip" in failed and "not published" in failed
    assert "1 of 2 day(s) published, 1 failed, 3,000 rows" in run.output
    # the published day reads back through Nautilus equal to the source text, every row once
    assert _binance_ticks(data_dir, "BTCUSDT.BINANCE") == _source_rows(generated.zip_path)


def test_terminal_draws_the_progress_and_exits_0_when_every_day_is_published(tmp_path: Path) -> None:
    root = tmp_path / "bybit"
    generated = write_trading_day(root, BybitMarket.LINEAR, "BTCUSDT", BYBIT_DAY, 2_000)
    data_dir = tmp_path / "data"
    with BybitArchiveServer(root) as server:
        run = run_cli(["ingest", "--source", "bybit", "--market", "linear", "--symbol", "BTCUSDT",
                       "--start", "2025-09-02"], _env(data_dir, HEDGEGRID_BYBIT_URL=server.url), REPO_ROOT,
                      terminal=True)
    assert run.returncode == 0, run.output
    assert "\x1b[" in run.output  # drawn: cursor movement and colours
    assert "━" in run.output and "1/1" in run.output and "ETA" in run.output and "rows/s" in run.output
    assert "bybit_linear_trades BTCUSDT 2025-09-02: 2,000 rows" in run.output
    assert "1 of 1 day(s) published, 0 failed, 2,000 rows" in run.output
    ticks = ParquetDataCatalog(str(data_dir / "catalog")).trade_ticks(instrument_ids=["BTCUSDT-LINEAR.BYBIT"])
    assert [(t.trade_id.value, t.price.as_decimal(), t.size.as_decimal(), int(t.aggressor_side), t.ts_event)
            for t in ticks] == generated.expected()


def test_via_dagster_records_each_day_as_a_run_in_the_instance(tmp_path: Path, archive_root: Path) -> None:
    generate_trades(archive_root, Market.SPOT, "BTCUSDT", DAY, 2_000)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    data_dir = tmp_path / "data"
    with ArchiveServer(archive_root) as server:
        run = run_cli(["ingest", "--source", "binance", "--market", "spot", "--symbol", "BTCUSDT",
                       "--start", "2024-01-02", "--end", "2024-01-03", "--via-dagster"],
                      _env(data_dir, HEDGEGRID_BINANCE_URL=server.url, DAGSTER_HOME=str(home)), REPO_ROOT)
    assert run.returncode == 1, run.output + run.stderr
    assert "binance_spot_trades BTCUSDT 2024-01-02 published rows=2000" in run.output
    [failed] = [line for line in run.output.splitlines() if line.startswith("FAILED ")]
    assert failed.startswith("FAILED binance_spot_trades BTCUSDT 2024-01-03: ") and "not published" in failed
    assert "via Dagster" in run.output and "dagster - " not in run.output + run.stderr  # Dagster's log kept quiet
    with DagsterInstance.from_config(str(home)) as instance:
        for asset in ("binance_spot_trades_raw", "binance_spot_trades_normalized", "binance_spot_trades_catalog"):
            event = instance.get_latest_materialization_event(AssetKey(asset))
            assert event is not None and event.dagster_event.partition == "2024-01-02|BTCUSDT", asset
        runs = {r.dagster_run.tags["dagster/partition"]: r for r in instance.get_run_records()}
        assert sorted(runs) == ["2024-01-02|BTCUSDT", "2024-01-03|BTCUSDT"]
        assert [runs[k].dagster_run.is_success for k in sorted(runs)] == [True, False]
        assert all(r.dagster_run.tags["hedgegrid/launched_by"] == "hedgegrid-data ingest" for r in runs.values())
    assert len(_binance_ticks(data_dir, "BTCUSDT.BINANCE")) == 2_000


@pytest.mark.parametrize(("args", "message"), [
    (["--source", "binance", "--market", "um", "--symbol", "DOGEUSDT"],
     "binance_um_trades has no symbol DOGEUSDT; configured symbols: BTCUSDT, ETHUSDT"),
    (["--source", "binance", "--symbol", "BTCUSDT"], "binance has several markets: give --market (cm, spot, um)"),
    (["--source", "binance", "--market", "spot", "--symbol", "BTCUSDT", "--data-types", "funding"],
     "binance spot has no funding feed; its data types: bars, trades"),
    (["--source", "nowhere", "--symbol", "BTCUSDT"], "unknown source 'nowhere'; configured sources: binance, bybit"),
    (["--source", "binance", "--market", "spot", "--symbol", "BTCUSDT", "--data-types", "ticks"],
     "unknown data type 'ticks'; data types: trades, mark, funding, quotes, bars"),
    (["--source", "binance", "--market", "spot", "--symbol", "BTCUSDT", "--start", "2024-01-05", "--end",
      "2024-01-04"], "--end 2024-01-04 is before --start 2024-01-05"),
])
def test_a_wrong_selection_exits_2_naming_what_is_valid(args: list[str], message: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HEDGEGRID_DATA_DIR", str(tmp_path / "data"))
    if "--start" not in args:
        args = [*args, "--start", "2024-01-02"]
    assert main(["ingest", *args]) == 2
    assert capsys.readouterr().err.startswith(f"hedgegrid-data ingest: {message}")
    assert not (tmp_path / "data").exists()


def test_captured_websocket_frames_through_the_imports_file(tmp_path: Path) -> None:
    """``--source websocket --config FILE``: a real USD-M capture; its quotes publish (no other source has them),
    its trades keep their table (the archive publishes Binance trades)."""
    capture = REPO_ROOT.parent / "shared" / "samples" / "binance_ws" / "hftbacktest_usdm_btcusdt_20240808.gz"
    if not capture.is_file():
        pytest.skip(f"real WebSocket captures not found at {capture.parent} (../shared is absent in a user's clone)")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(capture, landing)
    config = tmp_path / "imports.toml"
    config.write_text(f'[[websocket]]\nname = "hft"\nlanding = "{landing}"\nvenue = "binance"\nmarket = "um"\n'
                      'symbol = "BTCUSDT"\nfirst_day = "2024-08-01"\nglob = "*.gz"\n')
    data_dir = tmp_path / "data"
    run = run_cli(["ingest", "--source", "websocket", "--market", "um", "--symbol", "BTCUSDT", "--start",
                   "2024-08-08", "--data-types", "trades,quotes", "--config", str(config)], _env(data_dir), REPO_ROOT)
    assert run.returncode == 0, run.output + run.stderr
    assert "2 of 2 day(s) published, 0 failed" in run.output
    quotes = ParquetDataCatalog(str(data_dir / "catalog")).quote_ticks(instrument_ids=["BTCUSDT-PERP.BINANCE"])
    assert len(quotes) > 60_000 and [q.ts_init for q in quotes] == sorted(q.ts_init for q in quotes)
    assert not (data_dir / "catalog" / "data" / "trade_tick").exists()
    assert list((data_dir / "normalized" / "websocket" / "um").glob("hft_trades/**/*.parquet"))
