"""Where uploaded files wait for their import (roster/landing.py does the work)."""

from __future__ import annotations

from dagster import ConfigurableResource

from roster.importing.landed import landing_store
from roster.landing import LandingStore


class Landing(ConfigurableResource):
    """root: the landing folder; left out, $ROSTER_DATA_DIR/landing. ROSTER_LANDING=postgres keeps
    uploads in the database too (roster/landing.py), for workers on several machines."""

    root: str | None = None

    def store(self) -> LandingStore:
        return landing_store(self.root)
