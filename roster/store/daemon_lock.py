"""One Dagster daemon per database: the daemon holds an advisory lock for its whole life.

Two daemons on one instance (a rolling update that starts the new one first, a second one started
"for high availability") would both run the sensors and the run queue, and launch runs twice. The
daemon's run coordinator takes this lock as the daemon starts (pipelines/run_coordinator.py),
before any sensor or queue runs. A second daemon finds it held, says by whom, and waits as a
standby: it starts working the moment the first one's session ends (it stopped, died, or its
machine was lost: TCP keepalives end the session within about a minute).

A daemon whose lock session is lost (the database restarted) takes the lock again; if a standby
took it meanwhile, it exits, saying so, rather than run beside it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

# A two-int advisory key ("rost", 1): pg_locks shows it with objsubid 2, apart from the import
# leases' bigint keys (roster/store/leases.py).
LOCK = (0x726F7374, 1)
STANDBY_POLL_SECONDS = 2.0
WATCH_SECONDS = 5.0
_KEEPALIVE = "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 4"


def _label() -> str:
    return f"roster daemon {socket.gethostname()[:30]} pid {os.getpid()}"


def holder(conn: psycopg.Connection) -> str | None:
    """Who holds the lock, in words, or None."""
    row = conn.execute(
        "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 AND l.granted",
        LOCK,
    ).fetchone()
    if row is None:
        return None
    name, addr, since = row
    where = f" from {addr}" if addr else ""
    return f"{name or 'another session'}{where}, since {since:%Y-%m-%d %H:%M:%S %Z}"


class DaemonLock:
    def __init__(self, url: str, say: Callable[[str], None] | None = None):
        self._url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self._conn: psycopg.Connection | None = None
        self._stopped = threading.Event()

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self._url, autocommit=True, application_name=_label())
        if conn.info.host and not conn.info.host.startswith("/"):
            conn.execute(_KEEPALIVE)
        return conn

    def _try(self, conn: psycopg.Connection) -> bool:
        return bool(conn.execute("SELECT pg_try_advisory_lock(%s, %s)", LOCK).fetchone()[0])  # type: ignore[index]  # a SELECT of a function has a row

    def take(self) -> None:
        """Hold the lock, waiting as a standby (and saying so, once) while another daemon holds it;
        then keep watching it."""
        conn = self._connect()
        said = False
        while not self._try(conn):
            if not said:
                self._say(
                    f"roster: another dagster-daemon already works on this database ({holder(conn) or 'it is just stopping'}); "
                    "this one waits as a standby, launching nothing, and takes over when that one stops"
                )
                said = True
            time.sleep(STANDBY_POLL_SECONDS)
        if said:
            self._say("roster: the other dagster-daemon stopped; this one takes over")
        self._conn = conn
        threading.Thread(target=self._watch, name="roster daemon lock", daemon=True).start()

    def release(self) -> None:
        """Stop holding (a daemon stopping does it by ending its process)."""
        self._stopped.set()
        if self._conn is not None:
            self._conn.close()

    def _watch(self) -> None:
        while not self._stopped.wait(WATCH_SECONDS):
            try:
                self._conn.execute("SELECT 1")  # type: ignore[union-attr]  # set while it is watched
                continue
            except psycopg.Error:
                pass
            while not self._stopped.is_set():  # the session is gone (the database restarted): take the lock again
                try:
                    conn = self._connect()
                except psycopg.Error:
                    time.sleep(1)
                    continue
                if self._try(conn):
                    self._conn = conn
                    break
                if self._stopped.is_set():
                    return
                self._say(f"roster: this dagster-daemon lost its lock to another one ({holder(conn) or 'unknown'}); it stops")
                os._exit(3)
