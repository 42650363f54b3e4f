"""Where each layer keeps its files under ``HEDGEGRID_DATA_DIR``: raw source files, normalized tables, quality
verdicts, staged day files and the catalog.

Every path below the raw layer is keyed by source, market and dataset, so two sources of one venue and symbol
never write the same file; only the catalog is shared, and one declared feed publishes each series in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataStore:
    root: Path

    @property
    def raw(self) -> Path:
        """Verified source files: the Binance archive in its own key layout (``data/…``), other sources under
        ``raw/<source>/``."""
        return self.root / "raw"

    @property
    def catalog(self) -> Path:
        """The NautilusTrader ParquetDataCatalog root."""
        return self.root / "catalog"

    @property
    def staging(self) -> Path:
        """Every feed's staged catalog day files (``staging_root`` is one feed's)."""
        return self.root / "staging"

    def staging_root(self, source: str, market: str, dataset: str) -> Path:
        """Catalog day files written and verified, not yet promoted into the catalog (the catalog's layout)."""
        return self.staging / source / market / dataset / "catalog"

    def normalized_file(self, source: str, market: str, dataset: str, symbol: str, day: dt.date) -> Path:
        return self.root / "normalized" / source / market / dataset / symbol / f"{day.isoformat()}.parquet"

    def quality_directory(self, source: str, market: str, dataset: str) -> Path:
        return self.root / "quality" / source / market / dataset

    def quality_file(self, source: str, market: str, dataset: str, symbol: str, day: dt.date) -> Path:
        """The day's quality verdicts (JSON), written before anything reaches the catalog."""
        return self.quality_directory(source, market, dataset) / symbol / f"{day.isoformat()}.json"
