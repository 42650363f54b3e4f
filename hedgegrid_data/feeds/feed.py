"""A feed: one source × venue × market × table, the unit an asset group, its checks and its automation are made from.

Each part of a feed answers one question, and nothing else does:

- the **source** (``Source``) says how bytes are fetched and verified, whether a day is published yet and
  whether a fetched file was re-published;
- the **venue** (``venue``, ``market``) gives the identity: symbols, partitions and instruments;
- the **table** (``table``) names the canonical normalized table the day becomes (``tables/``);
- the feed's **day steps** (``DaySteps``) parse the source's files into that table and stage the day's
  catalog series, through the catalog writer of the Nautilus type it publishes.

The day recipe (``feeds/recipe.py``) runs the steps the same way for every feed, and the asset factory
(``assets/factory.py``) makes the same Dagster group from every feed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nautilus_trader.model.instruments import Instrument

from hedgegrid_data.epochs import day_end
from hedgegrid_data.quality.findings import Verdict
from hedgegrid_data.store import DataStore

if TYPE_CHECKING:  # Dagster is the glue at the edge: a day's steps run without importing it
    from dagster import AssetKey, AssetsDefinition, MultiPartitionsDefinition


@dataclass(frozen=True)
class CheckSpec:
    """An asset check a feed reports: its name, whether a failure blocks publication, what it checks."""

    name: str
    blocking: bool
    description: str = ""


@dataclass(frozen=True)
class CatalogSeries:
    """One series of the catalog: a Nautilus data class and the identifier its files live under."""

    data_cls: type
    identifier: str


@dataclass(frozen=True)
class StagedSeries:
    """What a staged series must read back as through Nautilus before it is promoted.

    ``label`` tells several series of one day apart in metadata (a kline interval); None for a feed's only one.
    """

    series: CatalogSeries
    rows: int
    first: tuple
    last: tuple
    as_tuple: Callable[[Any], tuple]
    label: str | None = None


@dataclass(frozen=True)
class StagedDay:
    """What a feed's ``stage`` step wrote for a day: its verdicts, the normalized asset's metadata and the
    metadata of its ``schema_valid`` check."""

    verdicts: list[Verdict]
    metadata: dict[str, object]
    validated: dict[str, object]


@dataclass(frozen=True)
class PublicationPlan:
    """What publishing a staged day means: its series with their expected read-back, the instrument, and the
    results of checks a feed runs before promotion (``extra_checks``: name → (passed, metadata)).

    No series: the day has nothing to publish (``nothing_because`` says why); its catalog days are removed.
    """

    instrument: Instrument
    staged: list[StagedSeries]
    extra_checks: dict[str, tuple[bool, dict[str, object]]] = field(default_factory=dict)
    nothing_because: str = ""


class DaySteps(Protocol):
    """The feed-specific steps of the day recipe."""

    def stage(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> StagedDay:
        """Read the day's verified source files, write the normalized table and stage the catalog series
        under ``feed.staging(store)``; every output appears only if the whole day is valid."""

    def series(self, symbol: str) -> list[CatalogSeries]:
        """Every catalog series a day of ``symbol`` lands in (withdrawn whole when a day is blocked)."""

    def normalized_files(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> list[Path]:
        """Every normalized table ``stage`` writes for the day (kept aside while a published day is rebuilt)."""

    def plan(self, feed: Feed, store: DataStore, day: dt.date, symbol: str) -> PublicationPlan:
        """What the staged day must read back as, from its normalized table."""


class Probe(Protocol):
    def is_published(self, probe_key: str) -> bool | None:
        """True/False when the source answers, None when it cannot tell (an error)."""


@dataclass(frozen=True)
class Republication:
    """A fetched file the source now serves in another version: the days built from it are rebuilt."""

    file_key: str
    version: str   # the new version's identity (run keys de-duplicate on it)
    change: str    # what changed, for people


class Source(Protocol):
    """How a feed's bytes are fetched and verified, and how automation learns about new or changed files."""

    name: str                 # store paths: normalized/<name>/…, quality/<name>/…, staging/<name>/…
    resource_key: str         # the Dagster resource the raw asset and the availability sensor use
    listing_resource_key: str  # the Dagster resource the re-publication sensor uses
    kinds: frozenset[str]
    pool: str | None
    raw_check: CheckSpec      # the raw asset's check that the bytes are what the source published

    def raw_root(self, store: DataStore) -> Path: ...

    def file_key(self, file: Any) -> str:
        """A fetched file's identity within the source (its path under ``raw_root``)."""

    def probe_key(self, file: Any) -> str:
        """What availability asks the source about (files sharing it are answered once)."""

    def fetch(self, resource: Any, raw_root: Path, files: Sequence[Any]) -> tuple[dict[str, object],
                                                                             dict[str, object]]:
        """Fetch and verify ``files``: (raw asset metadata, ``raw_check`` metadata); raise if any fails."""

    def probe(self, resource: Any) -> AbstractContextManager[Probe]: ...

    def republished(self, listing: Any, raw_root: Path, files: Mapping[str, Any],
                    log: Any) -> Iterator[Republication]:
        """Among ``files`` (by ``file_key``) already fetched, those the source now serves changed."""

    def extra_assets(self, feed: Feed) -> list[AssetsDefinition]:
        """Source-specific unpartitioned assets of a feed (the archive's symbol universe)."""


