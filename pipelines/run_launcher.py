"""Dagster's default run launcher, plus run workers forked from a process kept loaded, and the
worker health check its run monitoring asks for.

An import's run starts in a worker process forked from one that has already loaded Dagster and
the code location (pipelines/warm_run.py, the fork server): the launcher starts that server once
and hands it each contact_import run id; it forks a worker for the run and says its pid. That
saves the 2-3 s a new process spends importing before the run's first step (and the second of
CPU it would take from the runs beside it), which was most of an import's time from POST to
`completed`. Each run still has a process of its own. The worker tags its run with its pid
(`roster/worker_pid`) before the run starts: the health check below asks whether that process
lives, and terminate interrupts it. The launcher watches each worker through a pidfd, so it sees
one die even if the fork server died before it. Any other run, or a contact_import run when the
fork server cannot be started or is being replaced, is launched as Dagster's default launcher
does (through a code server).

Dagster's `DefaultRunLauncher` (a run is a process spawned by a code server) cannot tell the
monitoring daemon whether a run's process still lives, so a run whose worker died stays STARTED
for good, holding its team's slot in the run queue. This launcher asks the code server that
launched the run whether it still runs it (`CanCancelExecution`, which is true exactly while the
run's process lives). Two "no" answers in a row (a code server that is gone counts as "no"), one
monitoring tick apart, and the run is failed; the daemon's run retries then start it again.

Runs launched without a code server (`roster import`, `dagster job execute`) carry no address to
ask: the watchdog (a thread of the daemon, pipelines/watchdog.py) watches those through the import's lease.
"""

from __future__ import annotations

import json
import os
import select
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
from pipelines.run_queue import admit, give_back
from roster.runtime.faults import fault_point

# Consecutive ticks a run must be missing before it is failed: a run that has just ended (its
# SUCCESS event not read yet) or a code server restarting is not a dead run.
MISSES_BEFORE_FAILED = 2
ASK_TIMEOUT_SECONDS = 5
# How long after a worker exits its run must have ended, or it is failed.
DEATH_GRACE_SECONDS = 2
# How long a fork server that was told to stop may take to exit before it is killed.
STOP_WAIT_SECONDS = 5
WORKER_TAG = "roster/worker_pid"
WORKER_MODULE = "pipelines.warm_run"


class MonitoredRunLauncher(DefaultRunLauncher):
    def __init__(self, inst_data: ConfigurableClassData | None = None, warm_worker: bool = True) -> None:
        super().__init__(inst_data=inst_data)
        self._misses: dict[str, int] = {}
        self._warm = warm_worker
        self._server: _ForkServer | None = None
        self._workers: dict[str, _Worker] = {}  # run id -> its worker, until it has exited
        self._disposed = False
        self._lock = threading.Lock()

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"warm_worker": Field(bool, is_required=False, default_value=True)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data, **config_value)

    @property
    def forks_imports(self) -> bool:
        """contact_import runs go to the fork server, which needs no workspace (no code server)."""
        return self._warm

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
            server = self._server_for_a_run()
            worker = server.hand_over(run.run_id) if server is not None else None
            if worker is not None:
                self._workers[run.run_id] = worker
        if worker is None:
            if context.workspace is None:  # started by the launcher, which has no code server to give
                return give_back(self._instance, run, "No fork server is ready: back in the queue, for a code server.")
            return super().launch_run(context)
        threading.Thread(target=self._fail_if_it_dies, args=(worker,), daemon=True).start()

    def _server_for_a_run(self) -> _ForkServer | None:
        """The fork server to hand a run to: the one running once it has loaded, or the first one
        while it loads (the daemon's first run waits for it, as it would for any new process). One
        that died is replaced at once, but until the new one has loaded, runs go through Dagster's
        launch, as when none can be started."""
        server = self._server
        if server is None or server.gone.is_set():
            if self._disposed:
                return None
            from pipelines.dagster_internals import serialize_value

            self._server = _ForkServer.start(serialize_value(self._instance.get_ref()), replacement=server is not None)
            return self._server if server is None else None
        if server.replacement and not server.ready.is_set():
            return None
        return server

    def _fail_if_it_dies(self, worker: _Worker) -> None:
        """A worker that exits before its run ended (SIGKILL, OOM) fails the run at once, as a code
        server does for the run processes it spawned; run monitoring would take two ticks (~40 s).
        So does a run handed to a fork server that died before forking it. The daemon's run
        retries then start it again."""
        worker.known.wait()
        if worker.pid is not None:
            _wait_for_exit(worker.pid)
        worker.ended.set()
        time.sleep(DEATH_GRACE_SECONDS)  # a run that just ended has its last events written by now
        try:
            run = self._instance.get_run_by_id(worker.run_id)
            if run is None or run.is_finished:
                return
            if worker.pid is None:
                what = "The run's worker was never started: its fork server exited first."
            else:
                code = "unknown" if worker.code is None else worker.code
                what = f"The run's worker (pid {worker.pid}) exited with code {code} before the run ended."
            self._instance.report_engine_event(what, run, cls=type(self))
            self._instance.report_run_failed(run)
        except Exception:  # the instance is going away with the daemon: run monitoring settles it later
            return

    def _reap(self) -> None:
        """Forget the workers whose processes have exited."""
        for run_id, worker in list(self._workers.items()):
            if worker.ended.is_set():
                del self._workers[run_id]

    def _worker_lives(self, run_id: str, pid: int) -> bool:
        with self._lock:
            worker = self._workers.get(run_id)
            if worker is not None and worker.pid == pid:
                return not worker.ended.is_set()
        # Forked for an earlier daemon process (it died with it, unless something else took the pid).
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return WORKER_MODULE.encode() in cmdline and state != "Z"

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        with self._lock:
            worker = self._workers.get(run_id)
        if run is None or (WORKER_TAG not in run.tags and worker is None):
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        if worker is not None:  # this process's: maybe not forked yet, or not yet tagged
            return worker.interrupt()
        return _interrupt(int(run.tags[WORKER_TAG]))

    def dispose(self) -> None:
        with self._lock:
            self._disposed = True
            server, self._server = self._server, None
        if server is not None:
            server.stop()  # the workers it forked go on with their runs
        super().dispose()

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        if WORKER_TAG in run.tags:
            return self._verdict(run, self._worker_lives(run.run_id, int(run.tags[WORKER_TAG])))
        address = run.tags.get(GRPC_INFO_TAG)
        if not address:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched by a code server; the watchdog watches it")
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


