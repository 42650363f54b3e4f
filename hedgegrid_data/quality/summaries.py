"""Rolling quality summaries from the day reports kept in the data store, one per feed and symbol."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.catalog.integrity import missing_days
from hedgegrid_data.quality.report import rolling_summary, summary_markdown

# symbol → the catalog series (an object with ``data_cls`` and ``identifier``) a dataset's days land in
CatalogSeries = Callable[[str], Any]


@dataclass(frozen=True)
class SymbolSummary:
    summary: dict
    markdown: str
    json_path: Path
    markdown_path: Path


def write_quality_summaries(directory: Path, catalog_root: Path, title: str, days: int = 30,
                            catalog_series: CatalogSeries | None = None) -> dict[str, SymbolSummary]:
    """Summaries of the last ``days`` reports of each symbol folder of ``directory``, written there as
    ``summary.json`` and ``summary.md``.

    With ``catalog_series`` the summary also lists the days of its range missing from that catalog series.
    """
    summaries = {}
    for symbol_dir in sorted(p for p in directory.glob("*") if p.is_dir()) if directory.exists() else []:
        reports = [json.loads(p.read_text()) for p in sorted(symbol_dir.glob("*.report.json"))]
        if not reports:
            continue
        catalog_missing = None
        if catalog_series is not None:
            series = catalog_series(symbol_dir.name)
            catalog_missing = partial(missing_days, catalog_root, series.data_cls, series.identifier)
        summary = rolling_summary(reports, days, catalog_missing)
        markdown = summary_markdown(f"{title} {symbol_dir.name}", summary, reports)
        json_path, md_path = symbol_dir / "summary.json", symbol_dir / "summary.md"
        atomic_write_bytes(json_path, json.dumps(summary, indent=2).encode())
        atomic_write_bytes(md_path, markdown.encode())
        summaries[symbol_dir.name] = SymbolSummary(summary, markdown, json_path, md_path)
    return summaries
