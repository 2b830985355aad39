"""Roster: bulk contact imports into PostgreSQL, orchestrated by Dagster."""
