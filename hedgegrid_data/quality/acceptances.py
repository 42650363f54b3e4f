"""Findings an operator accepted for one source day: the day then publishes, the finding stays visible as accepted.

An acceptance names a feed (its group name, e.g. ``binance_um_trades``), a partition (``2021-03-14|BTCUSDT``), a
check and the exact finding (its ``fingerprint``), with a reason, who and when. Only that finding on that day is
accepted: any other finding, on that day or another, still counts (a re-published file with other missing ids has
another fingerprint and blocks again).

Acceptances live in one TOML file (``HEDGEGRID_ACCEPTED_FINDINGS_FILE``, default ``accepted_findings.toml`` at
the data store's root), edited by hand or appended by the ``accept_finding`` job::

    [[accepted]]
    feed = "binance_um_trades"
    partition = "2021-03-14|BTCUSDT"
    check = "trade_id_gaps"
    fingerprint = "280 missing trade ids in 225 gaps [where 3f9c2a71d0]"
    reason = "Binance's own file: these ids are missing from the archive"
    by = "jane"
    at = "2026-12-02T09:00:00Z"
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from hedgegrid_data import settings
from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.quality.findings import Verdict
from hedgegrid_data.store import DataStore


@dataclass(frozen=True)
class Acceptance:
    feed: str
    partition: str
    check: str
    fingerprint: str
    reason: str
    by: str
    at: str

    def matches(self, feed: str, partition: str, verdict: Verdict) -> bool:
        return ((self.feed, self.partition, self.check) == (feed, partition, verdict.check)
                and self.fingerprint == fingerprint(verdict))


def fingerprint(verdict: Verdict) -> str:
    """What identifies a finding exactly: its summary (the counts), and a digest of where it lies — the lists the
    check reports (missing id ranges, mismatched minutes, offending rows, windows). A recorded verdict carries it
    in its metadata."""
    if "fingerprint" in verdict.metadata:
        return str(verdict.metadata["fingerprint"])
    where = {key: value for key, value in sorted(verdict.metadata.items()) if isinstance(value, (list, tuple))}
    if not where:
        return verdict.summary
    digest = hashlib.sha256(json.dumps(where, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{verdict.summary} [where {digest}]"


def acceptances_file(store: DataStore) -> Path:
    """``HEDGEGRID_ACCEPTED_FINDINGS_FILE``, else ``accepted_findings.toml`` at the store's root."""
    return settings.accepted_findings_file() or store.root / "accepted_findings.toml"


def read_acceptances(path: Path) -> list[Acceptance]:
    """Every acceptance of the file (none when it does not exist); a malformed entry is an error naming it."""
    if not path.exists():
        return []
    with path.open("rb") as f:
        entries = tomllib.load(f).get("accepted", [])
    names = [f.name for f in fields(Acceptance)]
    found = []
    for i, entry in enumerate(entries, 1):
        missing = [n for n in names if not str(entry.get(n, "")).strip()]
        if missing:
            raise HedgegridDataError(f"{path}: accepted finding #{i} lacks {', '.join(missing)}")
        found.append(Acceptance(**{n: str(entry[n]) for n in names}))
    return found


def apply_acceptances(verdicts: list[Verdict], acceptances: list[Acceptance], feed: str,
                      partition: str) -> list[Verdict]:
    """Failed verdicts with their ``fingerprint`` in the metadata; those accepted for this day pass, marked
    ``accepted`` with the reason and the original summary."""
    judged = []
    for verdict in verdicts:
        if verdict.passed:
            judged.append(verdict)
            continue
        verdict = replace(verdict, metadata={**verdict.metadata, "fingerprint": fingerprint(verdict)})
        accepted = next((a for a in acceptances if a.matches(feed, partition, verdict)), None)
        if accepted is not None:
            verdict = replace(verdict, passed=True, summary=f"accepted: {verdict.summary} ({accepted.reason})",
                              metadata={**verdict.metadata, "accepted": True, "accepted_reason": accepted.reason,
                                        "accepted_by": accepted.by, "accepted_at": accepted.at,
                                        "original_summary": verdict.summary})
        judged.append(verdict)
    return judged


def _toml_entry(acceptance: Acceptance) -> str:
    # a JSON string is a valid TOML basic string
    return "\n[[accepted]]\n" + "".join(f"{f.name} = {json.dumps(getattr(acceptance, f.name))}\n"
                                        for f in fields(Acceptance))


def add_acceptance(path: Path, feed: str, partition: str, check: str, finding: str, reason: str,
                   by: str) -> Acceptance:
    """Append an acceptance to the file, atomically and one writer at a time; returns it."""
    acceptance = Acceptance(feed, partition, check, finding, reason.strip(), by.strip(),
                            dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if not acceptance.reason or not acceptance.by:
        raise HedgegridDataError("an accepted finding needs a reason and who accepts it")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = path.read_text() if path.exists() else ""
        read_acceptances(path)  # never append to a file that does not read
        atomic_write_bytes(path, (existing + _toml_entry(acceptance)).encode())
    return acceptance
