"""Dagster's SQLite event log, without paying a new database connection for every event.

Dagster's `SqliteEventLogStorage` opens a new engine and connection for each event it stores and
closes it after. Closing the last connection to a WAL database checkpoints the log into the file
and deletes the log, with an fsync each time, and a new run's file is checked against Dagster's
migration scripts (read from disk) before its first event. An import's run stores about 45
events: this bookkeeping was about a second of every import.

This storage keeps the same files and tables (the Dagster UI, the daemon and Dagster's own
tools read them as before) and changes only how they are opened:
- one engine per file, kept open for the process (the most recent few run files, plus the
  index), so an event is one INSERT and one commit;
- `synchronous=NORMAL`, SQLite's recommended setting for WAL: a commit survives the process being
  killed (the log is in the operating system's hands), and only a power loss can lose the last
  events. Roster's own state (the import, its lease, its counts) lives in PostgreSQL, and the
  watchdog settles an import whose run record is lost (pipelines/watchdog.py);
- a new run's file is a copy of an empty one with Dagster's tables and the newest migration stamp,
  which is made once per Dagster release and kept in the same folder: a run does not read the
  migration scripts or create the tables (30 ms of CPU, most of what a process running one import
  spent on its run's file); a file that has a stamp is left as it is (what Dagster's own check
  concludes, after reading the scripts).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from dagster import Field, StringSource
from dagster.version import __version__ as dagster_version
from sqlalchemy.engine import Connection, Engine

from pipelines.dagster_internals import (
    INDEX_SHARD_NAME,
    ConfigurableClassData,
    SqlEventLogStorageMetadata,
    SqliteEventLogStorage,
    check_alembic_revision,
    create_db_conn_string,
    get_alembic_config,
)
from pipelines.dagster_internals import sqlite_event_log_module as dagster_sqlite_event_log
from roster.runtime.settings import get_settings

# Run files kept open at once; a long-lived process (the daemon, the UI) reads many runs' files.
OPEN_RUN_FILES = 8
# As Dagster's own storage waits for a busy database.
BUSY_TIMEOUT_SECONDS = 120


def _tune(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with its files kept open (see the module's docstring)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        base_dir = base_dir or str(get_settings().dagster_home / "storage")
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        # Left out, the directory is Dagster's default one under DAGSTER_HOME.
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = sa.create_engine(
                    create_db_conn_string(self._base_dir, shard),
                    connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
                    pool_size=1,
                    max_overflow=4,
                )
                sa.event.listen(engine, "connect", _tune)
            self._engines[shard] = engine  # the most recently used last
            runs = [s for s in self._engines if s != INDEX_SHARD_NAME]
            for old in runs[: max(0, len(runs) - OPEN_RUN_FILES)]:
                self._engines.pop(old).dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine, for_index_shard=shard == INDEX_SHARD_NAME)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:
        if os.path.exists(engine.url.database or ""):
            # Dagster's init does nothing to a file that carries a migration stamp; reading the
            # stamp is cheap, reading the scripts to compare it with is not.
            with engine.connect() as conn:
                if MigrationContext.configure(conn).get_current_revision() is not None:
                    return
        if for_index_shard or os.path.exists(engine.url.database or ""):
            return super()._initdb(engine, for_index_shard)  # Dagster's own checks and creation
        if not _place_copy(self._empty_run_file(), engine.url.database or ""):
            return super()._initdb(engine, for_index_shard)  # another process made it meanwhile: Dagster's checks

    def _empty_run_file(self) -> Path:
        """A run's file with no events: Dagster's tables and the stamp its init writes (the newest
        revision of its migration scripts). Made once per Dagster release, which its name carries,
        so an upgrade makes a new one."""
        # Not *.db: Dagster takes every *.db file in this folder for a run's events.
        empty = Path(self._base_dir) / f".empty-run-file-{dagster_version}.sqlite"
        if empty.exists():
            return empty
        partial = empty.with_name(f"{empty.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        engine = sa.create_engine(f"sqlite:///{partial}")
        try:
            with engine.connect() as conn:
                head = str(check_alembic_revision(get_alembic_config(dagster_sqlite_event_log.__file__), conn)[1])
            SqlEventLogStorageMetadata.create_all(engine)
            with engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
                conn.exec_driver_sql(  # as alembic's stamp writes it, to the whitespace (sqlite_master keeps it)
                    "CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, "
                    "\n\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)"
                )
                conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
        finally:
            engine.dispose()  # its last connection closed: the log checkpointed, the file whole alone
        os.replace(partial, empty)  # whole or not there, for a process making its own at once
        return empty

    def _close_files(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._close_files()  # the run files are deleted: no connection may keep them alive
        super().wipe()

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        with self._engines_lock:
            engine = self._engines.pop(run_id, None)
        if engine is not None:
            engine.dispose()

    def dispose(self) -> None:
        super().dispose()
        self._close_files()


def _place_copy(source: Path, path: str) -> bool:
    """Copy `source` to `path` unless a file is there already (then False). The copy appears
    whole: a reader of the run's file (the UI, the daemon) never opens half of one."""
    partial = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
    shutil.copyfile(source, partial)
    try:
        os.link(partial, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(partial)
    return True
