"""A run worker started before its run: `python -m pipelines.warm_run INSTANCE_REF`.

A run launched the ordinary way is a new Python process spawned by the code server, which then
imports Dagster, polars and the code location (2-3 s on this machine) before its first step. This
process does all of that first, says "ready" on stdout, and waits for one run id on stdin. It then
runs that run exactly as `dagster api execute_run` would (the same Dagster function, so the run's
events, status and failure handling are Dagster's own) and exits: one process per run, as before,
so a run that is killed or crashes takes nothing else with it. The launcher
(pipelines/run_launcher.py) keeps one such worker waiting; an empty line or a closed stdin ends it
without a run.
"""

from __future__ import annotations

import sys
import warnings


def main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    from dagster import DagsterInstance

    import pipelines.definitions  # noqa: F401  the code location, loaded before any run exists (and its lifeline)
    from pipelines.dagster_internals import InstanceRef, capture_interrupts, deserialize_value
    from pipelines.dagster_internals import execute_run_command_body as _execute_run_command_body

    instance = DagsterInstance.from_ref(deserialize_value(argv[0], InstanceRef))
    print("ready", flush=True)
    run_id = sys.stdin.readline().strip()
    if not run_id:
        return 0
    with capture_interrupts(), instance:
        return _execute_run_command_body(run_id, instance, lambda _event: None, set_exit_code_on_failure=True)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # The run's outcome is recorded; skip tearing down ~2,000 modules (about a second of CPU that
    # the next run, on 2 cores, would otherwise share), as `roster` itself does (roster/cli/app.py).
    import atexit
    import os

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
