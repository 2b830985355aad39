"""The run lease: one run at a time works on an import, and anyone can tell a live run from a dead
or frozen one.

A session-level PostgreSQL advisory lock keyed by the import's id, held on a connection of its
own for as long as a run works on the import (from the run's start: resources/database.py takes
it when the run's resources are set up, before its first step). PostgreSQL lets go of it the
moment that connection ends: the process died (SIGKILL, OOM killer, lost machine: TCP keepalives
end the session within about a minute) or the database restarted. So:

- a second run of the same import (a retry next to an orphaned worker, `roster imports run` while
  the daemon runs it) cannot get the lease and stops before it touches anything;
- an `in_progress` import whose lease nobody holds has no live run, on whatever machine it ran:
  that is what the watchdog (pipelines/watchdog.py) looks for.

The heartbeat: a thread of the run's process runs a statement on the lease's connection every
HEARTBEAT_SECONDS, whatever the run's own thread is doing (a long merge included), so the
session's `state_change` in pg_stat_activity says when the process last ran. A process frozen
(SIGSTOP, a hung machine that still answers TCP) keeps its lock but stops beating: the watchdog
ends its sessions (end_sessions) and fails its run once it has not beaten for STUCK_SECONDS.

Every connection the run's process takes carries the run's label as its `application_name`
(`roster run <import id> <pid>`), so the watchdog can end all of that process's sessions (their
statements and locks go with them), and a `lock_timeout`: a statement that waits RUN_LOCK_TIMEOUT
for a lock fails and its step is retried (assets/step.py), instead of waiting for hours.

A lease lost while the run lives (the database restarted, or the watchdog ended a frozen run's
sessions) is taken again only if the import still names this run (`contact_imports.run_id`): the
watchdog clears it when it ends a run, and the next run sets its own when it takes the lease, so a
frozen run that wakes up stops instead of working beside its retry.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any, TypedDict

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from roster.runtime.settings import get_settings
from schemas import tables as t

# A worker whose machine vanished holds its session until the server notices: keepalives bound it.
_KEEPALIVE = "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 4"
HEARTBEAT_SECONDS = 5
# A run whose lease session has been silent this long is frozen or hung: the watchdog ends it.
STUCK_SECONDS = max(get_settings().stuck_run_seconds, 3 * HEARTBEAT_SECONDS)
# A run's statement waiting this long for a lock fails, and its step is retried (assets/step.py).
RUN_LOCK_TIMEOUT = f"{get_settings().lock_timeout_seconds}s"


class ImportBusy(RuntimeError):
    """Another live run holds the import's lease, or took over the import from this one."""


def lease_key(import_id: str) -> int:
    """The advisory lock key: the import id's first 8 bytes, as PostgreSQL's signed bigint."""
    return int.from_bytes(uuid.UUID(str(import_id)).bytes[:8], "big", signed=True)


def _lock_ids(import_id: str) -> tuple[int, int]:
    """How pg_locks shows a bigint advisory key: classid = high 32 bits, objid = low 32 bits."""
    unsigned = lease_key(import_id) & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def run_label(import_id: str) -> str:
    """The application_name of every session of this process's run of the import (under 64 bytes)."""
    return f"roster run {import_id} {os.getpid()}"


class Holder(TypedDict):
    """The session that holds an advisory lock."""

    pid: int
    label: str  # its application_name: run_label() for a run's sessions
    silent: float  # seconds since its last statement


# Every bigint advisory lock held now, by how pg_locks shows its key (_lock_ids).
Held = dict[tuple[int, int], Holder]


def held_leases(engine: Engine) -> Held:
    """Every bigint advisory lock held now, as pg_locks shows it, with its session; look one up
    with holder() or is_held()."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT l.classid::bigint, l.objid::bigint, l.pid, a.application_name, "
            "extract(epoch FROM clock_timestamp() - coalesce(a.state_change, a.backend_start)) "
            "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted"
        ).all()
    return {
        (int(c), int(o)): {"pid": pid, "label": label or "", "silent": float(silent or 0)} for c, o, pid, label, silent in rows
    }


def is_held(held: Held, import_id: str) -> bool:
    return _lock_ids(import_id) in held


def holder(held: Held, import_id: str) -> Holder | None:
    return held.get(_lock_ids(import_id))


def end_sessions(engine: Engine, label: str | None = None, pid: int | None = None, import_id: str | None = None) -> int:
    """End sessions of runs (their statements roll back, their locks and lease go): every session of
    one run's process (its label), one session (its pid), or every session labelled for an import
    (when its lease is lost: whatever is left of a dead run). Returns how many it ended."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if label and label.startswith("roster run "):
        where.append("application_name = :label")
        params["label"] = label
    if pid is not None:
        where.append("pid = :pid")
        params["pid"] = pid
    if import_id is not None:
        where.append("application_name LIKE :prefix")
        params["prefix"] = f"roster run {uuid.UUID(str(import_id))} %"
    if not where:
        return 0
    with engine.connect() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                f"WHERE ({' OR '.join(where)}) AND pid <> pg_backend_pid()"
            ),
            params,
        ).scalar_one()
        conn.commit()
    return int(ended or 0)


