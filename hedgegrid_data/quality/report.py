"""Quality reports: a score per partition, one JSON and one Markdown table per day, and a rolling summary.

Score: 0 when a blocking check fails (the day is kept out of the catalog), otherwise the share of
checks passed, each WARN finding costing its share. Validity is the share of checks passed.
Completeness is what the day holds of what it should: for trades, the share of the UTC day covered by
trading (minus uncovered edges and reported silences); for bars, the share of the day's expected bars
present; for funding, the share of the day's funding boundaries with an event; 0 for a file that did not parse.

A finding an operator accepted (``quality/acceptances.py``) counts as passed and is listed as accepted, with its
reason. A day whose rebuild failed records what became of its published version (``published_day``: kept or
withdrawn, ``feeds/republication.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.quality.findings import Verdict, write_verdicts

DAY_SECONDS = 86_400
# checks whose metadata counts what the day holds against what it should: (present, expected)
SHARE_OF_EXPECTED = {"bar_gaps": ("bars", "expected_bars"), "funding_schedule": ("events", "expected_events")}


def completeness(verdicts: list[Verdict]) -> float:
    by_check = {v.check: v for v in verdicts}
    if "schema_valid" in by_check and not by_check["schema_valid"].passed:
        return 0.0
    for check, (present, expected) in SHARE_OF_EXPECTED.items():
        if check in by_check:
            meta = by_check[check].metadata
            return meta[present] / meta[expected] if meta[expected] else 0.0
    uncovered = 0.0
    if "day_coverage" in by_check:
        meta = by_check["day_coverage"].metadata
        uncovered += meta["seconds_uncovered_at_start"] + meta["seconds_uncovered_at_end"]
    if "trade_silences" in by_check:
        uncovered += sum(w["seconds"] for w in by_check["trade_silences"].metadata.get("windows", []))
    return max(0.0, 1.0 - uncovered / DAY_SECONDS)


def day_report(partition: str, verdicts: list[Verdict], published_day: dict | None = None) -> dict:
    passed = sum(v.passed for v in verdicts)
    validity = passed / len(verdicts) if verdicts else 0.0
    blocked = any(v.blocks for v in verdicts)
    report = {
        "partition": partition,
        "quality_score": 0.0 if blocked else round(validity, 4),
        "completeness": round(completeness(verdicts), 6),
        "validity": round(validity, 4),
        "blocked": blocked,
        "findings": {v.check: v.summary for v in verdicts if not v.passed},
        "accepted": {v.check: v.metadata["accepted_reason"] for v in verdicts if v.metadata.get("accepted")},
        "checks": [{"check": v.check, "passed": v.passed, "severity": v.severity.value, "summary": v.summary,
                    **({"accepted": True} if v.metadata.get("accepted") else {})}
                   for v in verdicts],
    }
    if published_day is not None:
        report["published_day"] = published_day
    return report


def _result(check: dict) -> str:
    return "accepted" if check.get("accepted") else "pass" if check["passed"] else "FAIL"


def day_markdown(report: dict) -> str:
    lines = [
        f"# Quality {report['partition']}",
        "",
        f"score {report['quality_score']:.2f} · completeness {report['completeness']:.4f} · "
        f"validity {report['validity']:.2f}" + (" · **blocked from the catalog**" if report["blocked"] else ""),
        "",
    ]
    if "published_day" in report:
        lines += [f"**{report['published_day']['note']}**", ""]
    lines += ["| check | severity | result | summary |", "|---|---|---|---|"]
    lines += [f"| {c['check']} | {c['severity']} | {_result(c)} | {c['summary']} |" for c in report["checks"]]
    return "\n".join(lines) + "\n"


def write_day_report(directory: Path, day: dt.date, report: dict) -> tuple[Path, Path]:
    json_path, md_path = directory / f"{day.isoformat()}.report.json", directory / f"{day.isoformat()}.report.md"
    atomic_write_bytes(json_path, json.dumps(report, indent=2).encode())
    atomic_write_bytes(md_path, day_markdown(report).encode())
    return json_path, md_path


def write_day_quality(verdicts_path: Path, day: dt.date, symbol: str, verdicts: list[Verdict],
                      published_day: dict | None = None) -> dict:
    """Record a partition's verdicts (read by the catalog gate) and its day report beside them; returns the report."""
    write_verdicts(verdicts_path, verdicts)
    report = day_report(f"{day.isoformat()}|{symbol}", verdicts, published_day)
    write_day_report(verdicts_path.parent, day, report)
    return report


