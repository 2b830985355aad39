"""Where uploaded files wait for their import (roster/landing/ does the work)."""

from __future__ import annotations

from dagster import ConfigurableResource

from roster.landing import LandingStore, landing_store


class Landing(ConfigurableResource):
    """root: the landing folder; left out, $ROSTER_DATA_DIR/landing. ROSTER_LANDING=postgres keeps
    uploads in the database too (roster/landing/postgres.py), for workers on several machines."""

    root: str | None = None

    def store(self) -> LandingStore:
        return landing_store(self.root)
