"""Sensors that start imports and keep their status true.

- queued_imports: every import recorded as queued (the REST API, `roster imports create --queue`,
  an import the watchdog put back) gets its partition and a run within seconds, in its turn: only
  a team's oldest unfinished import is started (roster/store/imports.claim_queued), so a team's
  imports apply in the order they were posted even when one dies and is retried; the instance's
  run queue applies the limits.
A run that fails in a step marks its import failed itself (assets/step.py); a run that dies is
the watchdog's (pipelines/watchdog.py).
"""

from dagster import DagsterRunStatus, DefaultSensorStatus, RunRequest, RunsFilter, SensorEvaluationContext, SensorResult, sensor

from assets.partitions import contact_imports
from pipelines.jobs import contact_import_job
from resources.database import Database
from roster.store import imports

# Runs of one import the queue starts before giving up on it (the watchdog's attempts, plus one).
MAX_LAUNCHES = 4
UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def partition_runs(instance, import_id: str, statuses=None) -> list:
    return list(
        instance.get_runs(
            RunsFilter(job_name=contact_import_job.name, tags={"dagster/partition": import_id}, statuses=statuses or [])
        )
    )


@sensor(job=contact_import_job, minimum_interval_seconds=1, default_status=DefaultSensorStatus.RUNNING)
def queued_imports(context: SensorEvaluationContext, database: Database) -> SensorResult:
    engine = database.engine()
    claimed = imports.claim_queued(engine)
    requests = []
    for c in claimed:
        runs = partition_runs(context.instance, c["id"])
        if any(r.status in UNFINISHED for r in runs):
            continue  # a run for it is queued or running already (a claim renewed while it waits)
        if len(runs) >= MAX_LAUNCHES:
            imports.fail_if_unfinished(
                engine, c["id"], f"the import's runs failed {len(runs)} times before it could start; see them in the Dagster UI"
            )
            continue
        requests.append(
            RunRequest(
                # One key per launch: a claim repeated after a lost launch never starts a second run,
                # and an import the watchdog put back gets a run of its own.
                run_key=f"{c['id']}:{len(runs)}",
                partition_key=c["id"],
                tags={"roster/team": c["team"], "roster/source": c["source"]},
            )
        )
    if not requests:
        return SensorResult(skip_reason="no queued imports")
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[contact_imports.build_add_request([r.partition_key for r in requests])],
    )
