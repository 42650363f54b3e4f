"""Dagster resources: the archive to download from and the data store to write into."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from hedgegrid_data import settings
from hedgegrid_data.sources.binance_archive.download import BinanceArchive, RetryPolicy
from hedgegrid_data.store import DataStore


class DataStoreResource(ConfigurableResource):
    """Root of everything written (``HEDGEGRID_DATA_DIR``)."""

    data_dir: str

    @property
    def store(self) -> DataStore:
        return DataStore(Path(self.data_dir))


class BinanceArchiveResource(ConfigurableResource):
    """Binance archive base: an http(s) URL or a local mirror directory (``HEDGEGRID_BINANCE_URL``)."""

    base_url: str = settings.DEFAULT_BINANCE_URL
    download_attempts: int = 5

    def open(self, raw_root: Path) -> BinanceArchive:
        return BinanceArchive(self.base_url, raw_root, retry=RetryPolicy(attempts=self.download_attempts))


class TradeSourceResource(ConfigurableResource):
    """Which archive dataset the catalog's ``TradeTick``s come from: ``trades`` (default) or ``aggTrades``.

    Both write the same day file of the instrument, so only the chosen one publishes.
    """

    source: settings.TradeSource = "trades"


def default_resources() -> dict[str, ConfigurableResource]:
    return {
        "data_store": DataStoreResource(data_dir=str(settings.data_dir())),
        "binance_archive": BinanceArchiveResource(base_url=settings.binance_url()),
        "trade_source": TradeSourceResource(source=settings.trade_source()),
    }
