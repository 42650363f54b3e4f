"""The Dagster resource of the data store every asset writes into (``HEDGEGRID_DATA_DIR``)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from hedgegrid_data import settings
from hedgegrid_data.store import DataStore


class DataStoreResource(ConfigurableResource):
    """Root of everything written (``HEDGEGRID_DATA_DIR``)."""

    data_dir: str

    @property
    def store(self) -> DataStore:
        return DataStore(Path(self.data_dir))


def default_data_store() -> DataStoreResource:
    return DataStoreResource(data_dir=str(settings.data_dir()))
