"""The catalog gate: blocking verdicts recorded for a day keep that dataset's day out of the catalog.

A dataset's own verdicts block it; a failed reconciliation blocks the datasets it compared.
"""

from __future__ import annotations

import datetime as dt

from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.quality.findings import Verdict, blocking, read_verdicts
from hedgegrid_data.store import DataStore
from hedgegrid_data.venues.binance import Market

RECONCILIATION = "reconciliation"

# The datasets (archive data types) each reconciliation check judges: its failure keeps their day out.
RECONCILED_DATASETS: dict[str, frozenset[str]] = {
    "klines_match_trades": frozenset({"trades", "klines"}),
    "agg_trades_match_trades": frozenset({"trades", "aggTrades"}),
    "funding_has_mark_price": frozenset({"fundingRate", "markPriceKlines"}),
}


def judged_datasets(verdict: Verdict) -> frozenset[str] | None:
    """The datasets a reconciliation verdict is about; None (every dataset) for a check not listed."""
    return RECONCILED_DATASETS.get(verdict.check)


def blocking_verdicts(store: DataStore, market: Market, symbol: str, day: dt.date, dataset: str) -> list[Verdict]:
    """The dataset's own blocking verdicts for the day, and the day's failed reconciliations that judge it."""
    found = []
    own = store.quality_file(market, dataset, symbol, day)
    if own.exists():
        found += blocking(read_verdicts(own))
    reconciled = store.quality_file(market, RECONCILIATION, symbol, day)
    if reconciled.exists():
        found += [v for v in blocking(read_verdicts(reconciled))
                  if (judged := judged_datasets(v)) is None or dataset in judged]
    return found


def refuse_blocked(store: DataStore, market: Market, symbol: str, day: dt.date, dataset: str, what: str) -> None:
    failed = blocking_verdicts(store, market, symbol, day, dataset)
    if failed:
        raise HedgegridDataError(
            f"{what}: not published to the catalog, blocking checks failed: "
            + "; ".join(f"{v.check}: {v.summary}" for v in failed)
        )
