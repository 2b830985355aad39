"""Alembic environment: runs against the connection `schemas.migrate` hands it."""

from alembic import context

from schemas.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
