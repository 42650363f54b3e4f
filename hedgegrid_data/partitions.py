"""Partitions, defined once: UTC days × configured symbols.

Keys read ``<date>|<symbol>`` (Dagster orders dimensions by name), e.g. ``2024-01-02|BTCUSDT``. Feeds of the
same first day and symbols share one definition object.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache

from dagster import DailyPartitionsDefinition, MultiPartitionKey, MultiPartitionsDefinition, StaticPartitionsDefinition

from hedgegrid_data.venues.symbols import valid_symbol


def day_symbol_partitions(start_date: str, symbols: Iterable[str]) -> MultiPartitionsDefinition:
    return _day_symbol_partitions(start_date, tuple(sorted(valid_symbol(s, "partition symbols") for s in symbols)))


@cache
def _day_symbol_partitions(start_date: str, symbols: tuple[str, ...]) -> MultiPartitionsDefinition:
    return MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition(start_date=start_date, timezone="UTC"),
            "symbol": StaticPartitionsDefinition(list(symbols)),
        }
    )


def day_and_symbol(partition_key: MultiPartitionKey | str) -> tuple[dt.date, str]:
    """The day and symbol of a partition key; a key that is not ``<date>|<symbol>`` is an error."""
    if not isinstance(partition_key, MultiPartitionKey):
        parts = str(partition_key).split("|")
        if len(parts) != 2:
            raise ValueError(f"partition key {str(partition_key)!r} is not '<date>|<symbol>'")
        date_key, symbol = parts
    else:
        date_key, symbol = partition_key.keys_by_dimension["date"], partition_key.keys_by_dimension["symbol"]
    return dt.date.fromisoformat(date_key), valid_symbol(symbol, f"partition key {str(partition_key)!r}")
