"""The canonical bars table: what every bar source produces, and what the ``Bar`` and ``MarkPriceUpdate`` writers,
the OHLCV checks and the reconciliation read.

Columns ``open_time`` and ``close_time`` (ns, UTC; the close is the last instant of the bar), ``open``, ``high``,
``low``, ``close`` (exact ``decimal128``) and, for traded bars, a volume column. Mark prices are the ``close`` of
mark-price bars at their ``close_time``. Intervals are those that divide a UTC day.
"""

from __future__ import annotations

PRICE_COLUMNS = ("open", "high", "low", "close")

# Bar intervals that divide a UTC day (Binance publishes each as daily files; 3d, 1w, 1mo only monthly).
INTERVAL_SECONDS = {
    "1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1_800, "1h": 3_600, "2h": 7_200, "4h": 14_400,
    "6h": 21_600, "8h": 28_800, "12h": 43_200, "1d": 86_400,
}


def interval_ns(interval: str) -> int:
    try:
        return INTERVAL_SECONDS[interval] * 10**9
    except KeyError:
        raise ValueError(f"{interval!r} is not a daily kline interval, one of {list(INTERVAL_SECONDS)}") from None
