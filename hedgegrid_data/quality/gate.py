"""The catalog gate: blocking verdicts recorded for a day keep that dataset's day out of the catalog."""

from __future__ import annotations

import datetime as dt

from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.markets import Market
from hedgegrid_data.quality.findings import Verdict, blocking, read_verdicts
from hedgegrid_data.store import DataStore

RECONCILIATION = "reconciliation"


def blocking_verdicts(store: DataStore, market: Market, symbol: str, day: dt.date, dataset: str) -> list[Verdict]:
    """The dataset's own blocking verdicts for the day, and the day's failed reconciliation."""
    found = []
    for source in (dataset, RECONCILIATION):
        path = store.quality_file(market, source, symbol, day)
        if path.exists():
            found += blocking(read_verdicts(path))
    return found


def refuse_blocked(store: DataStore, market: Market, symbol: str, day: dt.date, dataset: str, what: str) -> None:
    failed = blocking_verdicts(store, market, symbol, day, dataset)
    if failed:
        raise HedgegridDataError(
            f"{what}: not published to the catalog, blocking checks failed: "
            + "; ".join(f"{v.check}: {v.summary}" for v in failed)
        )
