"""Shared fixtures: the real samples beside the repo, a loopback archive server, a fresh data store."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hedgegrid_data.settings import DEFAULT_SYMBOLS_FILE
from hedgegrid_data.store import DataStore
from hedgegrid_data.testing.archive_generator import GeneratedDay, write_trades_day
from hedgegrid_data.testing.archive_server import ArchiveServer
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_spec

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SAMPLES_BINANCE = SHARED / "samples" / "binance"
SAMPLES_BYBIT = SHARED / "samples" / "bybit"


@pytest.fixture(scope="session")
def binance_samples() -> Path:
    """The real Binance archive samples in the archive's key layout (``../shared/samples/binance``)."""
    if not (SAMPLES_BINANCE / "data").is_dir():
        pytest.skip(f"real Binance samples not found at {SAMPLES_BINANCE} (../shared is absent in a user's clone)")
    return SAMPLES_BINANCE


@pytest.fixture(scope="session")
def bybit_samples() -> Path:
    """The real Bybit samples (``../shared/samples/bybit``): a whole spot day and real rows of every trading dialect."""
    if not (SAMPLES_BYBIT / "trading_rows.csv").is_file():
        pytest.skip(f"real Bybit samples not found at {SAMPLES_BYBIT} (../shared is absent in a user's clone)")
    return SAMPLES_BYBIT


@pytest.fixture
def archive_root(tmp_path: Path) -> Path:
    """An empty archive-layout directory; tests generate days into it (and may copy real samples in)."""
    root = tmp_path / "archive"
    root.mkdir()
    return root


@pytest.fixture
def archive_with_samples(archive_root: Path, binance_samples: Path) -> Path:
    shutil.copytree(binance_samples / "data", archive_root / "data", dirs_exist_ok=True)
    return archive_root


@pytest.fixture
def archive_server(archive_root: Path) -> Iterator[ArchiveServer]:
    with ArchiveServer(archive_root) as server:
        yield server


@pytest.fixture
def data_store(tmp_path: Path) -> DataStore:
    return DataStore(tmp_path / "hedgegrid")


def generate_trades(root: Path, market: Market, symbol: str, day: str | dt.date, n_trades: int,
                    **kwargs: object) -> GeneratedDay:
    """A generated trades day at the configured instrument's precision."""
    spec = symbol_spec(market, symbol)
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    if market is Market.COINM:
        kwargs.setdefault("contract_size", int(spec.contract_size or 1))
    return write_trades_day(root, market, symbol, day, n_trades, price_precision=spec.price_precision,
                            size_precision=spec.size_precision, **kwargs)


def edited_symbols_file(directory: Path, market: Market, symbol: str, **fields: str | int | None) -> Path:
    """A copy of the checked-in symbols file with fields of one symbol replaced (None: removed)."""
    text = DEFAULT_SYMBOLS_FILE.read_text()
    section = f"[{market.value}.{symbol}]"
    head, tail = text.split(section, 1)
    body, rest = (tail.split("\n[", 1) + [""])[:2]
    kept = [line for line in body.split("\n") if line.split("=")[0].strip() not in fields]
    added = [f"{name} = {value!r}".replace("'", '"') for name, value in fields.items() if value is not None]
    path = directory / "symbols.toml"
    path.write_text(head + section + "\n".join([kept[0], *added, *kept[1:]]) + ("\n[" + rest if rest else ""))
    return path


def materializations(result, asset: str) -> list:
    """The materializations of ``asset`` in an in-process run's result (the group's assets share one step)."""
    return [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()
            if e.asset_key.to_user_string() == asset]
