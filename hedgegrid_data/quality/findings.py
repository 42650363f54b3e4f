"""The shape of a quality verdict, shared by every check."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hedgegrid_data.atomic import atomic_write_bytes

MAX_EXAMPLES = 20
SCHEMA_VALID = "schema_valid"  # the check that a source file parses into the table exactly


class Severity(enum.Enum):
    WARN = "WARN"  # plausible but unusual: reported, the day still lands
    ERROR = "ERROR"  # the data is wrong: the day must not reach the catalog


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check on one partition: passed or not, how bad, and what was found."""

    check: str
    passed: bool
    severity: Severity
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity is Severity.ERROR


def write_verdicts(path: Path, verdicts: list[Verdict]) -> None:
    payload = [{**asdict(v), "severity": v.severity.value} for v in verdicts]
    atomic_write_bytes(path, json.dumps(payload, indent=2, default=str).encode())


def read_verdicts(path: Path) -> list[Verdict]:
    return [Verdict(**{**v, "severity": Severity(v["severity"])}) for v in json.loads(path.read_text())]


def blocking(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.blocks]
