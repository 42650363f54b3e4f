"""Rolling quality summaries from the day reports kept in the data store, one per market, dataset and symbol."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.catalog.integrity import missing_days
from hedgegrid_data.quality.report import rolling_summary, summary_markdown
from hedgegrid_data.store import DataStore
from hedgegrid_data.venues.binance import Market

# symbol → the catalog series (data class, identifier) a dataset's days land in
CatalogSeries = Callable[[str], tuple[type, str]]


@dataclass(frozen=True)
class SymbolSummary:
    summary: dict
    markdown: str
    json_path: Path
    markdown_path: Path


def write_quality_summaries(store: DataStore, market: Market, dataset: str, days: int = 30,
                            catalog_series: CatalogSeries | None = None) -> dict[str, SymbolSummary]:
    """Summaries of the last ``days`` reports of each symbol, written as ``summary.json`` and ``summary.md``.

    With ``catalog_series`` the summary also lists the days of its range missing from that catalog series.
    """
    root = store.root / "quality" / "binance" / market.value / dataset
    summaries = {}
    for directory in sorted(p for p in root.glob("*") if p.is_dir()) if root.exists() else []:
        reports = [json.loads(p.read_text()) for p in sorted(directory.glob("*.report.json"))]
        if not reports:
            continue
        catalog_missing = None
        if catalog_series is not None:
            catalog_missing = partial(missing_days, store.catalog, *catalog_series(directory.name))
        summary = rolling_summary(reports, days, catalog_missing)
        markdown = summary_markdown(f"{market.value} {dataset} {directory.name}", summary, reports)
        json_path, md_path = directory / "summary.json", directory / "summary.md"
        atomic_write_bytes(json_path, json.dumps(summary, indent=2).encode())
        atomic_write_bytes(md_path, markdown.encode())
        summaries[directory.name] = SymbolSummary(summary, markdown, json_path, md_path)
    return summaries
