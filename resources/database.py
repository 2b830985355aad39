"""The PostgreSQL the import works on."""

from __future__ import annotations

from dagster import ConfigurableResource
from sqlalchemy.engine import Engine

from roster.database import engine_for, get_engine


class Database(ConfigurableResource):
    """url: a PostgreSQL URL; left out, DATABASE_URL or the embedded server (roster/database.py)."""

    url: str | None = None

    def engine(self) -> Engine:
        return engine_for(self.url) if self.url else get_engine()
