"""Where each layer keeps its files under ``HEDGEGRID_DATA_DIR``: raw archive mirror, normalized tables, catalog."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from hedgegrid_data.venues.binance import Market


@dataclass(frozen=True)
class DataStore:
    root: Path

    @property
    def raw(self) -> Path:
        """Verified archive files in the archive's own key layout."""
        return self.root / "raw"

    @property
    def catalog(self) -> Path:
        """The NautilusTrader ParquetDataCatalog root."""
        return self.root / "catalog"

    @property
    def staging(self) -> Path:
        """Catalog day files written and verified, not yet promoted into the catalog (same layout)."""
        return self.root / "staging" / "catalog"

    def normalized_file(self, market: Market, dataset: str, symbol: str, day: dt.date) -> Path:
        return self.root / "normalized" / "binance" / market.value / dataset / symbol / f"{day.isoformat()}.parquet"

    def quality_file(self, market: Market, dataset: str, symbol: str, day: dt.date) -> Path:
        """The day's quality verdicts (JSON), written before anything reaches the catalog."""
        return self.root / "quality" / "binance" / market.value / dataset / symbol / f"{day.isoformat()}.json"
