"""The Dagster instance's run storage and event log, as ``dagster.yaml`` names them: Dagster's SQLite storage
(``history/runs.db``; a database per run plus the index database under ``history/runs/``; in the instance's
directory, ``$DAGSTER_HOME``, as by default), with the connections kept open for the life of the process.

Dagster's own classes create an SQLAlchemy engine, open the file, commit and close it for every statement group:
a one-day run's ~35 events (each asset event is written to its run's database and mirrored to the index, a check
evaluation updates the check's row too) and its run record make ~200 connections, and closing the last connection
to a WAL database checkpoints it. That was ~0.6 s of a one-day ``dagster asset materialize`` of ~3.4 s. Here the
engines are kept: the run storage's with SQLAlchemy's pool (a connection per concurrent thread, as before), the
event log's with one connection per database (the most recently used few; Dagster already serializes every
access of a process to it through one lock). The files, schema, migrations and everything else are Dagster's:
an instance written by these classes is read by Dagster's and the other way round.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import DagsterInstance, Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool

KEPT_DATABASES = 8
HISTORY_DEFAULT = "default: history under the instance's directory ($DAGSTER_HOME), where Dagster's default is"


class KeptConnectionsSqliteRunStorage(SqliteRunStorage):
    """``SqliteRunStorage`` with one engine (and its connection pool) for the life of the storage."""

    def __init__(self, conn_string: str | None, inst_data: ConfigurableClassData | None = None):
        self._pending_inst_data = inst_data
        if conn_string is not None:
            self._open(conn_string)

    def _open(self, conn_string: str) -> None:
        SqliteRunStorage.__init__(self, conn_string, self._pending_inst_data)
        # a file database: SQLAlchemy keeps a pool of 5 connections; threads beyond them (the daemon's, the
        # webserver's) get connections of their own as before (no overflow limit, no waiting)
        self._kept_engine = create_engine(conn_string, max_overflow=-1)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False, description=HISTORY_DEFAULT)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict  # type: ignore[override]
                          ) -> KeptConnectionsSqliteRunStorage:
        if base_dir := config_value.get("base_dir"):
            return cls.from_local(base_dir, inst_data=inst_data)
        return cls(None, inst_data)

    def register_instance(self, instance: DagsterInstance) -> None:
        if not hasattr(self, "_kept_engine"):  # no base_dir configured: the instance's directory
            created = SqliteRunStorage.from_local(history_dir(instance))  # Dagster's creation and migration
            created.dispose()
            self._open(created._conn_string)
        super().register_instance(instance)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._kept_engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        if hasattr(self, "_kept_engine"):
            self._kept_engine.dispose()
        super().dispose()


class KeptConnectionsSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` keeping one open connection to each of the last ``KEPT_DATABASES`` databases it
    used (a run process uses two: its run's and the index)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._kept: OrderedDict[str, Engine] = OrderedDict()
        self._pending_inst_data = inst_data
        if base_dir is not None:
            SqliteEventLogStorage.__init__(self, base_dir, inst_data)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": Field(StringSource, is_required=False, description=HISTORY_DEFAULT + "/runs")}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict  # type: ignore[override]
                          ) -> KeptConnectionsSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance: DagsterInstance) -> None:
        if not hasattr(self, "_base_dir"):  # no base_dir configured: the instance's directory
            SqliteEventLogStorage.__init__(self, os.path.join(history_dir(instance), "runs", ""),
                                           self._pending_inst_data)
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
        exists = os.path.exists(self.path_for_shard(shard))
        if not exists:
            self._initialized_dbs.discard(shard)
            if engine is not None:
                engine.dispose()
                engine = None
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=StaticPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                                                 "check_same_thread": False})
        if shard not in self._initialized_dbs:
            if not (exists and _is_stamped(engine)):
                # Dagster's initialization (it acts only on a database without a schema revision), on a
                # connection of its own as in Dagster's class
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
        self._close_kept()
        super().dispose()


def _is_stamped(engine: Engine) -> bool:
    """Whether the database has its schema revision (what Dagster's initialization checks, without loading
    every migration script to learn the head revision it does not use)."""
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").all()
        return bool(names) and conn.exec_driver_sql("SELECT version_num FROM alembic_version").first() is not None


def history_dir(instance: DagsterInstance) -> str:
    """Where Dagster keeps an instance's SQLite storage unless told otherwise: ``history/`` in the instance's
    directory (``$DAGSTER_HOME``; for a command run without it, the temporary directory Dagster made)."""
    return os.path.join(instance.root_directory, "history", "")
