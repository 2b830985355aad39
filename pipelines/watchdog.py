"""The watchdog: no import stays `in_progress` without a live run, and no crash leaves tables behind.

Who notices a dead run:
- A run the daemon launched (API, drop folder, CRM sync, the UI): Dagster's run monitoring asks its
  code server (pipelines/run_launcher.py), fails it within about 40 s of the daemon being up,
  and the daemon's run retries start it again (pipelines/jobs.py).
- What Dagster cannot see, this thread of the daemon covers, every 15 s (ROSTER_WATCHDOG_TICK_SECONDS),
  through the import's lease (a PostgreSQL advisory lock the live run holds; roster/store/leases.py):
  - a run that never had a code server (`roster import`, `dagster job execute`) whose process died:
    the run is failed in Dagster, and the import is put back in the queue;
  - an import still `in_progress` whose run ended without a retry to come (retries used up,
    canceled, a retry that was never launched, the run's record gone): put back in the queue while
    it has attempts left, else failed with a reason;
  - staging tables of imports that ended, left by a crash: dropped.
  - a run that holds its lease but makes no progress (its heartbeat, a statement the run's
    process runs every 5 s on the lease's session, silent for STUCK_SECONDS: frozen by SIGSTOP, a
    hung machine): its sessions are ended (their statements and locks go), the import no longer
    names the run (so it stops if it wakes up), and the run is failed, which the daemon retries.
An import counts as dead only after three ticks in a row with nobody holding its lease, counted
while no run of it waits in the queue, and never before its live run has had START_GRACE_SECONDS
to take its lease (every run takes it as it starts, before its first step): a run that is
starting, waited long in the queue, or is reconnecting after a database restart is left alone.
A slow run is never touched: its heartbeat goes on whatever its statements take.

It is a thread of the daemon (started with the daemon lock held, as the launcher and the webhook
sender: pipelines/run_coordinator.py), not a sensor: a sensor's tick is a gRPC call to the code
server, which builds a Dagster instance for it, and tick records in the schedule storage, about
half of what an idle `roster serve` spent (bench/idle_cpu.py). A tick here is a few queries. What
it did is logged (logger `roster.watchdog`) and written where it matters: the failed run's reason
in Dagster, the import's note.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, TypedDict

from dagster import DagsterInstance, DagsterRunStatus
from sqlalchemy.engine import Engine

from pipelines.sensors import partition_runs, retry_coming
from roster.runtime.settings import get_settings
from roster.store import imports, staging
from roster.store.leases import STUCK_SECONDS, Holder, disown, end_sessions, held_leases, holder

# Runs of an import (retries included) that reached its first step (`contact_imports.attempts`)
# before the watchdog gives up on it; a run that never started working does not count (its own
# bound is the queue's: pipelines/sensors.py).
MAX_ATTEMPTS = 3
# ROSTER_WATCHDOG_TICK_SECONDS, read when the daemon loads this module (15 s).
TICK_SECONDS = get_settings().watchdog_tick_seconds
# Longer than a live run goes without its lease: after a database restart it takes the lease again
# at its next step attempt, within the step's backoff (assets/step.py).
DEAD_AFTER_TICKS = 3
# A started run is Dagster's run monitoring's to fail first (for a warm worker or a code server it
# knows within seconds to 40 s); the watchdog steps in if it has not by then (a code server whose
# cleanup thread died, say when its storage was read-only, still lists its dead runs as running).
MONITORING_GRACE_SECONDS = 30
# A run that has just started (however long it waited in the queue) has this long to take its
# lease before the watchdog counts it as dead; it takes it within a second or two.
START_GRACE_SECONDS = 60
_WAITING = {DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING}
_RUNNING = {DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING}
log = logging.getLogger("roster.watchdog")


class Suspect(TypedDict):
    ticks: int  # ticks in a row without the lease
    since: float  # first seen so


class Watchdog:
    """The watchdog's thread: a tick at once, then one every TICK_SECONDS. What it suspects is kept
    between ticks in memory: a daemon that starts again counts from zero, which only waits longer."""

    name = "roster watchdog"

    def __init__(self, instance: DagsterInstance, url: str, tick_seconds: float = TICK_SECONDS):
        self._instance = instance
        self._url = url
        self._tick_seconds = tick_seconds
        self._suspects: dict[str, Suspect] = {}  # import id -> how long nobody held its lease
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name.replace(" ", "-"), daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        from roster.runtime.database import engine_for

        engine = engine_for(self._url)
        while not self._stopping.is_set():
            try:
                for action in self.tick(engine):
                    log.warning("%s: %s", self.name, action)
            except Exception:  # the database restarted, say: the next tick tries again
                log.warning("%s: a tick failed; the next one tries again", self.name, exc_info=True)
            self._stopping.wait(self._tick_seconds)

    def tick(self, engine: Engine) -> list[str]:
        """One look: what it did, in words."""
        actions, self._suspects = look(self._instance, engine, self._suspects)
        return actions


def look(instance: DagsterInstance, engine: Engine, suspects: dict[str, Suspect]) -> tuple[list[str], dict[str, Suspect]]:
    """One tick: (what was done, the suspects to count on from the next tick)."""
    held = held_leases(engine)
    now = time.time()
    actions: list[str] = []
    still: dict[str, Suspect] = {}
    for imp in imports.unfinished(engine):
        if imp["status"] != "in_progress":
            continue
        lease = holder(held, imp["id"])
        if lease is not None:
            if lease["silent"] >= STUCK_SECONDS:
                actions.append(_unstick(instance, engine, imp, lease))
            continue
        if _starting(instance, imp["id"], now):
            continue  # a run waits in the queue or has just started: it takes the lease as it starts
        seen = suspects.get(imp["id"]) or Suspect(ticks=0, since=now)
        seen = Suspect(ticks=seen["ticks"] + 1, since=seen["since"])
        if seen["ticks"] < DEAD_AFTER_TICKS:
            still[imp["id"]] = seen
            continue
        action = _settle(instance, engine, imp, now - seen["since"])
        if action:
            actions.append(action)
        else:
            still[imp["id"]] = seen
    staged = staging.staged_imports(engine)
    for import_id in set(staged) - imports.live_ids(engine, staged):
        staging.drop(engine, import_id)
        actions.append(f"dropped the staging table of ended import {import_id}")
    return actions, still


def _settle(instance: DagsterInstance, engine: Engine, imp: dict[str, Any], dead_for: float) -> str | None:
    """What to do about an in_progress import nobody works on; None to look again next tick."""
    runs = partition_runs(instance, imp["id"])  # newest first
    if any(r.status in _WAITING for r in runs):
        return None  # a run (a retry, say) waits in the queue to take it
    live = [r for r in runs if r.status in _RUNNING]
    if live:
        if dead_for < MONITORING_GRACE_SECONDS:
            return None  # Dagster's run monitoring will fail it, and the daemon retry it
        for run in live:
            instance.report_run_failed(run, "its process is gone: nobody holds the import's lease (roster watchdog)")
        runs = partition_runs(instance, imp["id"])
    # Whatever is left of a dead run in PostgreSQL (a statement its machine's loss left running) goes now.
    end_sessions(engine, import_id=imp["id"])
    if imp["merged_at"] is not None:  # everything is in; only the word "completed" was missing
        imports.complete(engine, imp["id"])
        return f"import {imp['id']}: merged before its run died, marked completed"
    latest = runs[0] if runs else None
    if latest is not None and retry_coming(instance, latest):
        return None
    if latest is not None and latest.status == DagsterRunStatus.CANCELED:
        imports.fail_if_unfinished(
            engine, imp["id"], f"the import's run was canceled; run it again to finish it (`roster imports run {imp['id']}`)"
        )
        return f"import {imp['id']}: its run was canceled, marked failed"
    if imp["attempts"] < MAX_ATTEMPTS:
        imports.requeue(engine, imp["id"], f"its run died (attempt {imp['attempts']}); queued again")
        return f"import {imp['id']}: its run died, queued again (attempt {imp['attempts'] + 1} of {MAX_ATTEMPTS})"
    imports.fail_if_unfinished(
        engine,
        imp["id"],
        f"the import's run died {imp['attempts']} times; no contacts were changed. "
        f"Run it again (`roster imports run {imp['id']}`) once the cause is fixed (see its runs in the Dagster UI).",
    )
    return f"import {imp['id']}: its run died {imp['attempts']} times, marked failed"


def _starting(instance: DagsterInstance, import_id: str, now: float) -> bool:
    """A run of the import waits in the queue, or started less than START_GRACE_SECONDS ago."""
    for run in partition_runs(instance, import_id):
        if run.status in _WAITING:
            return True
        if run.status in _RUNNING:
            record = instance.get_run_record_by_id(run.run_id)
            if record is None:
                continue
            started = record.start_time or record.update_timestamp.timestamp()
            if now - started < START_GRACE_SECONDS:
                return True
    return False


def _unstick(instance: DagsterInstance, engine: Engine, imp: dict[str, Any], lease: Holder) -> str:
    """A run that holds the lease but has not beaten for STUCK_SECONDS: the import stops naming it,
    its sessions end, and its run is failed (the daemon retries it; with no run, the lease-less
    import is settled on the next ticks)."""
    silent = int(lease["silent"])
    disown(engine, imp["id"])
    ended = end_sessions(engine, label=lease["label"], pid=lease["pid"])
    failed = 0
    for run in partition_runs(instance, imp["id"]):
        if run.status in _RUNNING:
            instance.report_run_failed(
                run,
                f"its process made no progress for {silent} s (frozen or hung): its {ended} database "
                "sessions were ended, and the import will be retried (roster watchdog)",
            )
            failed += 1
    return f"import {imp['id']}: its run was silent for {silent} s; ended {ended} sessions, failed {failed} run(s)"
