"""The documented Nautilus path, as the yardstick our catalog must equal and outrun.

``pandas.read_csv`` → ``TradeTickDataWrangler`` → ``ParquetDataCatalog.write_data``, exactly as
Nautilus' own examples load Binance trades.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.wranglers import TradeTickDataWrangler

from hedgegrid_data.epochs import TimeUnit
from hedgegrid_data.sources.binance_archive.archive_csv import has_header
from hedgegrid_data.sources.binance_archive.layout import ArchiveFile, trades_columns


def write_trades_documented_path(zip_path: Path, archive_file: ArchiveFile, instrument: Instrument,
                                 catalog_root: Path, time_unit: TimeUnit) -> int:
    """Load a Binance trades zip the documented way into ``catalog_root``; returns the tick count."""
    columns = list(trades_columns(archive_file.market))
    with zipfile.ZipFile(zip_path) as zf, zf.open(zf.namelist()[0]) as member:
        header = has_header(member.read(1))
    frame = pd.read_csv(zip_path, header=0 if header else None, names=columns, compression="zip")
    frame = frame.rename(columns={"id": "trade_id", "qty": "quantity", "is_buyer_maker": "buyer_maker"})
    frame["buyer_maker"] = frame["buyer_maker"].astype(str).str.lower() == "true"
    frame.index = pd.to_datetime(frame["time"], unit=time_unit.value, utc=True)
    ticks = TradeTickDataWrangler(instrument).process(frame)
    catalog = ParquetDataCatalog(str(catalog_root))
    catalog.write_data([instrument])
    catalog.write_data(ticks)
    return len(ticks)
