"""Apply the Alembic migrations: on first use of a database, and by `roster db upgrade`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: it serialises processes that migrate the same database at the same moment.
_ADVISORY_LOCK = 7_432_001
_migrated: set[str] = set()


def upgrade(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def upgrade_once(engine: Engine) -> None:
    """Migrate a database the first time this process uses it."""
    key = engine.url.render_as_string(hide_password=True)
    if key not in _migrated:
        upgrade(engine)
        _migrated.add(key)
