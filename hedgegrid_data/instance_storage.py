"""The Dagster instance's storage, as ``dagster.yaml`` names it: Dagster's SQLite storage (``history/runs.db``; a
database per run plus the index under ``history/runs/``; ``schedules/schedules.db``; in the instance's directory,
``$DAGSTER_HOME``, as by default), with the connections kept open for the life of the process.

Dagster's own classes create an SQLAlchemy engine, open the file, commit and close it for every statement group:
a one-day run's ~35 events (each asset event is written to its run's database and mirrored to the index, a check
evaluation updates the check's row too) and its run record make ~200 connections, and closing the last connection
to a WAL database checkpoints it. That was ~0.6 s of a one-day ``dagster asset materialize`` of ~3.4 s. Here the
engines are kept: the run and schedule storages' with SQLAlchemy's pool (a connection per concurrent thread, as
before), the event log's with one connection per database (the most recently used few; Dagster already
serializes every access of a process to it through one lock). The files, schema, migrations and everything else
are Dagster's: an instance written by these classes is read by Dagster's and the other way round.

The instance loads this module before any other storage module, so Dagster's storage modules (SQLAlchemy,
Alembic) load here, inside ``startup.loading()`` like the code location (see ``startup.py``).
"""

from __future__ import annotations

from hedgegrid_data.startup import loading

with loading():
    import os
    from collections import OrderedDict
    from collections.abc import Iterator
    from contextlib import contextmanager

    from dagster import DagsterInstance
    from dagster._core.storage.base_storage import DagsterStorage
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
        SQLITE_BUSY_TIMEOUT_SECONDS,
        SqliteEventLogStorage,
    )
    from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
    from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
    from dagster._serdes import ConfigurableClass, ConfigurableClassData
    from sqlalchemy import create_engine
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.pool import NullPool, StaticPool

KEPT_DATABASES = 8


class KeptConnectionsSqliteStorage(DagsterStorage, ConfigurableClass):
    """Dagster's ``DagsterSqliteStorage`` (its default), each part keeping its connections. Its databases are made
    where Dagster's default puts them when the instance registers the storage: the instance's directory is
    known then, for ``$DAGSTER_HOME`` and for the temporary instance of a command run without it alike."""

    def __init__(self, inst_data: ConfigurableClassData | None = None):
        self._inst_data = inst_data
        self._run_storage = KeptConnectionsSqliteRunStorage()
        self._event_log_storage = KeptConnectionsSqliteEventLogStorage()
        self._schedule_storage = KeptConnectionsSqliteScheduleStorage()
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict  # type: ignore[override]
                          ) -> KeptConnectionsSqliteStorage:
        return cls(inst_data)

    @property
    def run_storage(self) -> KeptConnectionsSqliteRunStorage:
        return self._run_storage

    @property
    def event_log_storage(self) -> KeptConnectionsSqliteEventLogStorage:
        return self._event_log_storage

    @property
    def schedule_storage(self) -> KeptConnectionsSqliteScheduleStorage:
        return self._schedule_storage

    def register_instance(self, instance: DagsterInstance) -> None:
        super().register_instance(instance)
        for part in (self._run_storage, self._event_log_storage, self._schedule_storage):
            if not part.has_instance:
                part.register_instance(instance)

    def dispose(self) -> None:
        for part in (self._event_log_storage, self._run_storage, self._schedule_storage):
            part.dispose()


class _KeptEngine:
    """A Dagster SQLite storage of one database (``dagster_class``, in ``folder`` of the instance's directory) with
    one engine, and its connection pool, for the life of the storage."""

    dagster_class: type[SqliteRunStorage | SqliteScheduleStorage]
    folder: str

    def __init__(self) -> None:
        pass  # Dagster's __init__ runs once the instance's directory is known

    def register_instance(self, instance: DagsterInstance) -> None:
        if not hasattr(self, "_kept_engine"):
            created = self.dagster_class.from_local(os.path.join(instance.root_directory, self.folder, ""))
            created.dispose()  # Dagster's creation and migration of the database
            self.dagster_class.__init__(self, created._conn_string)  # type: ignore[arg-type]
            # a file database: SQLAlchemy keeps a pool of 5 connections; threads beyond them (the daemon's, the
            # webserver's) get connections of their own as before (no overflow limit, no waiting)
            self._kept_engine = create_engine(created._conn_string, max_overflow=-1)
        super().register_instance(instance)  # type: ignore[misc]

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._kept_engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        if hasattr(self, "_kept_engine"):
            self._kept_engine.dispose()
        super().dispose()  # type: ignore[misc]


class KeptConnectionsSqliteRunStorage(_KeptEngine, SqliteRunStorage):
    """``history/runs.db``: runs, their tags, backfills, daemon heartbeats."""

    dagster_class = SqliteRunStorage
    folder = "history"


class KeptConnectionsSqliteScheduleStorage(_KeptEngine, SqliteScheduleStorage):
    """``schedules/schedules.db``: schedule and sensor state and ticks."""

    dagster_class = SqliteScheduleStorage
    folder = "schedules"


class KeptConnectionsSqliteEventLogStorage(SqliteEventLogStorage):
    """``history/runs/``: ``SqliteEventLogStorage`` keeping one open connection to each of the last
    ``KEPT_DATABASES`` databases it used (a run process uses two: its run's and the index)."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, Engine] = OrderedDict()  # Dagster's __init__ runs once the directory is known

    def register_instance(self, instance: DagsterInstance) -> None:
        if not hasattr(self, "_base_dir"):
            SqliteEventLogStorage.__init__(self, os.path.join(instance.root_directory, "history", "runs", ""))
        super().register_instance(instance)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        """The shard's kept engine, the database created first if it is new (or was deleted meanwhile)."""
        engine = self._kept.pop(shard, None)
        if not os.path.exists(self.path_for_shard(shard)):
            self._initialized_dbs.discard(shard)
            if engine is not None:
                engine.dispose()
                engine = None
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                 "check_same_thread": False})
        if shard not in self._initialized_dbs:  # Dagster's initialization, on a connection of its own as in its class
            initializing = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                         connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            self._initdb(initializing)
            initializing.dispose()
            self._initialized_dbs.add(shard)
        self._kept[shard] = engine
        while len(self._kept) > KEPT_DATABASES:
            self._kept.popitem(last=False)[1].dispose()
        return engine

    def _close_kept(self) -> None:
        if not hasattr(self, "_db_lock"):  # never registered: nothing opened
            return
        with self._db_lock:
            while self._kept:
                self._kept.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_kept()
        super().wipe()

    def upgrade(self) -> None:
        self._close_kept()
        super().upgrade()

    def dispose(self) -> None:
        if hasattr(self, "_base_dir"):
            self._close_kept()
            super().dispose()
