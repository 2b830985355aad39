"""The run lease: one run at a time works on an import, and anyone can tell a live run from a dead one.

A session-level PostgreSQL advisory lock keyed by the import's id, held on a connection of its
own for as long as a run works on the import. PostgreSQL lets go of it the moment that connection
ends: the process died (SIGKILL, OOM killer, lost machine: TCP keepalives end the session within
about a minute) or the database restarted. So:

- a second run of the same import (a retry next to an orphaned worker, `roster imports run` while
  the daemon runs it) cannot get the lease and stops before it touches anything;
- an `in_progress` import whose lease nobody holds has no live run, on whatever machine it ran:
  that is what the watchdog sensor (pipelines/watchdog.py) looks for.
"""

from __future__ import annotations

import time
import uuid

import psycopg
from sqlalchemy.engine import Engine

# A worker whose machine vanished holds its session until the server notices: keepalives bound it.
_KEEPALIVE = "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 4"


class ImportBusy(RuntimeError):
    """Another live run holds the import's lease."""


def lease_key(import_id: str) -> int:
    """The advisory lock key: the import id's first 8 bytes, as PostgreSQL's signed bigint."""
    return int.from_bytes(uuid.UUID(str(import_id)).bytes[:8], "big", signed=True)


def _lock_ids(import_id: str) -> tuple[int, int]:
    """How pg_locks shows a bigint advisory key: classid = high 32 bits, objid = low 32 bits."""
    unsigned = lease_key(import_id) & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def held_leases(engine: Engine) -> set[tuple[int, int]]:
    """Every bigint advisory lock held now, as pg_locks shows it; test one with is_held."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
        ).all()
    return {(int(c), int(o)) for c, o in rows}


def is_held(held: set[tuple[int, int]], import_id: str) -> bool:
    return _lock_ids(import_id) in held


class ImportLease:
    def __init__(self, engine: Engine, import_id: str):
        self.import_id = str(import_id)
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.Connection | None = None

    def alive(self) -> bool:
        """This process still holds the lease (its connection survived)."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self._drop()
            return False

    def acquire(self, wait_seconds: float = 10.0) -> None:
        """Take the lease, waiting a little for a holder that is just dying (its session ends a
        moment after its process); raises ImportBusy if a live run keeps it."""
        if self.alive():
            return
        deadline = time.monotonic() + wait_seconds
        conn = psycopg.connect(self._url, autocommit=True, application_name=f"roster lease {self.import_id}")
        try:
            if conn.info.host and not conn.info.host.startswith("/"):
                conn.execute(_KEEPALIVE)
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (lease_key(self.import_id),)).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise ImportBusy(f"another run is working on import {self.import_id}")
                time.sleep(0.5)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (lease_key(self.import_id),))
            except psycopg.Error:
                pass
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None


# One lease per import per process: the steps of a run share it (the run executes in one process).
_leases: dict[str, ImportLease] = {}


def hold(engine: Engine, import_id: str) -> ImportLease:
    """The lease of this process for the import, taken (again, after a database restart) if need be."""
    lease = _leases.setdefault(str(import_id), ImportLease(engine, import_id))
    lease.acquire()
    return lease


def let_go(import_id: str) -> None:
    lease = _leases.pop(str(import_id), None)
    if lease is not None:
        lease.release()
