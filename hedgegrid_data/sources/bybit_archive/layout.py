"""Where Bybit's archive keeps a day of trades, and where the raw store keeps it.

- trading (linear USDT/USDC perpetuals and futures, inverse perpetuals and futures):
  ``trading/{SYM}/{SYM}{YYYY-MM-DD}.csv.gz`` (no separator before the date);
- spot, daily: ``spot/{SYM}/{SYM}_{YYYY-MM-DD}.csv.gz``.

The archive's HTML index pages are incomplete, so a file is asked for by its key: 404 means "not published",
never "no trades". Verified files land under ``raw/bybit/`` in the same key layout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hedgegrid_data.venues.bybit import BybitMarket

SOURCE = "bybit"
# The first day each market's archive has files for (the earliest symbols'; later listings start later and their
# earlier days are "not published").
ARCHIVE_START = {
    BybitMarket.INVERSE: "2019-10-01",
    BybitMarket.LINEAR: "2020-03-25",
    BybitMarket.SPOT: "2022-11-10",
}


@dataclass(frozen=True)
class BybitFile:
    """One day of one symbol's trades in the archive."""

    market: BybitMarket
    symbol: str
    day: dt.date

    @property
    def folder(self) -> str:
        return "spot" if self.market is BybitMarket.SPOT else "trading"

    @property
    def file_name(self) -> str:
        separator = "_" if self.market is BybitMarket.SPOT else ""
        return f"{self.symbol}{separator}{self.day.isoformat()}.csv.gz"

    @property
    def key(self) -> str:
        return f"{self.folder}/{self.symbol}/{self.file_name}"
