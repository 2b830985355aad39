"""Dagster resources: where the import's work is done (the assets stay thin)."""
