"""The PostgreSQL the import works on; a contact_import run holds its import's lease from its start."""

from __future__ import annotations

from dagster import ConfigurableResource, InitResourceContext
from sqlalchemy.engine import Engine

from roster.runtime.database import engine_for, get_engine
from roster.store.leases import ImportBusy, hold
from schemas.rules import is_uuid


class Database(ConfigurableResource):
    """url: a PostgreSQL URL; left out, DATABASE_URL or the embedded server (roster/runtime/database.py)."""

    url: str | None = None

    def engine(self) -> Engine:
        return engine_for(self.url) if self.url else get_engine()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """A run of an import takes the import's lease as its resources are set up, before its
        first step: from its start, the watchdog sees it alive (pipelines/watchdog.py). A lease
        it cannot take here (another run holds it, the database is restarting) is the first
        step's to take or refuse (assets/step.py)."""
        run = context.dagster_run
        import_id = run.tags.get("dagster/partition") if run is not None else None
        if run is None or run.job_name != "contact_import" or not is_uuid(import_id or ""):
            return
        try:
            hold(self.engine(), import_id, run.run_id)  # type: ignore[arg-type]  # an id: is_uuid above
        except ImportBusy:
            return
        except Exception as e:  # noqa: BLE001  the first step takes it again, or says why it cannot
            if context.log is not None:
                context.log.warning(f"could not take the lease of import {import_id} yet: {e}")
            return
