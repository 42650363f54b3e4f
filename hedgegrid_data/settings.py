"""Public configuration read from the environment: where data goes, where the archives are, which symbols.

Settings that may carry credentials (the archive and listing URLs, the alert webhook) reach Dagster resources as
``dagster.EnvVar``s (``resource_env``): Dagster resolves them inside each run and sensor, and its UI and run
storage show the variable's name, never its value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeVar, cast

DEFAULT_BINANCE_URL = "https://data.binance.vision"
DEFAULT_BINANCE_LISTING_URL = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
DEFAULT_SYMBOLS_FILE = Path(__file__).with_name("symbols.toml")
DEFAULT_BYBIT_URL = "https://public.bybit.com"
DEFAULT_BYBIT_SYMBOLS_FILE = Path(__file__).with_name("bybit_symbols.toml")
DEFAULT_QUALITY_FILE = Path(__file__).with_name("quality.toml")

T = TypeVar("T")
TradeSource = Literal["trades", "aggTrades"]
TRADE_SOURCES: tuple[TradeSource, ...] = ("trades", "aggTrades")


def data_dir() -> Path:
    """Root of everything the platform writes (``HEDGEGRID_DATA_DIR``, default ``./data``)."""
    return Path(os.environ.get("HEDGEGRID_DATA_DIR", "data")).absolute()


def imports_file() -> Path | None:
    """The TOML file describing local imports (``HEDGEGRID_IMPORTS``): its ``[[csv]]`` and ``[[websocket]]``
    entries become feeds; unset, there are none."""
    path = os.environ.get("HEDGEGRID_IMPORTS")
    return Path(path).absolute() if path else None


def binance_url() -> str:
    """Archive base: an http(s) URL or a local directory in the archive's key layout."""
    return os.environ.get("HEDGEGRID_BINANCE_URL") or DEFAULT_BINANCE_URL


def resource_env(name: str, default: T) -> str | T:
    """The value to configure a Dagster resource field with: ``EnvVar(name)`` when the variable is set and not
    empty, else ``default`` (an unset ``EnvVar`` fails the run in Dagster, so it is only used when set)."""
    from dagster import EnvVar  # only the resources' wiring needs Dagster

    return EnvVar(name) if os.environ.get(name) else default


def binance_listing_url() -> str:
    """The archive's listing (``HEDGEGRID_BINANCE_LISTING_URL``); default: a local mirror's own directory when
    ``HEDGEGRID_BINANCE_URL`` is one, else the public bucket."""
    explicit = os.environ.get("HEDGEGRID_BINANCE_LISTING_URL")
    if explicit:
        return explicit
    base = binance_url()
    return base if is_local_base(base) else DEFAULT_BINANCE_LISTING_URL


def is_local_base(base: str) -> bool:
    """A base that is a directory, not an http(s) URL."""
    return not base.startswith(("http://", "https://"))


def bybit_symbols_file() -> Path:
    """Bybit's symbol universe with its increments (``HEDGEGRID_BYBIT_SYMBOLS_FILE``)."""
    return Path(os.environ.get("HEDGEGRID_BYBIT_SYMBOLS_FILE", DEFAULT_BYBIT_SYMBOLS_FILE))


def symbols_file() -> Path:
    return Path(os.environ.get("HEDGEGRID_SYMBOLS_FILE", DEFAULT_SYMBOLS_FILE))


def trade_source() -> TradeSource:
    """Which archive dataset becomes the catalog's ``TradeTick``s (``HEDGEGRID_TRADE_SOURCE``, default ``trades``)."""
    value = os.environ.get("HEDGEGRID_TRADE_SOURCE", "trades")
    if value not in TRADE_SOURCES:
        raise ValueError(f"HEDGEGRID_TRADE_SOURCE={value!r}; expected one of {TRADE_SOURCES}")
    return cast(TradeSource, value)


def kline_intervals() -> tuple[str, ...]:
    """Kline intervals downloaded from the archive (``HEDGEGRID_KLINE_INTERVALS``, comma-separated, default ``1m``).

    Higher timeframes (5m, 15m, 1h, 4h, 1d) are built from the finest of them when they are coarser multiples of
    it (from 1m: all; from 1h: 4h and 1d); a downloaded one must agree with the built bars.
    """
    return tuple(i.strip() for i in os.environ.get("HEDGEGRID_KLINE_INTERVALS", "1m").split(",") if i.strip())


def quality_file() -> Path:
    """Data-quality thresholds per market (``HEDGEGRID_QUALITY_FILE``)."""
    return Path(os.environ.get("HEDGEGRID_QUALITY_FILE", DEFAULT_QUALITY_FILE)).resolve()


def download_step_retries() -> int:
    """Dagster step retries of the download assets after the HTTP client's own retries (default 3)."""
    return int(os.environ.get("HEDGEGRID_DOWNLOAD_STEP_RETRIES", "3"))


FailedRepublication = Literal["keep", "withdraw"]
FAILED_REPUBLICATION_POLICIES: tuple[FailedRepublication, ...] = ("keep", "withdraw")


def failed_republication() -> FailedRepublication:
    """What a published day becomes when its re-fetched source fails to parse or fails a blocking check
    (``HEDGEGRID_FAILED_REPUBLICATION``): ``keep`` the published version (default) or ``withdraw`` it."""
    value = os.environ.get("HEDGEGRID_FAILED_REPUBLICATION", "keep")
    if value not in FAILED_REPUBLICATION_POLICIES:
        raise ValueError(f"HEDGEGRID_FAILED_REPUBLICATION={value!r}; expected one of {FAILED_REPUBLICATION_POLICIES}")
    return cast(FailedRepublication, value)


def accepted_findings_file() -> Path | None:
    """Findings an operator accepted for specific source days (``HEDGEGRID_ACCEPTED_FINDINGS_FILE``); None: the
    data store's ``accepted_findings.toml``."""
    explicit = os.environ.get("HEDGEGRID_ACCEPTED_FINDINGS_FILE")
    return Path(explicit).absolute() if explicit else None


def backfill_days_per_run() -> int:
    """Partitions one backfill run covers at most (``HEDGEGRID_BACKFILL_DAYS_PER_RUN``, default 12)."""
    value = int(os.environ.get("HEDGEGRID_BACKFILL_DAYS_PER_RUN", "12"))
    if value < 1:
        raise ValueError(f"HEDGEGRID_BACKFILL_DAYS_PER_RUN={value}; expected at least 1")
    return value
