"""A daily archive dataset as automation sees it: its assets, partitions and archive files per partition.

Automation never needs the asset objects themselves (``Definitions`` gets those once), only their keys,
their ``date`` × ``symbol`` partitions and which archive file(s) one partition is built from. Adding
aggTrades or klines is one ``DailyDataset`` each::

    DailyDataset.from_assets("binance_um_agg_trades", Market.USDM, "aggTrades", build_binance_agg_trades_assets(m))
    DailyDataset.from_assets(
        "binance_um_klines", Market.USDM, "klines", klines_assets,
        archive_files=lambda day, symbol: [kline_archive_file(Market.USDM, "klines", symbol, day, i)
                                           for i in intervals])

A partition counts as published when every one of its files is, and is rebuilt when any of them changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dagster import (
    AssetKey,
    AssetsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from hedgegrid_data.markets import ArchiveFile, Market

ArchiveFileBuilder = Callable[[dt.date, str], ArchiveFile]
ArchiveFilesBuilder = Callable[[dt.date, str], Sequence[ArchiveFile]]

_SYMBOL_PLACEHOLDER = "__SYMBOL__"


def folder_of(key: str) -> str:
    """``data/.../BTCUSDT/BTCUSDT-trades-2024-01-02.zip`` → ``data/.../BTCUSDT/``."""
    return key.rsplit("/", 1)[0] + "/"


def symbol_folders(archive_file: ArchiveFileBuilder, day: dt.date) -> tuple[str, Callable[[str], str]]:
    """The listing prefix holding one folder per symbol, and the folder holding one symbol's files.

    ``data/futures/um/daily/trades/`` and ``data/futures/um/daily/trades/BTCUSDT/`` for trades;
    kline-like types add the interval folder (``.../klines/BTCUSDT/1m/``).
    """
    sample = archive_file(day, _SYMBOL_PLACEHOLDER).key
    root = sample[: sample.index(f"/{_SYMBOL_PLACEHOLDER}/") + 1]

    def folder(symbol: str) -> str:
        return folder_of(archive_file(day, symbol).key)

    return root, folder


def _is_day_symbol(partitions_def: object) -> bool:
    return isinstance(partitions_def, MultiPartitionsDefinition) and {
        d.name for d in partitions_def.partitions_defs} == {"date", "symbol"}


@dataclass(frozen=True)
class DailyDataset:
    """One asset group partitioned by UTC day × symbol, fed by daily archive file(s) per partition.

    ``raw_key`` is the download asset (its provenance sidecars are compared with the listing); ``final_key``
    is the asset whose materialization means "this day is done" (the catalog). ``schedule_at`` is the UTC
    time of the nightly run, after the archive usually publishes.
    """

    name: str
    market: Market
    data_type: str
    partitions_def: MultiPartitionsDefinition
    asset_keys: tuple[AssetKey, ...]
    raw_key: AssetKey
    final_key: AssetKey
    archive_files: ArchiveFilesBuilder
    schedule_at: dt.time = dt.time(9, 30)

    @classmethod
    def from_assets(
        cls,
        name: str,
        market: Market,
        data_type: str,
        assets: Sequence[AssetsDefinition],
        *,
        archive_file: ArchiveFileBuilder | None = None,
        archive_files: ArchiveFilesBuilder | None = None,
        raw_key: AssetKey | None = None,
        final_key: AssetKey | None = None,
        schedule_at: dt.time = dt.time(9, 30),
    ) -> DailyDataset:
        """From the group's assets in pipeline order (first = download, last = catalog unless named).

        Only the date × symbol partitioned assets take part; others in the group (e.g. an unpartitioned
        rolling report) are left to their own automation. Files default to one
        ``ArchiveFile(market, data_type, symbol, day)`` per partition.
        """
        daily = [a for a in assets if _is_day_symbol(a.partitions_def)]
        partitions = {a.partitions_def for a in daily}
        if len(partitions) != 1:
            raise ValueError(f"{name}: expected one date × symbol partitions definition among the assets, "
                             f"got {len(partitions)}")
        partitions_def = partitions.pop()
        assert isinstance(partitions_def, MultiPartitionsDefinition)
        if archive_file is not None and archive_files is not None:
            raise ValueError(f"{name}: give archive_file or archive_files, not both")
        single = archive_file or (lambda day, symbol: ArchiveFile(market, data_type, symbol, day))
        keys = tuple(key for a in daily for key in a.keys)
        return cls(
            name=name,
            market=market,
            data_type=data_type,
            partitions_def=partitions_def,
            asset_keys=keys,
            raw_key=raw_key or keys[0],
            final_key=final_key or keys[-1],
            archive_files=archive_files or (lambda day, symbol: [single(day, symbol)]),
            schedule_at=schedule_at,
        )

    @property
    def symbols(self) -> list[str]:
        return list(self.partitions_def.get_partitions_def_for_dimension("symbol").get_partition_keys())

    @property
    def start_date(self) -> dt.date:
        dates = self.partitions_def.get_partitions_def_for_dimension("date")
        assert isinstance(dates, TimeWindowPartitionsDefinition)
        return dates.start.date()

    def _first_file(self, day: dt.date, symbol: str) -> ArchiveFile:
        return self.archive_files(day, symbol)[0]

    @property
    def archive_root(self) -> str:
        """Listing prefix with one folder per symbol, e.g. ``data/futures/um/daily/trades/``."""
        return symbol_folders(self._first_file, self.start_date)[0]

    def symbol_folder(self, symbol: str) -> str:
        """The folder of the symbol's (first) file series, e.g. ``data/futures/um/daily/trades/BTCUSDT/``."""
        return symbol_folders(self._first_file, self.start_date)[1](symbol)

    def partition_key(self, day: dt.date, symbol: str) -> str:
        return str(MultiPartitionKey({"date": day.isoformat(), "symbol": symbol}))


def binance_trades_dataset(market: Market, assets: Sequence[AssetsDefinition]) -> DailyDataset:
    """The trades group of ``market`` (``build_binance_trades_assets(market)``)."""
    return DailyDataset.from_assets(f"binance_{market.value}_trades", market, "trades", assets)
