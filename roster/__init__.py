"""Roster: bulk contact imports into PostgreSQL, orchestrated by Dagster."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the type checker sees of the lazy names below
    from roster.client import AsyncRoster, Roster

__all__ = ["Roster", "AsyncRoster"]


def __getattr__(name: str) -> Any:
    # Lazy: the SDK (httpx) is loaded only by those who use it, not by the pipeline.
    if name in ("Roster", "AsyncRoster"):
        from roster import client

        return getattr(client, name)
    raise AttributeError(f"module 'roster' has no attribute {name!r}")