class KeyedFiles:
    """Defaults of a ``Source`` whose files name themselves (``file.key``) under ``raw/<name>/``, answer
    availability by that key and add no assets of their own."""

    name: str

    def raw_root(self, store: DataStore) -> Path:
        return store.raw / self.name

    def file_key(self, file: Any) -> str:
        return file.key

    def probe_key(self, file: Any) -> str:
        return self.file_key(file)

    def extra_assets(self, feed: Feed) -> list[AssetsDefinition]:
        return []


@dataclass(frozen=True)
class Automation:
    """When a feed's days are due and how they are watched.

    ``schedule_at`` is the UTC time of the nightly run (``nightly=False``: none); ``due(day)`` is when the day's
    files can be expected; ``window_days`` overrides the settings' availability window.
    """

    schedule_at: dt.time = dt.time(9, 30)
    nightly: bool = True
    due: Callable[[dt.date], dt.datetime] = day_end
    window_days: int | None = None


@dataclass(frozen=True)
class Descriptions:
    """What each asset of a feed's group holds, as the UI shows it."""

    raw: str
    normalized: str
    catalog: str = ""


@dataclass(frozen=True)
class Feed:
    """One source × venue × market × table, published (or not) into the catalog as one Nautilus type.

    ``name`` is the asset group and the prefix of every asset key, job and sensor; its partitions are the UTC days
    from ``first_day`` × ``symbols``; ``dataset`` names the
    table in store paths (``normalized/<source>/<market>/<dataset>/…``). ``files(day, symbol)`` are the source
    files a partition is built from. ``publishes`` is the Nautilus type the feed can write and ``publisher``
    whether it is the declared one for its instruments (``feeds/registry.py`` checks that only one feed
    publishes a type for an instrument); a feed with ``publishes=None`` stays a table. ``consecutive_ids``: the
    source's trade ids are consecutive, so a jump counts missing trades (the ``trade_id_gaps`` check).
    ``report_series(symbol)`` is the catalog series the quality report lists missing days of.
    """

    name: str
    source: Source
    venue: str
    market: str
    table: str
    dataset: str
    first_day: str
    symbols: tuple[str, ...]
    files: Callable[[dt.date, str], Sequence[Hashable]]
    steps: DaySteps
    instrument_ids: Callable[[str], str]
    publishes: type | None
    publisher: bool = True
    consecutive_ids: bool = False
    normalized_checks: tuple[CheckSpec, ...] = ()
    catalog_checks: tuple[CheckSpec, ...] = ()
    report_series: Callable[[str], CatalogSeries] | None = None
    descriptions: Descriptions = Descriptions("", "")
    automation: Automation = Automation()

    # asset keys
    @property
    def raw_key(self) -> AssetKey:
        from dagster import AssetKey

        return AssetKey(f"{self.name}_raw")

    @property
    def normalized_key(self) -> AssetKey:
        from dagster import AssetKey

        return AssetKey(f"{self.name}_normalized")

    @property
    def catalog_key(self) -> AssetKey | None:
        from dagster import AssetKey

        return AssetKey(f"{self.name}_catalog") if self.publishes is not None else None

    @property
    def final_key(self) -> AssetKey:
        """The asset whose materialization means "this day is done"."""
        return self.catalog_key or self.normalized_key

    @property
    def partitioned_keys(self) -> tuple[AssetKey, ...]:
        return tuple(k for k in (self.raw_key, self.normalized_key, self.catalog_key) if k is not None)

    # partitions: UTC days from ``first_day`` × ``symbols``
    @property
    def partitions_def(self) -> MultiPartitionsDefinition:
        from hedgegrid_data.partitions import day_symbol_partitions

        return day_symbol_partitions(self.first_day, self.symbols)

    @property
    def start_date(self) -> dt.date:
        return dt.date.fromisoformat(self.first_day)

    def partition_key(self, day: dt.date, symbol: str) -> str:
        """``<date>|<symbol>``: Dagster orders the dimensions by name."""
        return f"{day.isoformat()}|{symbol}"

    # store
    def staging(self, store: DataStore) -> Path:
        """Staged catalog day files of this feed (the catalog's layout), apart from every other feed's."""
        return store.staging_root(self.source.name, self.market, self.dataset)

    def normalized_file(self, store: DataStore, day: dt.date, symbol: str) -> Path:
        return store.normalized_file(self.source.name, self.market, self.dataset, symbol, day)

    def quality_file(self, store: DataStore, day: dt.date, symbol: str) -> Path:
        return store.quality_file(self.source.name, self.market, self.dataset, symbol, day)
