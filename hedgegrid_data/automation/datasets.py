"""A daily archive dataset as automation sees it: its assets, partitions and archive files per partition.

Automation never needs the asset objects themselves (``Definitions`` gets those once), only their keys,
their ``date`` × ``symbol`` partitions and which archive file(s) one partition is built from. Each dataset
of the project has a constructor here (trades, aggTrades, klines, mark/index/premium klines, funding).

A partition counts as published when every one of its files is, and is rebuilt when any of them changes.
Funding rates come in month files: their days are due when the month has ended, so they have no nightly
schedule and their availability sensor watches two months of days.
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

from hedgegrid_data.automation.planning import day_end
from hedgegrid_data.sources.binance_archive.funding_day import funding_archive_file
from hedgegrid_data.sources.binance_archive.klines_day import (
    BASE_INTERVAL,
    kline_archive_file,
)
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile
from hedgegrid_data.venues.binance import Market

ArchiveFileBuilder = Callable[[dt.date, str], ArchiveFile]
ArchiveFilesBuilder = Callable[[dt.date, str], Sequence[ArchiveFile]]
Due = Callable[[dt.date], dt.datetime]

_SYMBOL_PLACEHOLDER = "HEDGEGRIDSYMBOL"  # survives archive_symbol (no "_")


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
    time of the nightly run, after the archive usually publishes; ``nightly=False`` means no nightly run.
    ``due(day)`` is when the day's files can be expected (the end of the period a file covers);
    ``window_days`` overrides the settings' availability window.
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
    nightly: bool = True
    due: Due = day_end
    window_days: int | None = None

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
        nightly: bool = True,
        due: Due = day_end,
        window_days: int | None = None,
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
            nightly=nightly,
            due=due,
            window_days=window_days,
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

    @property
    def archive_symbols(self) -> list[str]:
        """The archive's folder names for the configured symbols (COIN-M index klines: the pair, ``BTCUSD``)."""
        return sorted({self._first_file(self.start_date, s).symbol for s in self.symbols})

    def partition_key(self, day: dt.date, symbol: str) -> str:
        return str(MultiPartitionKey({"date": day.isoformat(), "symbol": symbol}))


def month_end(day: dt.date) -> dt.datetime:
    """The end of ``day``'s UTC month: when a monthly archive file covering it can be published."""
    first_of_next = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return day_end(first_of_next - dt.timedelta(days=1))


def binance_trades_dataset(market: Market, assets: Sequence[AssetsDefinition]) -> DailyDataset:
    """The trades group of ``market`` (``build_binance_trades_assets(market)``)."""
    return DailyDataset.from_assets(f"binance_{market.value}_trades", market, "trades", assets)


def binance_agg_trades_dataset(market: Market, assets: Sequence[AssetsDefinition]) -> DailyDataset:
    """The aggTrades group of ``market`` (``build_binance_agg_trades_assets(market)``)."""
    return DailyDataset.from_assets(f"binance_{market.value}_agg_trades", market, "aggTrades", assets)


def binance_klines_dataset(market: Market, assets: Sequence[AssetsDefinition],
                           intervals: Sequence[str]) -> DailyDataset:
    """The klines group of ``market``: one file per downloaded interval and day."""
    return DailyDataset.from_assets(
        f"binance_{market.value}_klines", market, "klines", assets,
        archive_files=lambda day, symbol: [kline_archive_file(market, "klines", symbol, day, i)
                                           for i in dict.fromkeys(intervals)])


def binance_price_index_dataset(market: Market, data_type: str, group: str, assets: Sequence[AssetsDefinition],
                                interval: str = BASE_INTERVAL) -> DailyDataset:
    """A mark, index or premium-index klines group (``group``) of a futures market."""
    return DailyDataset.from_assets(
        group, market, data_type, assets,
        archive_file=lambda day, symbol: kline_archive_file(market, data_type, symbol, day, interval))


FUNDING_WINDOW_DAYS = 62  # the month whose file was last published, whatever day of the next month it appears


def binance_funding_dataset(market: Market, assets: Sequence[AssetsDefinition]) -> DailyDataset:
    """The funding-rate group of a futures market: every day of a month comes from the month's file."""
    return DailyDataset.from_assets(
        f"binance_{market.value}_funding_rate", market, "fundingRate", assets,
        archive_file=lambda day, symbol: funding_archive_file(market, symbol, day),
        nightly=False, due=month_end, window_days=FUNDING_WINDOW_DAYS)
