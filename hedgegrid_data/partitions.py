"""Partitions, defined once: UTC days × configured symbols, one definition per market.

Keys read ``<date>|<symbol>`` (Dagster orders dimensions by name), e.g. ``2024-01-02|BTCUSDT``.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from dagster import (
    DailyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from hedgegrid_data.sources.binance_archive.layout import ARCHIVE_START
from hedgegrid_data.venues.binance import Market
from hedgegrid_data.venues.symbols import symbol_universe


@cache
def daily_symbol_partitions(market: Market) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition(start_date=ARCHIVE_START[market], timezone="UTC"),
            "symbol": StaticPartitionsDefinition(sorted(symbol_universe()[market])),
        }
    )


def day_and_symbol(partition_key: MultiPartitionKey | str) -> tuple[dt.date, str]:
    if not isinstance(partition_key, MultiPartitionKey):
        date_key, symbol = str(partition_key).split("|")
    else:
        date_key, symbol = partition_key.keys_by_dimension["date"], partition_key.keys_by_dimension["symbol"]
    return dt.date.fromisoformat(date_key), symbol
