"""Dagster's SQLite schedule storage (sensor and schedule ticks), its file kept open instead of
reopened for every query.

Dagster's `SqliteScheduleStorage` builds a new SQLAlchemy engine and opens the file again for every
query, and asks SQLite's catalog, each time on a connection of its own, whether its tables and
indexes exist before most of its operations: a sensor tick (the
queued-imports backstop every 30 s, ...) was about a dozen such connections in the daemon, most of
an idle daemon's CPU (bench/idle_cpu.py).

This keeps the same file, tables and settings (journal, `synchronous`: Dagster's), so the UI, the
daemon and Dagster's own tools read it as before, and changes only how it is opened: one engine per
process, its connections pooled. What it learns once about its tables (they exist, an index
migration is done) it remembers: neither is ever undone.

Opening it does not read Dagster's migration scripts when the file carries a migration stamp: Dagster
reads all of them (about 25 ms of CPU) only to learn the newest revision, and with a stamp in the
file it does nothing with it (its tables are made, and the file stamped, only when there is none).
Every Dagster instance opens this storage, and the code server makes one for every sensor tick.

Its directory, unless configured, is DAGSTER_HOME/schedules of this process's settings (as the
event log's, pipelines/event_log.py): an instance opened from another directory
(`DagsterInstance.from_config`) reads this process's ticks. The run storage stays Dagster's, which
is found from the instance's own directory.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from dagster import Field, StringSource
from sqlalchemy.engine import Connection, Engine

from pipelines.dagster_internals import ConfigurableClassData, SqliteScheduleStorage, create_db_conn_string
from roster.runtime.settings import get_settings

# As Dagster's own storage waits for a busy database.
BUSY_TIMEOUT_SECONDS = 120


class PooledSqliteScheduleStorage(SqliteScheduleStorage):
    """`SqliteScheduleStorage` (under DAGSTER_HOME/schedules unless `base_dir` says) with its file kept
    open, and what it found out about its own tables remembered."""

    _pool: Engine | None = None
    _known: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pool_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> Self:
        base_dir = config_value.get("base_dir") or str(get_settings().dagster_home / "schedules")
        return cls.from_local(base_dir, inst_data=inst_data)

    @classmethod
    def from_local(cls, base_dir: str, inst_data: ConfigurableClassData | None = None) -> Self:
        if _stamped(Path(base_dir) / "schedules.db"):
            return cls(create_db_conn_string(base_dir, "schedules"), inst_data)
        return super().from_local(base_dir, inst_data)  # type: ignore[return-value]  # Dagster's creation and checks

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """On one engine per storage, built on first use (Dagster's builds one per query)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = sa.create_engine(
                    self._conn_string, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, pool_size=1, max_overflow=4
                )
            pool = self._pool
        with pool.connect() as conn, conn.begin():
            yield conn

    def _once_found(self, fact: str, found: Callable[[], bool]) -> bool:
        """`found()` until it says yes, then yes without asking: a table or index, once there, stays."""
        if fact not in self._known and found():
            self._known = self._known | {fact}
        return fact in self._known

    def has_secondary_index_table(self) -> bool:
        return self._once_found("secondary_indexes", super().has_secondary_index_table)

    def has_built_index(self, migration_name: str) -> bool:
        return self._once_found(f"index:{migration_name}", functools.partial(super().has_built_index, migration_name))

    def has_instigators_table(self) -> bool:
        return self._once_found("instigators", super().has_instigators_table)

    def _has_instigators_table(self, conn: Connection) -> bool:
        return self._once_found("instigators", functools.partial(super()._has_instigators_table, conn))

    def dispose(self) -> None:
        super().dispose()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.dispose()
                self._pool = None


def _stamped(path: Path) -> bool:
    """The SQLite file exists and carries a migration stamp (opened without creating it)."""
    if not path.exists():
        return False
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        ) as conn:
            return conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.Error:  # no stamp table (an old file): Dagster's own checks decide
        return False
