"""The run workers' fork server: `python -m pipelines.warm_run INSTANCE_REF`.

A run launched the ordinary way is a new Python process spawned by the code server, which then
imports Dagster, polars and the code location (2-3 s on this machine, 1.2 s of it CPU) before its
first step. This process does that once: it imports everything, says "ready" on stdout, and then
forks one worker per run id it reads on stdin. Each worker makes the Dagster instance from the ref
and runs its run exactly as `dagster api execute_run` would (the same Dagster function, so the
run's events, status and failure handling are Dagster's own), then exits: one process per run, as
before, so a run that is killed or crashes takes nothing else with it, but a worker costs a fork
(a few milliseconds of CPU) instead of a second of loading. The launcher
(pipelines/run_launcher.py) starts this server and talks to it.

Lines on stdout, for the launcher: `ready` once loaded, `started RUN_ID PID` after each fork and
`exited PID CODE` when a worker has ended (this process reaps its workers: no zombies). Its
workers write nothing there (their stdin and stdout are /dev/null; stderr is shared). An empty
line or a closed stdin (the daemon ended, whatever killed it) ends this server; the workers go on
with their runs, and under `roster serve` each ends when the daemon does, as a worker the daemon
started would (roster/runtime/lifeline.py): they follow the daemon, not this process.

What may be forked: nothing here makes a DagsterInstance, opens a database connection or starts
a thread before forking (Python's threads do not survive a fork, and a lock one held would stay
held in the child), and polars runs nothing here, so its thread pool is started in each worker.
What was loaded is frozen out of the cycle collector (`gc.freeze`), so that the collector never
walks, and so never copies, the pages the workers share with this process. A SIGINT for a
worker (the launcher's terminate) is held from the fork until Dagster's handler is in place, so
none is lost.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import sys
import traceback
import warnings
from typing import NoReturn


def main(argv: list[str]) -> int:
    from roster.runtime import collector, lifeline

    collector.pause()  # until everything is loaded (roster/runtime/collector.py)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    # The code location follows its parent with a thread when asked (pipelines/definitions.py); here
    # no thread may run, so the workers follow the daemon through a handle instead.
    follows = os.environ.pop(lifeline.ENV, None) == "1"
    # SIGINT is for the workers (the launcher's terminate): held until a worker handles it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    import dagster  # noqa: F401

    import pipelines.definitions  # noqa: F401  the code location, loaded once for every run
    from pipelines.dagster_internals import execute_run_command_body  # noqa: F401  loaded here, not per run

    _preload(argv[0])
    daemon = lifeline.parent_handle() if follows else None
    collector.resume()  # what was loaded is frozen: the workers share it unwalked
    sys.stdout.flush()
    sys.stderr.flush()
    return _serve(argv[0], daemon)


# What a run imports on its way (Dagster's run execution, the io manager's paths, pandera's polars
# checks), found by comparing a worker's modules at its end with this server's: each worker would
# otherwise import them again (some 60 modules, a tenth of a second). One that a later release
# moved is just not preloaded.
RUN_MODULES = (
    "dagster._core.definitions.external_asset",
    "dagster._core.definitions.repository_definition.repository_data_builder",
    "dagster._core.execution.plan.active",
    "dagster._core.executor.in_process",
    "dagster._core.instance.factory",
    "dagster._core.storage.migration.utils",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.system_config.composite_descent",
    "dagster._core.utility_ops",
    "dagster._core.workspace.autodiscovery",
    "dagster._utils.temp_file",
    "fsspec.implementations.local",
    "upath.implementations.local",
    "pandera.api.pandas",
    "pandera.backends.polars.builtin_checks",
    "pandera.backends.polars.components",
    "pandera.backends.polars.checks",
    "pandera.backends.polars.container",
    "pandera.backends.register_checks",
    "dagster._utils.test.definitions",
    "encodings.utf_8_sig",
    "importlib.resources.readers",
)


def _preload(ref: str) -> None:
    """Imports what every worker would import to make the instance and run its run: the instance's
    plug-in classes (its storages, run coordinator and launcher, as the ref names them) and
    RUN_MODULES. Imports only: nothing is made."""
    import importlib

    from pipelines.dagster_internals import ConfigurableClassData, InstanceRef, deserialize_value

    for data in deserialize_value(ref, InstanceRef):
        if isinstance(data, ConfigurableClassData):
            getattr(importlib.import_module(data.module_name), data.class_name)
    for module in RUN_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def _serve(ref: str, daemon: int | None) -> int:
    woken, wake = os.pipe()  # a byte on each SIGCHLD (signal.set_wakeup_fd): a worker ended
    os.set_blocking(woken, False)
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda _signo, _frame: None)
    _say("ready")
    received = b""
    while True:
        readable, _, _ = select.select([0, woken], [], [])
        if woken in readable:
            while _drained(woken):
                pass
            _reap()
        if 0 in readable:
            data = os.read(0, 65536)
            if not data:
                return 0
            received += data
            *lines, received = received.split(b"\n")
            for line in lines:
                run_id = line.decode().strip()
                if not run_id:
                    return 0
                pid = os.fork()
                if pid == 0:
                    _worker(run_id, ref, daemon, (woken, wake))
                _say(f"started {run_id} {pid}")


def _drained(fd: int) -> bool:
    try:
        return len(os.read(fd, 512)) == 512
    except BlockingIOError:
        return False


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _say(f"exited {pid} {os.waitstatus_to_exitcode(status)}")


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def _worker(run_id: str, ref: str, daemon: int | None, fds: tuple[int, int]) -> NoReturn:
    """The forked worker: runs `run_id` and exits, whatever happens (it never returns to the loop)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in fds:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)  # the server's protocol pipes are not the worker's
        os.dup2(null, 1)
        os.close(null)
        if daemon is not None:
            from roster.runtime import lifeline

            os.environ[lifeline.ENV] = "1"  # for whatever this run starts
            lifeline.follow(daemon)
        code = _run(run_id, ref)
    except BaseException:
        traceback.print_exc()
    finally:
        # The run's outcome is recorded; skip tearing down ~2,000 modules (about a second of CPU
        # that the next run, on 2 cores, would otherwise share), as `roster` itself does.
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run(run_id: str, ref: str) -> int:
    from dagster import DagsterInstance

    from pipelines.dagster_internals import InstanceRef, capture_interrupts, deserialize_value, execute_run_command_body
    from pipelines.run_launcher import WORKER_TAG

    with capture_interrupts():
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one sent since the fork arrives now
        with DagsterInstance.from_ref(deserialize_value(ref, InstanceRef)) as instance:
            # Before the run starts: Dagster rewrites the run's record on each status change, and a
            # tag the launcher added meanwhile could be lost. Run monitoring and terminate read it.
            instance.add_run_tags(run_id, {WORKER_TAG: str(os.getpid())})
            code: int = execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=True)
            return code


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except BrokenPipeError:  # the launcher is gone
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip tearing down the modules: the workers may still be running their runs