def disown(engine: Engine, import_id: str) -> None:
    """The import names no run: a run that lost its lease may not take it again (see the module)."""
    with engine.begin() as conn:
        conn.execute(sa.update(t.contact_imports).where(t.contact_imports.c.id == str(import_id)).values(run_id=None))


class ImportLease:
    def __init__(self, engine: Engine, import_id: str, run_id: str | None = None):
        self.import_id = str(import_id)
        self.run_id = run_id
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.Connection | None = None
        self._held_once = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def alive(self) -> bool:
        """This process still holds the lease (its connection survived)."""
        conn = self._conn
        if conn is None or conn.closed:
            return False
        try:
            conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            self._drop()
            return False

    def acquire(self, wait_seconds: float = 10.0) -> bool:
        """Take the lease, waiting a little for a holder that is just dying (its session ends a
        moment after its process); raises ImportBusy if a live run keeps it, or took the import
        over from this run. True if it was taken now, False if this process held it already."""
        if self.alive():
            return False
        deadline = time.monotonic() + wait_seconds
        conn = psycopg.connect(self._url, autocommit=True, application_name=run_label(self.import_id))
        try:
            # Claiming the import row (below) waits for a session still holding it no longer than a run's statements do.
            conn.execute(f"SET lock_timeout = '{RUN_LOCK_TIMEOUT}'")
            if conn.info.host and not conn.info.host.startswith("/"):
                conn.execute(_KEEPALIVE)
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (lease_key(self.import_id),)).fetchone()[0]:  # type: ignore[index]  # a SELECT of a function has a row
                if time.monotonic() > deadline:
                    raise ImportBusy(f"another run is working on import {self.import_id}")
                time.sleep(0.5)
            if self.run_id is not None:
                self._claim(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._held_once = conn, True
        if self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, name=f"lease {self.import_id}", daemon=True)
            self._beat.start()
        return True

    def _claim(self, conn: psycopg.Connection) -> None:
        """The import names this run from now on; taken again, the lease needs it still to."""
        if self._held_once:
            row = conn.execute("SELECT run_id FROM contact_imports WHERE id = %s", (self.import_id,)).fetchone()
            if row is not None and str(row[0]) != self.run_id:
                raise ImportBusy(f"import {self.import_id} was taken over from this run (its sessions were ended)")
        else:
            conn.execute("UPDATE contact_imports SET run_id = %s WHERE id = %s", (self.run_id, self.import_id))

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.alive()

    def release(self) -> None:
        self._stop.set()
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (lease_key(self.import_id),))
            except psycopg.Error:
                pass
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass


# One lease per import per process: the steps of a run share it (the run executes in one process).
_leases: dict[str, ImportLease] = {}
_labelled: set[int] = set()


def hold(engine: Engine, import_id: str, run_id: str | None = None) -> ImportLease:
    """The lease of this process for the import, taken (again, after a database restart) if need be;
    from now on the engine's sessions carry the run's label and lock timeout."""
    lease = _leases.get(str(import_id))
    if lease is None or (run_id is not None and lease.run_id != run_id):
        if lease is not None:
            lease.release()
        lease = _leases[str(import_id)] = ImportLease(engine, import_id, run_id)
    _label_sessions(engine)
    lease.acquire()
    return lease


def let_go(import_id: str) -> None:
    lease = _leases.pop(str(import_id), None)
    if lease is not None:
        lease.release()


def _label_sessions(engine: Engine) -> None:
    if id(engine) not in _labelled:
        _labelled.add(id(engine))
        sa.event.listen(engine, "checkout", _apply_run_settings)


def _apply_run_settings(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """On each checkout: the session names the run this process works on (the newest lease), with
    its lock timeout; set once per connection and label."""
    if not _leases:
        return
    label = run_label(next(reversed(_leases)))
    if record.info.get("roster_label") == label:
        return
    with dbapi_connection.cursor() as cur:
        cur.execute(
            "SELECT set_config('application_name', %s, false), set_config('lock_timeout', %s, false)",
            (label, RUN_LOCK_TIMEOUT),
        )
    dbapi_connection.commit()
    record.info["roster_label"] = label
