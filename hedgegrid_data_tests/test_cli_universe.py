"""``hedgegrid-data universe`` (moved from ``python -m hedgegrid_data.universe``, which still works:
test_automation_planning.py) against the loopback archive's S3 listing."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.testing.cli import run_cli
from hedgegrid_data.venues.binance import Market
from hedgegrid_data_tests.conftest import REPO_ROOT, generate_trades


def test_universe_lists_symbols_and_first_days(archive_root: Path) -> None:
    generate_trades(archive_root, Market.USDM, "BTCUSDT", dt.date(2024, 1, 2), 10)
    generate_trades(archive_root, Market.USDM, "ETHUSDT", dt.date(2024, 1, 5), 10)
    with ArchiveServer(archive_root) as server:
        run = run_cli(["universe", "--market", "um", "--data-type", "trades", "--listing-url", server.url],
                      os.environ, REPO_ROOT)
    assert run.returncode == 0, run.stderr
    assert run.output == "BTCUSDT\t2024-01-02\nETHUSDT\t2024-01-05\n"
