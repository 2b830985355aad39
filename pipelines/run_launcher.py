"""Dagster's default run launcher, plus a run worker kept ready, and the worker health check its
run monitoring asks for.

An import's run starts in a worker process that has already loaded Dagster and the code location
(pipelines/warm_run.py): the launcher keeps one waiting and hands it the next contact_import run,
then starts another for the run after, once the run's own worker has loaded (two processes
loading at once on two busy cores made the first run after a daemon start wait twice as long,
with its import `queued` all that time). That saves the 2-3 s a new process spends importing
before the run's first step, which was most of an import's time from POST to `completed`. Each
run still has a process of its own. The worker's pid is the run's `roster/worker_pid` tag: the
health check below asks whether that process lives. Any other run, or a contact_import run when a
worker cannot be started, is launched as Dagster's default launcher does (through a code server).

Dagster's `DefaultRunLauncher` (a run is a process spawned by a code server) cannot tell the
monitoring daemon whether a run's process still lives, so a run whose worker died stays STARTED
for good, holding its team's slot in the run queue. This launcher asks the code server that
launched the run whether it still runs it (`CanCancelExecution`, which is true exactly while the
run's process lives). Two "no" answers in a row (a code server that is gone counts as "no"), one
monitoring tick apart, and the run is failed; the daemon's run retries then start it again.

Runs launched without a code server (`roster import`, `dagster job execute`) carry no address to
ask: the watchdog sensor (pipelines/watchdog.py) watches those through the import's lease.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from dagster import DefaultRunLauncher, Field

from pipelines.dagster_internals import (
    GRPC_INFO_TAG,
    CheckRunHealthResult,
    ConfigurableClassData,
    DagsterRun,
    LaunchRunContext,
    WorkerStatus,
)
from pipelines.run_queue import admit
from roster.runtime.faults import fault_point

# Consecutive ticks a run must be missing before it is failed: a run that has just ended (its
# SUCCESS event not read yet) or a code server restarting is not a dead run.
MISSES_BEFORE_FAILED = 2
ASK_TIMEOUT_SECONDS = 5
# How long after a worker exits its run must have ended, or it is failed.
DEATH_GRACE_SECONDS = 2
# The longest the next spare waits for the run's worker to load (it says "ready" on stdout).
READY_WAIT_SECONDS = 300
WORKER_TAG = "roster/worker_pid"
WORKER_MODULE = "pipelines.warm_run"


class MonitoredRunLauncher(DefaultRunLauncher):
    def __init__(self, inst_data: ConfigurableClassData | None = None, warm_worker: bool = True) -> None:
        super().__init__(inst_data=inst_data)
        self._misses: dict[str, int] = {}
        self._warm = warm_worker
        self._spare: subprocess.Popen | None = None
        self._workers: dict[str, subprocess.Popen] = {}  # run id -> its worker, until it ends
        self._disposed = False
        self._lock = threading.Lock()

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"warm_worker": Field(bool, is_required=False, default_value=True)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data, **config_value)

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if not admit(self._instance, run):  # launched already, or back in the queue (pipelines/run_queue.py)
            return
        if run.job_name == "contact_import":
            fault_point("launch")  # tests make launches fail here (roster/runtime/faults.py)
        if not (self._warm and run.job_name == "contact_import" and run.job_code_origin is not None):
            return super().launch_run(context)
        with self._lock:
            self._reap()
            worker = self._hand_over(run.run_id)
            if worker is None:
                return super().launch_run(context)
            self._workers[run.run_id] = worker
        threading.Thread(target=self._start_spare_when_ready, args=(worker,), daemon=True).start()
        threading.Thread(target=self._fail_if_it_dies, args=(run.run_id, worker), daemon=True).start()

    def _start_spare_when_ready(self, worker: subprocess.Popen) -> None:
        """The next run's worker, loading while this run works, but only once this run's worker
        has loaded: at once when it was the waiting spare, later when it was started cold."""
        worker.ready.wait(READY_WAIT_SECONDS)
        with self._lock:
            if self._spare is None and not self._disposed:
                self._spare = self._start_worker()

    def _fail_if_it_dies(self, run_id: str, worker: subprocess.Popen) -> None:
        """A worker that exits before its run ended (SIGKILL, OOM) fails the run at once, as a code
        server does for the run processes it spawned; run monitoring would take two ticks (~40 s).
        The daemon's run retries then start it again."""
        code = worker.wait()
        time.sleep(DEATH_GRACE_SECONDS)  # a run that just ended has its last events written by now
        try:
            run = self._instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                return
            self._instance.report_engine_event(
                f"The run's worker (pid {worker.pid}) exited with code {code} before the run ended.", run, cls=type(self)
            )
            self._instance.report_run_failed(run)
        except Exception:  # the instance is going away with the daemon: run monitoring settles it later
            return

    def _start_worker(self) -> subprocess.Popen | None:
        from pipelines.dagster_internals import serialize_value

        try:
            worker = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, serialize_value(self._instance.get_ref())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        except OSError:
            return None
        worker.ready = threading.Event()  # set once it has loaded (or exited)
        threading.Thread(target=_watch_stdout, args=(worker,), daemon=True).start()
        return worker

    def _hand_over(self, run_id: str) -> subprocess.Popen | None:
        """The waiting worker (or a new one, if it died or there is none) with the run id sent;
        the run's tag names its pid before it starts, so the health check can find it."""
        spare, self._spare = self._spare, None
        for worker in (spare, None):
            worker = worker or self._start_worker()
            if worker is None or worker.poll() is not None:
                continue
            self._instance.add_run_tags(run_id, {WORKER_TAG: str(worker.pid)})
            try:
                worker.stdin.write(run_id + "\n")
                worker.stdin.close()
                return worker
            except OSError:  # it died just now: try a new one
                worker.kill()
        return None

    def _reap(self) -> None:
        """Forget (and reap) the workers whose runs ended."""
        for run_id, worker in list(self._workers.items()):
            if worker.poll() is not None:
                del self._workers[run_id]

    def _worker_lives(self, run_id: str, pid: int) -> bool:
        with self._lock:
            worker = self._workers.get(run_id)
            if worker is not None:
                return worker.poll() is None
        # Started by an earlier daemon process (it died with it, unless something else took the pid).
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return WORKER_MODULE.encode() in cmdline and state != "Z"

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or WORKER_TAG not in run.tags:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(run.tags[WORKER_TAG]), signal.SIGINT)  # the worker turns it into Dagster's interrupt
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            self._disposed = True
            if self._spare is not None and self._spare.poll() is None:
                self._spare.kill()  # no run was handed to it
                self._spare.wait()
            self._spare = None
        super().dispose()

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        if WORKER_TAG in run.tags:
            return self._verdict(run, self._worker_lives(run.run_id, int(run.tags[WORKER_TAG])))
        address = run.tags.get(GRPC_INFO_TAG)
        if not address:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched by a code server; the watchdog sensor watches it")
        return self._verdict(run, _code_server_runs(json.loads(address), run.run_id))

    def _verdict(self, run: DagsterRun, lives: bool) -> CheckRunHealthResult:
        if lives:
            self._misses.pop(run.run_id, None)
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        misses = self._misses[run.run_id] = self._misses.get(run.run_id, 0) + 1
        if misses < MISSES_BEFORE_FAILED:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"its worker did not answer for it ({misses}x)")
        self._misses.pop(run.run_id, None)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            "the run's process is gone (its worker died, or its code server no longer runs it or is gone)",
        )


def _watch_stdout(worker: subprocess.Popen) -> None:
    """Sets `worker.ready` when the worker says "ready" (or exits), and reads whatever else it
    prints, so that a full pipe never blocks it."""
    try:
        for line in worker.stdout:
            if line.strip() == "ready":
                worker.ready.set()
    except (OSError, ValueError):
        pass
    worker.ready.set()


def _code_server_runs(address: dict, run_id: str) -> bool:
    from pipelines.dagster_internals import (
        CanCancelExecutionRequest,
        CanCancelExecutionResult,
        DagsterGrpcClient,
        deserialize_value,
    )

    client = DagsterGrpcClient(
        port=address.get("port"),
        socket=address.get("socket"),
        host=address.get("host", "localhost"),
        use_ssl=bool(address.get("use_ssl", False)),
    )
    try:
        answer = client.can_cancel_execution(CanCancelExecutionRequest(run_id=run_id), timeout=ASK_TIMEOUT_SECONDS)
        return deserialize_value(answer, CanCancelExecutionResult).can_cancel
    except Exception:
        return False  # unreachable: the code server is gone, and its runs with it (roster/runtime/lifeline.py)