class _Worker:
    """A run's worker as the launcher knows it: its pid once the fork server has said it."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.pid: int | None = None
        self.code: int | None = None  # its exit code, if the fork server said it
        self.known = threading.Event()  # the pid is known (None: it never will be, the server died)
        self.ended = threading.Event()  # the process has exited
        self._interrupt = False
        self._lock = threading.Lock()

    def forked(self, pid: int | None) -> None:
        with self._lock:
            self.pid = pid
            self.known.set()
            interrupt = self._interrupt
        if interrupt and pid is not None:
            _interrupt(pid)

    def interrupt(self) -> bool:
        """SIGINT to the worker, now or as soon as it is forked (it holds the signal until it
        handles it, pipelines/warm_run.py)."""
        with self._lock:
            if not self.known.is_set():
                self._interrupt = True
                return True
        return self.pid is not None and _interrupt(self.pid)


class _ForkServer:
    """pipelines/warm_run.py as the launcher talks to it: run ids to its stdin; `ready`,
    `started RUN_ID PID` and `exited PID CODE` from its stdout."""

    def __init__(self, proc: subprocess.Popen[str], replacement: bool) -> None:
        self.proc = proc
        self.replacement = replacement
        self.ready = threading.Event()
        self.gone = threading.Event()
        self._forking: dict[str, _Worker] = {}  # handed over, pid not said yet
        self._forked: dict[int, _Worker] = {}  # pid said, exit not said yet
        self._lock = threading.Lock()
        threading.Thread(target=self._listen, name="roster-fork-server", daemon=True).start()

    @classmethod
    def start(cls, ref: str, replacement: bool) -> _ForkServer | None:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, ref], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        except OSError:
            return None
        return cls(proc, replacement)

    def hand_over(self, run_id: str) -> _Worker | None:
        """The worker that will run `run_id`, or None if the server is gone."""
        worker = _Worker(run_id)
        with self._lock:
            if self.gone.is_set():
                return None
            self._forking[run_id] = worker
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(run_id + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):  # it died just now
            with self._lock:
                self._forking.pop(run_id, None)
            return None
        return worker

    def _listen(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                match line.split():
                    case ["ready"]:
                        self.ready.set()
                    case ["started", run_id, pid]:
                        with self._lock:
                            worker = self._forking.pop(run_id, None)
                            if worker is not None:
                                self._forked[int(pid)] = worker
                        if worker is not None:
                            worker.forked(int(pid))
                    case ["exited", pid, code]:
                        with self._lock:
                            worker = self._forked.pop(int(pid), None)
                        if worker is not None:
                            worker.code = int(code)
        except (OSError, ValueError):
            pass
        with self._lock:
            self.gone.set()
            never = list(self._forking.values())
            self._forking.clear()
        for worker in never:  # handed over, but the server died before it said it forked them
            worker.forked(None)
        self.proc.wait()

    def stop(self) -> None:
        """Ends the server (a closed stdin); the workers it forked go on with their runs."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=STOP_WAIT_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def _interrupt(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGINT)  # the worker turns it into Dagster's interrupt
    except ProcessLookupError:
        return False
    return True


def _wait_for_exit(pid: int) -> None:
    """Until process `pid` has exited; it need not be this process's child (a pidfd)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:  # exited already
        return
    try:
        select.select([handle], [], [])
    finally:
        os.close(handle)


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
