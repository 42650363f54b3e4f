"""Partitions, defined once: UTC days × configured symbols.

Keys read ``<date>|<symbol>`` (Dagster orders dimensions by name), e.g. ``2024-01-02|BTCUSDT``. Feeds of the
same first day and symbols share one definition object.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache

from dagster import DailyPartitionsDefinition, MultiPartitionKey, MultiPartitionsDefinition, StaticPartitionsDefinition


def day_symbol_partitions(start_date: str, symbols: Iterable[str]) -> MultiPartitionsDefinition:
    return _day_symbol_partitions(start_date, tuple(sorted(symbols)))


@cache
def _day_symbol_partitions(start_date: str, symbols: tuple[str, ...]) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition(start_date=start_date, timezone="UTC"),
            "symbol": StaticPartitionsDefinition(list(symbols)),
        }
    )


def day_and_symbol(partition_key: MultiPartitionKey | str) -> tuple[dt.date, str]:
    if not isinstance(partition_key, MultiPartitionKey):
        date_key, symbol = str(partition_key).split("|")
    else:
        date_key, symbol = partition_key.keys_by_dimension["date"], partition_key.keys_by_dimension["symbol"]
    return dt.date.fromisoformat(date_key), symbol
