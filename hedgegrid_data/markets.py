"""Binance market identity: archive paths, CSV layouts and time-unit rules for spot, USD-M and COIN-M.

Everything that differs between the three markets lives here, so that no other module has to
spell out a path prefix, a column list or the 2025 microsecond switch again.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class TimeUnit(enum.Enum):
    """Unit of the integer timestamps in an archive CSV."""

    MILLISECONDS = "ms"
    MICROSECONDS = "us"

    @property
    def nanos(self) -> int:
        return 1_000_000 if self is TimeUnit.MILLISECONDS else 1_000

    @property
    def digits(self) -> int:
        """Number of decimal digits of an epoch timestamp in this unit (valid 2001-09-09 .. 2286)."""
        return 13 if self is TimeUnit.MILLISECONDS else 16


SPOT_MICROSECONDS_FROM = dt.date(2025, 1, 1)


class Market(enum.Enum):
    """A Binance market; the value is the short name used in asset keys, groups and local paths."""

    SPOT = "spot"
    USDM = "um"
    COINM = "cm"

    @property
    def archive_prefix(self) -> str:
        return {"spot": "data/spot", "um": "data/futures/um", "cm": "data/futures/cm"}[self.value]

    @property
    def trades_columns(self) -> tuple[str, ...]:
        """Column names of a trades CSV of this market, in file order (the archive's own names)."""
        if self is Market.SPOT:
            return ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
        if self is Market.USDM:
            return ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
        return ("id", "price", "qty", "base_qty", "time", "is_buyer_maker")

    @property
    def agg_trades_columns(self) -> tuple[str, ...]:
        """Column names of an aggTrades CSV of this market, in file order."""
        columns = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
                   "is_buyer_maker")
        return (*columns, "is_best_match") if self is Market.SPOT else columns

    @property
    def trades_notional_column(self) -> str:
        """COIN-M quantities are contracts and its notional column is in the base asset."""
        return "base_qty" if self is Market.COINM else "quote_qty"

    def time_unit_for(self, day: dt.date) -> TimeUnit:
        """The unit the archive uses for trades/aggTrades/klines of this market on ``day``."""
        if self is Market.SPOT and day >= SPOT_MICROSECONDS_FROM:
            return TimeUnit.MICROSECONDS
        return TimeUnit.MILLISECONDS


KLINE_LIKE_TYPES = ("klines", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines")


FUTURES_MARKETS = (Market.USDM, Market.COINM)


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
        return f"{self.market.archive_prefix}/{cadence}/{self.data_type}/{folder}/{self.file_name}"

    @property
    def checksum_key(self) -> str:
        return f"{self.key}.CHECKSUM"

    @property
    def csv_name(self) -> str:
        return self.file_name[: -len(".zip")] + ".csv"


def day_bounds_ns(day: dt.date) -> tuple[int, int]:
    """First and last nanosecond of a UTC day."""
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    return start, start + 86_400 * 10**9 - 1


def utc_text(ns: int | None) -> str:
    """Epoch nanoseconds as ISO-8601 UTC with all nine decimals; empty for None."""
    if ns is None:
        return ""
    seconds, rest = divmod(ns, 10**9)
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{rest:09d}Z"
