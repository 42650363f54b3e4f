"""Instrument definitions in the catalog: one file per instrument id, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog.parquet import _timestamps_to_filename
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from hedgegrid_data.atomic import atomic_path
from hedgegrid_data.catalog.day_files import data_directory


def write_instrument(catalog_root: Path, instrument: Instrument) -> Path:
    """Write ``instrument`` as the only definition of its id (as ``write_data`` would lay it out)."""
    directory = data_directory(catalog_root, type(instrument), instrument.id.value)
    target = directory / _timestamps_to_filename(instrument.ts_init, instrument.ts_init)
    batch = ArrowSerializer.serialize_batch([instrument], data_cls=type(instrument))
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    for other in directory.glob("*.parquet"):
        if other != target:
            os.remove(other)
    return target