def read_day_report(verdicts_path: Path, day: dt.date) -> dict | None:
    """The day report written beside ``verdicts_path`` by ``write_day_quality``; None when there is none."""
    path = verdicts_path.parent / f"{day.isoformat()}.report.json"
    return json.loads(path.read_text()) if path.exists() else None


def report_day(report: dict) -> dt.date:
    return dt.date.fromisoformat(report["partition"].split("|")[0])


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def rolling_summary(reports: list[dict], days: int = 30,
                    catalog_missing: Callable[[dt.date, dt.date], list[str]] | None = None) -> dict:
    """Completeness, validity and findings by kind over the most recent ``days`` reports.

    Lists the days of that range without a report and, given ``catalog_missing(first, last)`` (the days the
    catalog lacks, e.g. ``catalog_integrity.missing_days``), the days missing from the catalog: never
    materialized, blocked, or without data.
    """
    recent = sorted(reports, key=lambda r: r["partition"])[-days:]
    findings = Counter(kind for r in recent for kind in r["findings"])
    n = len(recent)
    first, last = (report_day(recent[0]), report_day(recent[-1])) if recent else (None, None)
    reported = {report_day(r) for r in recent}
    return {
        "days": n,
        "first": recent[0]["partition"] if recent else None,
        "last": recent[-1]["partition"] if recent else None,
        "mean_quality_score": round(sum(r["quality_score"] for r in recent) / n, 4) if n else None,
        "mean_completeness": round(sum(r["completeness"] for r in recent) / n, 6) if n else None,
        "mean_validity": round(sum(r["validity"] for r in recent) / n, 4) if n else None,
        "blocked_days": [r["partition"] for r in recent if r["blocked"]],
        "kept_days": [r["partition"] for r in recent if r.get("published_day", {}).get("outcome") == "kept"],
        "withdrawn_days": [r["partition"] for r in recent
                           if r.get("published_day", {}).get("outcome") == "withdrawn"],
        "accepted_findings": {r["partition"]: r["accepted"] for r in recent if r.get("accepted")},
        "days_without_report": [d.isoformat() for d in _days(first, last) if d not in reported] if n else [],
        "days_missing_from_catalog": catalog_missing(first, last) if n and catalog_missing else None,
        "findings_by_kind": dict(sorted(findings.items())),
    }


def summary_markdown(title: str, summary: dict, reports: list[dict]) -> str:
    lines = [f"# {title}", "", f"{summary['days']} days, {summary['first']} … {summary['last']}; "
             f"mean score {summary['mean_quality_score']}, completeness {summary['mean_completeness']}, "
             f"validity {summary['mean_validity']}", "",
             f"days without a report: {', '.join(summary['days_without_report']) or 'none'}"]
    if summary["days_missing_from_catalog"] is not None:
        lines.append(f"days missing from the catalog: {', '.join(summary['days_missing_from_catalog']) or 'none'}")
    if summary["kept_days"]:
        lines.append(f"failed rebuilds whose published day was kept: {', '.join(summary['kept_days'])}")
    if summary["withdrawn_days"]:
        lines.append(f"failed rebuilds whose published day was withdrawn: {', '.join(summary['withdrawn_days'])}")
    lines += ["", "| day | score | completeness | validity | findings |", "|---|---|---|---|---|"]
    for r in sorted(reports, key=lambda r: r["partition"])[-summary["days"]:]:
        accepted = (f"{check} (accepted: {reason})" for check, reason in r.get("accepted", {}).items())
        findings = [*r["findings"], *accepted]
        lines.append(f"| {r['partition']} | {r['quality_score']:.2f} | {r['completeness']:.4f} | "
                     f"{r['validity']:.2f} | {', '.join(findings) or '—'} |")
    lines += ["", "| finding | days |", "|---|---|"]
    lines += [f"| {kind} | {count} |" for kind, count in summary["findings_by_kind"].items()]
    return "\n".join(lines) + "\n"
