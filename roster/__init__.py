"""Roster: bulk contact imports into PostgreSQL, orchestrated by Dagster."""

__all__ = ["Roster", "AsyncRoster"]


def __getattr__(name: str):
    # Lazy: the SDK (httpx) is loaded only by those who use it, not by the pipeline.
    if name in ("Roster", "AsyncRoster"):
        from roster import client

        return getattr(client, name)
    raise AttributeError(f"module 'roster' has no attribute {name!r}")
