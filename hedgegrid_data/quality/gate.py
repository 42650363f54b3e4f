"""The catalog gate: blocking verdicts recorded for a day keep that dataset's day out of the catalog.

A dataset's own verdicts block it; a failed reconciliation blocks the datasets it compared.
"""

from __future__ import annotations

from pathlib import Path

from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.quality.findings import Verdict, blocking, read_verdicts

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


def blocking_verdicts(own: Path, reconciliation: Path, dataset: str) -> list[Verdict]:
    """The dataset's own blocking verdicts for a day (file ``own``), and the day's failed reconciliations
    (file ``reconciliation``) that judge it."""
    found = []
    if own.exists():
        found += blocking(read_verdicts(own))
    if reconciliation.exists():
        found += [v for v in blocking(read_verdicts(reconciliation))
                  if (judged := judged_datasets(v)) is None or dataset in judged]
    return found


def refuse_blocked(own: Path, reconciliation: Path, dataset: str, what: str) -> None:
    failed = blocking_verdicts(own, reconciliation, dataset)
    if failed:
        raise HedgegridDataError(
            f"{what}: not published to the catalog, blocking checks failed: "
            + "; ".join(f"{v.check}: {v.summary}" for v in failed)
        )
