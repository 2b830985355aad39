"""Sensors that start imports and keep their status true.

- queued_imports: every import recorded as queued (the REST API, `roster imports create --queue`)
  gets its partition and a run within seconds; the instance's run queue applies the limits.
- import_run_failures: a run that died (killed, lost its machine) marks its import failed.
"""
from dagster import (
    DefaultSensorStatus, RunFailureSensorContext, RunRequest, SensorEvaluationContext, SensorResult,
    run_failure_sensor, sensor,
)

from pipelines.jobs import contact_import_job
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore


@sensor(job=contact_import_job, minimum_interval_seconds=2, default_status=DefaultSensorStatus.RUNNING)
def queued_imports(context: SensorEvaluationContext, contact_store: ContactStore) -> SensorResult:
    claimed = contact_store.claim_queued()
    if not claimed:
        return SensorResult(skip_reason="no queued imports")
    return SensorResult(
        run_requests=[
            # run_key: a claim repeated after a lost launch never starts a second run.
            RunRequest(run_key=c["id"], partition_key=c["id"], tags={"roster/team": c["team"], "roster/source": c["source"]})
            for c in claimed
        ],
        dynamic_partitions_requests=[contact_imports.build_add_request([c["id"] for c in claimed])],
    )


@run_failure_sensor(monitored_jobs=[contact_import_job], default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=5)
def import_run_failures(context: RunFailureSensorContext) -> None:
    import_id = context.dagster_run.tags.get("dagster/partition")
    if not import_id:
        return
    reason = context.failure_event.message or "the run failed"
    if ContactStore().fail_if_unfinished(import_id, f"the import's run {context.dagster_run.run_id} failed: {reason}"):
        context.log.info(f"marked import {import_id} failed")
