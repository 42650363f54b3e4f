"""A landing folder as a feed's ``Source``: a partition's files are the landing files covering its day, copied
into the raw layer with their sha256 so that a re-run reads the same bytes.

A partition asks for one ``LandingDay`` (a day and the reader's key of the partition's symbol). ``fetch`` copies
the files covering it (``index.py``) into ``raw/<source>/<import>/objects/<sha256>-<file name>`` (content
addressed: a file covering two days is kept once; written to a temporary name, hashed and renamed, so a file that
changes while it is copied is refused) and writes the day's manifest ``raw/<source>/<import>/<key>/<day>.json``
(each file's landing name, size, mtime, sha256 and spans, and the day's *version*: the hash of its files' names
and sha256s). The feed's day steps read the manifest's files (``fetched_files``) and nothing else.

``probe``: a day is published when some file covers it. ``republished``: a fetched day whose covering files are
now others (a new file, a changed one) than its manifest lists. The landing sensor (``automation/landing.py``)
asks both of every day the folder covers.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgegrid_data.atomic import atomic_path, atomic_write_bytes
from hedgegrid_data.errors import HedgegridDataError, NotPublishedError
from hedgegrid_data.feeds.feed import CheckSpec, KeyedFiles, Republication
from hedgegrid_data.sources.landing.index import IndexedFile, LandingImport, LandingIndex, day_version, index_landing
from hedgegrid_data.sources.provenance import now_text, sha256_of
from hedgegrid_data.store import DataStore

if TYPE_CHECKING:
    from hedgegrid_data.resources import DataStoreResource

INDEX_FILE = "landing-index.json"


@dataclass(frozen=True)
class LandingDay:
    """What a partition fetches: the landing files with rows of ``key`` on ``day``."""

    key: str
    day: dt.date

    @property
    def file_key(self) -> str:
        return f"{self.key}/{self.day.isoformat()}"


@dataclass(frozen=True)
class FetchedFile:
    """A landing file as fetched for a day: its landing name (errors name it), the raw copy, sha256 and spans."""

    name: str
    path: Path
    sha256: str
    spans: dict[str, tuple[int, int]]


def manifest_path(raw_root: Path, day: LandingDay) -> Path:
    return raw_root / f"{day.file_key}.json"


def read_manifest(raw_root: Path, day: LandingDay) -> dict | None:
    path = manifest_path(raw_root, day)
    return json.loads(path.read_text()) if path.is_file() else None


def fetched_files(raw_root: Path, day: LandingDay) -> list[FetchedFile]:
    """The files fetched for ``day`` (its manifest's), in name order; an error if it was not fetched."""
    manifest = read_manifest(raw_root, day)
    if manifest is None:
        raise HedgegridDataError(f"{manifest_path(raw_root, day)}: not fetched; materialize the raw asset first")
    return [FetchedFile(f["name"], raw_root / f["stored"], f["sha256"], {k: tuple(v) for k, v in f["spans"].items()})
            for f in manifest["files"]]


class LandingSource(KeyedFiles):
    """The files of one configured import (``landing``), under source name ``name`` in store paths."""

    resource_key = listing_resource_key = "data_store"  # a local folder: the data store is all it needs
    pool = None
    raw_check = CheckSpec("sha256_recorded", True, "Every landing file covering the day was copied whole into the "
                                                   "raw layer; its sha256, size and mtime are recorded.")

    def __init__(self, name: str, landing: LandingImport, kinds: frozenset[str] = frozenset({"landing"})):
        self.name = name
        self.landing = landing
        self.kinds = kinds

    def raw_root(self, store: DataStore) -> Path:
        return store.raw / self.name / self.landing.name

    def index(self, raw_root: Path) -> LandingIndex:
        return index_landing(self.landing, raw_root / INDEX_FILE)

    def file_key(self, file: LandingDay) -> str:
        return file.file_key

    def fetch(self, resource: DataStoreResource, raw_root: Path,
              files: Sequence[LandingDay]) -> tuple[dict[str, object], dict[str, object]]:
        index = self.index(raw_root)
        metadata: dict[str, object] = {}
        verified: dict[str, object] = {}
        for day in files:
            covering = index.covering(day.key, day.day)
            if not covering:
                raise NotPublishedError(f"{self.landing.landing}: no file of import {self.landing.name!r} "
                                        f"({self.landing.glob}) has {day.key} rows on {day.day}")
            entries = [self._store(raw_root, f) for f in covering]
            version = day_version(covering)
            atomic_write_bytes(manifest_path(raw_root, day), json.dumps({
                "import": self.landing.name, "landing": str(self.landing.landing), "key": day.key,
                "day": day.day.isoformat(), "version": version, "fetched_at": now_text(), "files": entries},
                indent=1).encode())
            tag = "" if len(files) == 1 else f"{day.file_key}_"
            metadata |= {f"{tag}files": len(entries), f"{tag}bytes": sum(e["size"] for e in entries),
                         f"{tag}version": version, f"{tag}landing_files": ", ".join(e["name"] for e in entries)}
            verified |= {e["name"]: {"sha256": e["sha256"], "bytes": e["size"]} for e in entries}
        return metadata, verified

    def _store(self, raw_root: Path, file: IndexedFile) -> dict[str, object]:
        """The landing file copied (once) into the content-addressed object folder, checked against its index
        entry."""
        source = self.landing.landing / file.name
        stored = Path("objects") / f"{file.sha256}-{Path(file.name).name}"
        target = raw_root / stored
        if not target.is_file():
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
                sha256, _ = sha256_of(tmp)
                if sha256 != file.sha256:
                    raise HedgegridDataError(f"{source}: changed while it was copied (sha256 {sha256[:12]}…, "
                                             f"indexed {file.sha256[:12]}…); the next attempt takes the new version")
        return {"name": file.name, "stored": stored.as_posix(), "sha256": file.sha256, "size": file.size,
                "mtime_ns": file.mtime_ns, "spans": file.spans, "error": file.error}

    @contextmanager
    def probe(self, resource: DataStoreResource) -> Iterator[_LandingProbe]:
        yield _LandingProbe(self.index(self.raw_root(resource.store)))

    def republished(self, resource: DataStoreResource, raw_root: Path, files: Mapping[str, LandingDay],
                    log: Any) -> Iterator[Republication]:
        """Fetched days whose covering files are now others than their manifest lists."""
        index = self.index(raw_root)
        for key, day in sorted(files.items()):
            change = self.change(index, raw_root, day)
            if change is not None:
                yield Republication(key, change[0], change[1])

    def change(self, index: LandingIndex, raw_root: Path, day: LandingDay) -> tuple[str, str] | None:
        """(new version, what changed) when ``day``'s covering files differ from what was fetched (or it was
        never fetched and files cover it); None when nothing is to be done."""
        covering = index.covering(day.key, day.day)
        if not covering:
            return None  # nothing to build (files removed: the fetched day stays as it was)
        version = day_version(covering)
        manifest = read_manifest(raw_root, day)
        if manifest is None:
            return version, f"new: {', '.join(f.name for f in covering)}"
        if manifest["version"] == version:
            return None
        before = {f["name"]: f["sha256"] for f in manifest["files"]}
        added = [f.name for f in covering if f.name not in before]
        changed = [f.name for f in covering if f.name in before and before[f.name] != f.sha256]
        removed = sorted(set(before) - {f.name for f in covering})
        parts = [f"{what} {', '.join(names)}" for what, names in (("new", added), ("changed", changed),
                                                                   ("gone", removed)) if names]
        return version, "; ".join(parts)


class _LandingProbe:
    def __init__(self, index: LandingIndex):
        self.index = index

    def is_published(self, probe_key: str) -> bool | None:
        key, _, day = probe_key.rpartition("/")
        return bool(self.index.covering(key, dt.date.fromisoformat(day)))
