"""Where uploaded files wait for their import (roster/landing.py does the work)."""

from __future__ import annotations

from dagster import ConfigurableResource

from roster.landing import LandingStore


class Landing(ConfigurableResource):
    """root: the landing folder; left out, $ROSTER_DATA_DIR/landing."""

    root: str | None = None

    def store(self) -> LandingStore:
        return LandingStore(self.root)
