"""The Dagster resources of the import job: thin, configurable from the UI or run config, each
building a plain object of the import core (roster/) that does the work."""
