"""The Dagster code location: definitions, the import job, partitions, sensors and schedules."""
