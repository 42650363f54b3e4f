"""Which files of a landing folder cover which UTC days: an index computed from the files' contents, cached.

A configured import (``LandingImport``) is a folder, a glob and a content reader: the reader says, for a file, the
first and last time (epoch ns) of its rows per *key* (a key is the reader's choice: a symbol, a table and a symbol;
only letters, digits, ``.``, ``_`` and ``-``). A file covers every UTC day from the first to the last time of a
key; a capture file spanning midnight covers both days, and a day takes its rows from every file covering it.

Reading a file is the costly part, so the index is cached (``landing-index.json`` under the import's raw folder):
an entry is reused while the file's size and mtime are unchanged, and after a change when its sha256 is still the
same. A file the reader cannot read whole is kept in the index with its error and whatever it could tell
(``LandingFileError.spans``): the days it covers are built from it, and fail naming it, rather than silently
without it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from hedgegrid_data.atomic import atomic_write_bytes
from hedgegrid_data.epochs import day_bounds_ns
from hedgegrid_data.errors import HedgegridDataError
from hedgegrid_data.sources.provenance import sha256_of

Spans = dict[str, tuple[int, int]]
KEY = re.compile(r"[A-Za-z0-9._-]{1,128}")
INDEX_VERSION = 1


class LandingFileError(HedgegridDataError):
    """A landing file the reader could not read whole; ``spans`` is what it read before the error."""

    def __init__(self, message: str, spans: Spans | None = None):
        super().__init__(message)
        self.spans = spans or {}


class ContentReader(Protocol):
    """How an import's files are read: the first and last time (ns) of the rows of each key in a file."""

    def spans(self, path: Path, name: str) -> Spans:
        """``{key: (first_ns, last_ns)}`` of the file at ``path`` (``name``: what errors call it); raises
        ``HedgegridDataError`` (``LandingFileError`` with what it read) when the file does not read."""


@dataclass(frozen=True)
class LandingImport:
    """A configured import: ``name`` (store paths, feed names), the ``landing`` folder, the ``glob`` of its files
    (relative to the folder; hidden files and ``*.part``/``*.tmp`` files being written are never taken) and the
    ``reader`` of their contents."""

    name: str
    landing: Path
    glob: str
    reader: ContentReader

    def __post_init__(self) -> None:
        if not KEY.fullmatch(self.name):
            raise ValueError(f"import name {self.name!r}: letters, digits, '.', '_' and '-' only")

    def files(self) -> Iterator[tuple[str, Path]]:
        """``(name relative to the folder, path)`` of every finished file the glob matches, sorted."""
        for path in sorted(self.landing.glob(self.glob)):
            relative = path.relative_to(self.landing)
            if (path.is_file() and not any(part.startswith(".") for part in relative.parts)
                    and path.suffix not in (".part", ".tmp")):
                yield relative.as_posix(), path


@dataclass(frozen=True)
class IndexedFile:
    """One landing file as indexed: its identity (size, mtime, sha256) and the spans of its keys."""

    name: str
    size: int
    mtime_ns: int
    sha256: str
    spans: Spans
    error: str | None = None

    def covers(self, key: str, day: dt.date) -> bool:
        span = self.spans.get(key)
        if span is None:
            return False
        start, end = day_bounds_ns(day)
        return span[0] <= end and span[1] >= start

    def days(self, key: str) -> list[dt.date]:
        span = self.spans.get(key)
        if span is None:
            return []
        first, last = (dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).date() for ns in span)
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class LandingIndex:
    """Every indexed file of an import, by name."""

    files: dict[str, IndexedFile] = field(default_factory=dict)

    def covering(self, key: str, day: dt.date) -> list[IndexedFile]:
        """The files with rows of ``key`` on ``day``, by name."""
        return [f for _, f in sorted(self.files.items()) if f.covers(key, day)]

    def days(self, key: str | None = None) -> list[dt.date]:
        """Every day some file covers (for ``key``, or for any key), sorted."""
        return sorted({d for f in self.files.values() for k in ([key] if key else f.spans) for d in f.days(k)})

    def errors(self) -> dict[str, str]:
        return {name: f.error for name, f in self.files.items() if f.error}


def day_version(files: list[IndexedFile]) -> str:
    """The identity of a day's covering files (names and sha256s): a new or changed file changes it."""
    digest = hashlib.sha256("\n".join(f"{f.name}\t{f.sha256}" for f in files).encode()).hexdigest()
    return digest[:32]


def _read_cache(path: Path) -> dict[str, IndexedFile]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    if data.get("version") != INDEX_VERSION:
        return {}
    return {name: IndexedFile(**{**entry, "spans": {k: tuple(v) for k, v in entry["spans"].items()}})
            for name, entry in data["files"].items()}


def index_landing(landing: LandingImport, cache: Path) -> LandingIndex:
    """Index every file of ``landing``, reusing ``cache`` (rewritten when anything changed)."""
    cached = _read_cache(cache)
    files: dict[str, IndexedFile] = {}
    for name, path in landing.files():
        stat = path.stat()
        known = cached.get(name)
        if known is not None and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            files[name] = known
            continue
        sha256, size = sha256_of(path)
        if known is not None and known.sha256 == sha256:
            files[name] = IndexedFile(name, size, stat.st_mtime_ns, sha256, known.spans, known.error)
            continue
        try:
            spans, error = landing.reader.spans(path, name), None
        except LandingFileError as exc:
            spans, error = exc.spans, str(exc)
        except HedgegridDataError as exc:
            spans, error = {}, str(exc)
        bad = [key for key in spans if not KEY.fullmatch(key)]
        if bad:
            raise ValueError(f"{landing.name}: the reader's keys {bad} are not letters, digits, '.', '_', '-'")
        files[name] = IndexedFile(name, size, stat.st_mtime_ns, sha256, dict(spans), error)
    if files != cached:
        atomic_write_bytes(cache, json.dumps({"version": INDEX_VERSION, "files": {
            name: asdict(f) for name, f in sorted(files.items())}}, indent=1).encode())
    return LandingIndex(files)
