-- Dagster's own storage lives in a database of its own: its migrations and Roster's both keep an
-- alembic_version table.
CREATE DATABASE dagster OWNER roster;
