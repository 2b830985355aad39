"""Where the API keeps the state every API process must share (idempotency keys, rate-limit
buckets): PostgreSQL, which Roster needs anyway. README "One API, many processes" says why not Redis.

The statements here run once or twice per request, so they get pools of their own: autocommit
(one round trip per statement, no BEGIN/COMMIT) and no pre-ping (another round trip per checkout);
a connection the server dropped is retried once instead. The default pool commits without
waiting for the disk (synchronous_commit off): rate-limit buckets are UNLOGGED anyway, and an
idempotency claim, lease or release matters only while its request runs (whose own commits flush
it). The first response of a key is written through the durable pool.

The cleanup of expired rows runs from the request path, at most once a minute per process and
one process at a time, so a server that runs without ASGI lifespan events (as the tests do)
still cleans up.

This state is the API process's own, so its SQL stays here and in idempotency.py and ratelimit.py
rather than in roster/store: each statement is a step of one protocol (a claim, a lease, a GCRA
bucket) that only this package runs, on these pools, and reads best next to the protocol.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from roster.runtime.settings import get_settings

log = logging.getLogger("roster.api")
T = TypeVar("T")

# Worker threads for the state's statements, apart from the ones sync routes share (40): slow
# routes must not hold up rate-limit checks or the lease renewals that keep a running key ours.
THREADS = 20
CLEANUP_INTERVAL = 60.0
CLEANUP_BATCH = 5_000
CLEANUP_MAX_BATCHES = 200  # 1M rows per run at most; the next run goes on
# Any fixed number: one process at a time cleans up (the others skip that minute).
_CLEANUP_LOCK = 7_432_016


@functools.cache
def _engine_for(url: str, durable: bool) -> Engine:
    engine = sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_size=2 if durable else 5,
        max_overflow=THREADS - 2 if durable else THREADS - 5,
        pool_timeout=10,
    )
    if not durable:

        @sa.event.listens_for(engine, "connect")
        def _no_disk_wait(dbapi_connection: Any, _record: object) -> None:
            with dbapi_connection.cursor() as cur:
                cur.execute("SET synchronous_commit = off")
            dbapi_connection.commit()

    return engine


_engines: dict[tuple[str | None, bool], Engine] = {}


def state_engine(durable: bool = False) -> Engine:
    # Resolving the URL and the migration check cost ~0.1 ms: once per DATABASE_URL, not per statement.
    key = (get_settings().database_url, durable)
    engine = _engines.get(key)
    if engine is None:
        from roster.runtime.database import database_url, get_engine

        get_engine()  # migrates the database on first use
        engine = _engines[key] = _engine_for(database_url(), durable)
    return engine


def run(fn: Callable[[Connection], T], durable: bool = False) -> T:
    """fn on a connection of a state pool; once more on a fresh connection if the first was dead."""
    engine = state_engine(durable)
    try:
        with engine.connect() as conn:
            return fn(conn)
    except sa.exc.DBAPIError as e:
        if not e.connection_invalidated:
            raise
    with engine.connect() as conn:
        return fn(conn)


_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


async def call(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in a worker thread under the state's own limiter (one per event loop)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(THREADS)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


DELETE_EXPIRED_KEYS = sa.text("""
DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT :n))
""")
# A bucket whose tat has passed is full: the same as no row.
DELETE_FULL_BUCKETS = sa.text("""
DELETE FROM api_rate_limits WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM api_rate_limits WHERE tat < extract(epoch from now())::float8 LIMIT :n))
""")


def cleanup(conn: Connection) -> dict[str, int]:
    """Delete expired idempotency keys and full rate-limit buckets, in small batches (short locks)."""
    deleted = {"idempotency_keys": 0, "api_rate_limits": 0}
    if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _CLEANUP_LOCK}).scalar():
        return deleted
    try:
        for table, statement in (("idempotency_keys", DELETE_EXPIRED_KEYS), ("api_rate_limits", DELETE_FULL_BUCKETS)):
            for _ in range(CLEANUP_MAX_BATCHES):
                n = conn.execute(statement, {"n": CLEANUP_BATCH}).rowcount
                deleted[table] += n
                if n < CLEANUP_BATCH:
                    break
    finally:
        conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _CLEANUP_LOCK})
    return deleted


class Janitor:
    """Runs `cleanup` in a thread of its own when a request comes and the last run is `interval` old."""

    def __init__(self, interval: float = CLEANUP_INTERVAL):
        self.interval = interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                return
            self._last = now
        threading.Thread(target=self._run, name="roster-api-cleanup", daemon=True).start()

    @staticmethod
    def _run() -> None:
        try:
            deleted = run(cleanup)
            if any(deleted.values()):
                log.info("API state cleanup: %s", deleted)
        except Exception:
            log.exception("API state cleanup failed; it runs again in a minute")
