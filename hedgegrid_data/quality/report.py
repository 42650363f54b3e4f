"""Quality reports: a score per partition, one JSON and one Markdown table per day, and a rolling summary.

Score: 0 when a blocking check fails (the day is kept out of the catalog), otherwise the share of
checks passed, each WARN finding costing its share. Completeness is the share of the UTC day
covered by trading (minus uncovered edges and reported silences); validity is the share of checks
passed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.quality.findings import Verdict

DAY_SECONDS = 86_400


def completeness(verdicts: list[Verdict]) -> float:
    by_check = {v.check: v for v in verdicts}
    uncovered = 0.0
    if "day_coverage" in by_check:
        meta = by_check["day_coverage"].metadata
        uncovered += meta["seconds_uncovered_at_start"] + meta["seconds_uncovered_at_end"]
    if "trade_silences" in by_check:
        uncovered += sum(w["seconds"] for w in by_check["trade_silences"].metadata.get("windows", []))
    return max(0.0, 1.0 - uncovered / DAY_SECONDS)


def day_report(partition: str, verdicts: list[Verdict]) -> dict:
    passed = sum(v.passed for v in verdicts)
    validity = passed / len(verdicts) if verdicts else 0.0
    blocked = any(v.blocks for v in verdicts)
    return {
        "partition": partition,
        "quality_score": 0.0 if blocked else round(validity, 4),
        "completeness": round(completeness(verdicts), 6),
        "validity": round(validity, 4),
        "blocked": blocked,
        "findings": {v.check: v.summary for v in verdicts if not v.passed},
        "checks": [{"check": v.check, "passed": v.passed, "severity": v.severity.value, "summary": v.summary}
                   for v in verdicts],
    }


def day_markdown(report: dict) -> str:
    lines = [
        f"# Quality {report['partition']}",
        "",
        f"score {report['quality_score']:.2f} · completeness {report['completeness']:.4f} · "
        f"validity {report['validity']:.2f}" + (" · **blocked from the catalog**" if report["blocked"] else ""),
        "",
        "| check | severity | result | summary |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c['check']} | {c['severity']} | {'pass' if c['passed'] else 'FAIL'} | {c['summary']} |"
              for c in report["checks"]]
    return "\n".join(lines) + "\n"


def write_day_report(directory: Path, day: dt.date, report: dict) -> tuple[Path, Path]:
    json_path, md_path = directory / f"{day.isoformat()}.report.json", directory / f"{day.isoformat()}.report.md"
    atomic_write_bytes(json_path, json.dumps(report, indent=2).encode())
    atomic_write_bytes(md_path, day_markdown(report).encode())
    return json_path, md_path


def rolling_summary(reports: list[dict], days: int = 30) -> dict:
    """Completeness, validity and findings by kind over the most recent ``days`` reports."""
    recent = sorted(reports, key=lambda r: r["partition"])[-days:]
    findings = Counter(kind for r in recent for kind in r["findings"])
    n = len(recent)
    return {
        "days": n,
        "first": recent[0]["partition"] if recent else None,
        "last": recent[-1]["partition"] if recent else None,
        "mean_quality_score": round(sum(r["quality_score"] for r in recent) / n, 4) if n else None,
        "mean_completeness": round(sum(r["completeness"] for r in recent) / n, 6) if n else None,
        "mean_validity": round(sum(r["validity"] for r in recent) / n, 4) if n else None,
        "blocked_days": [r["partition"] for r in recent if r["blocked"]],
        "findings_by_kind": dict(sorted(findings.items())),
    }


def summary_markdown(title: str, summary: dict, reports: list[dict]) -> str:
    lines = [f"# {title}", "", f"{summary['days']} days, {summary['first']} … {summary['last']}; "
             f"mean score {summary['mean_quality_score']}, completeness {summary['mean_completeness']}, "
             f"validity {summary['mean_validity']}", "", "| day | score | completeness | validity | findings |",
             "|---|---|---|---|---|"]
    for r in sorted(reports, key=lambda r: r["partition"])[-summary["days"]:]:
        lines.append(f"| {r['partition']} | {r['quality_score']:.2f} | {r['completeness']:.4f} | "
                     f"{r['validity']:.2f} | {', '.join(r['findings']) or '—'} |")
    lines += ["", "| finding | days |", "|---|---|"]
    lines += [f"| {kind} | {count} |" for kind, count in summary["findings_by_kind"].items()]
    return "\n".join(lines) + "\n"
