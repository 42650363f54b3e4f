"""The archive's layout: where each file of a market lives, the columns of its CSVs and their time units.

Everything that differs between the archive's three markets (spot, USD-M, COIN-M) as *files* lives here,
so that no other module spells out a path prefix, a column list or the 2025 microsecond switch again.
The markets themselves, as trading identities, are the venue's (``venues/binance.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.venues.binance import Market

SOURCE = "binance"  # the source's name in store paths (normalized/, quality/): kept from the first layout

SPOT_MICROSECONDS_FROM = dt.date(2025, 1, 1)

# The first day the archive has trades for any symbol of each market.
ARCHIVE_START = {
    Market.SPOT: "2017-08-17",
    Market.USDM: "2019-09-08",
    Market.COINM: "2020-08-11",
}

_ARCHIVE_PREFIX = {Market.SPOT: "data/spot", Market.USDM: "data/futures/um", Market.COINM: "data/futures/cm"}


def archive_prefix(market: Market) -> str:
    return _ARCHIVE_PREFIX[market]


def trades_columns(market: Market) -> tuple[str, ...]:
    """Column names of a trades CSV of this market, in file order (the archive's own names)."""
    if market is Market.SPOT:
        return ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
    if market is Market.USDM:
        return ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
    return ("id", "price", "qty", "base_qty", "time", "is_buyer_maker")


def agg_trades_columns(market: Market) -> tuple[str, ...]:
    """Column names of an aggTrades CSV of this market, in file order."""
    columns = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
               "is_buyer_maker")
    return (*columns, "is_best_match") if market is Market.SPOT else columns


def trades_notional_column(market: Market) -> str:
    """COIN-M quantities are contracts and its notional column is in the base asset."""
    return "base_qty" if market is Market.COINM else "quote_qty"


def time_unit_for(market: Market, day: dt.date) -> TimeUnit:
    """The unit the archive uses for trades/aggTrades/klines of this market on ``day``."""
    if market is Market.SPOT and day >= SPOT_MICROSECONDS_FROM:
        return TimeUnit.MICROSECONDS
    return TimeUnit.MILLISECONDS


KLINE_LIKE_TYPES = ("klines", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines")


@dataclass(frozen=True)
class ArchiveFile:
    """One archive file: market, data type, symbol, period (a day, or a month when ``monthly``), kline interval.

    For monthly files ``day`` is any day of the month; kline-like types need ``interval``.
    """

    market: Market
    data_type: str
    symbol: str
    day: dt.date
    interval: str | None = None
    monthly: bool = False

    def __post_init__(self) -> None:
        if (self.data_type in KLINE_LIKE_TYPES) != (self.interval is not None):
            raise ValueError(f"{self.data_type}: an interval is required exactly for kline-like types")

    @property
    def period(self) -> str:
        return self.day.strftime("%Y-%m") if self.monthly else self.day.isoformat()

    @property
    def file_name(self) -> str:
        return f"{self.symbol}-{self.interval or self.data_type}-{self.period}.zip"

    @property
    def key(self) -> str:
        """The archive key, e.g. ``data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2024-01-02.zip``."""
        folder = f"{self.symbol}/{self.interval}" if self.interval else self.symbol
        cadence = "monthly" if self.monthly else "daily"
        return f"{archive_prefix(self.market)}/{cadence}/{self.data_type}/{folder}/{self.file_name}"

    @property
    def checksum_key(self) -> str:
        return f"{self.key}.CHECKSUM"

    @property
    def csv_name(self) -> str:
        return self.file_name[: -len(".zip")] + ".csv"


def folder_of(key: str) -> str:
    """``data/.../BTCUSDT/BTCUSDT-trades-2024-01-02.zip`` → ``data/.../BTCUSDT/``."""
    return key.rsplit("/", 1)[0] + "/"
