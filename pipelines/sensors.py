"""Sensors that start imports and keep their status true.

- queued_imports: every import recorded as queued (the REST API, `roster imports create --queue`,
  an import the watchdog put back) gets its partition and a run in its turn, at once from the
  launcher a notification wakes (pipelines/launcher.py), else within 30 s from this sensor: only
  a team's oldest unfinished import is started (roster/store/imports.claim_queued), so a team's
  imports apply in the order they were posted even when one dies and is retried; the instance's
  run queue applies the limits.
A run that fails in a step marks its import failed itself (assets/step.py); a run that dies is
the watchdog's (pipelines/watchdog.py).
"""

import time

from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from sqlalchemy.engine import Engine

from assets.partitions import contact_imports
from pipelines.jobs import contact_import_job
from resources.database import Database
from roster.importing.launches import worked
from roster.runtime.settings import get_settings
from roster.store import imports

# The retry budget: runs of one import that failed while working on it (they got to its first
# step in their turn: roster/importing/launches.worked) before the queue gives up on it (the
# watchdog's attempts, plus one).
MAX_LAUNCHES = 4
# Runs that never started working count apart, with a larger bound: a launch that failed, a start
# that timed out (storage briefly read-only), a run failed by run monitoring while STARTING or
# canceled before its first step, a run that gave back its slot. Such events are recoverable and
# do not use up the retry budget, but a launch broken for good still ends the import `failed`.
# Each round is the run and its 2 daemon retries, then the queue waits 2 minutes for the next
# (claim_queued's stale launch): the default gives up after 4 rounds, about 10 minutes.
MAX_UNSTARTED_LAUNCHES = max(get_settings().max_unstarted_launches, 1)
# A failed run the daemon said it would retry: how long to wait for that retry to appear (its
# retry daemon looks every 5 s).
RETRY_GRACE_SECONDS = 60
UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def partition_runs(instance: DagsterInstance, import_id: str, statuses: list[DagsterRunStatus] | None = None) -> list[DagsterRun]:
    return list(
        instance.get_runs(
            RunsFilter(job_name=contact_import_job.name, tags={"dagster/partition": import_id}, statuses=statuses or [])
        )
    )


class Launch(imports.Claim):
    """A claimed import to start a run for (claim_launches)."""

    launch: int  # how many runs the import had before this one (a run key per launch)


def claim_launches(instance: DagsterInstance, engine: Engine) -> list[Launch]:
    """The queued imports whose turn it is, claimed (roster/store/imports.claim_queued), each with
    `launch`: how many runs it has had. Claims that already have a run waiting or running are
    left out; one whose runs failed MAX_LAUNCHES times is failed instead. The queued-imports sensor
    and the launcher (pipelines/launcher.py) both start runs for exactly these."""
    launches: list[Launch] = []
    for c in imports.claim_queued(engine, stale_after_seconds=get_settings().launch_lost_seconds):
        runs = partition_runs(instance, c["id"])
        if any(r.status in UNFINISHED or retry_coming(instance, r) for r in runs):
            # A run for it is queued or running already, or the daemon is about to retry one that
            # failed (a claim renewed while it waits): a run of our own would be one too many.
            continue
        reason = _out_of_launches(c["id"], runs)
        if reason:
            imports.fail_if_unfinished(engine, c["id"], reason)
            continue
        launches.append({**c, "launch": len(runs)})
    return launches


# An import is started at once by the launcher, which a notification wakes (pipelines/launcher.py);
# this tick catches what it missed (a daemon without the launcher, a claim whose launch was lost).
BACKSTOP_SECONDS = 30


@sensor(job=contact_import_job, minimum_interval_seconds=BACKSTOP_SECONDS, default_status=DefaultSensorStatus.RUNNING)
def queued_imports(context: SensorEvaluationContext, database: Database) -> SensorResult:
    requests = [
        RunRequest(
            # One key per launch: a claim repeated after a lost launch never starts a second run,
            # and an import the watchdog put back gets a run of its own.
            run_key=f"{c['id']}:{c['launch']}",
            partition_key=c["id"],
            tags={"roster/team": c["team"], "roster/source": c["source"]},
        )
        for c in claim_launches(context.instance, database.engine())
    ]
    if not requests:
        return SensorResult(skip_reason="no queued imports")
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[contact_imports.build_add_request([r.partition_key for r in requests])],
    )


def retry_coming(instance: DagsterInstance, run: DagsterRun) -> bool:
    """The daemon said it will retry this failed run (or has not said yet: Dagster tags a run a
    moment after it marks it failed, longer on a busy SQLite storage), can (it knows the run's code
    location), has not yet, and it is early enough to wait for it."""
    if run.status != DagsterRunStatus.FAILURE or not instance.run_retries_enabled:
        return False
    if run.tags.get("dagster/will_retry", "true") != "true":
        return False
    if "dagster/auto_retry_run_id" in run.tags or run.remote_job_origin is None:
        return False
    record = instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record and record.end_time else time.time()
    return time.time() - ended < RETRY_GRACE_SECONDS


def _out_of_launches(import_id: str, runs: list) -> str | None:
    """Why the queue gives up on the import (every run of it has ended), or None."""
    working = sum(1 for r in runs if worked(r))
    unstarted = len(runs) - working
    again = f"Run it again (`roster imports run {import_id}`) once the cause is fixed."
    if working >= MAX_LAUNCHES:
        return f"the import's runs failed {working} times while importing; see them in the Dagster UI. {again}"
    if unstarted >= MAX_UNSTARTED_LAUNCHES:
        return (
            f"the import's runs never started, {unstarted} times (their launch failed, or their start timed out); "
            f"see them in the Dagster UI. {again}"
        )
    return None
