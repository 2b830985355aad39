"""Dagster's default run launcher, plus the worker health check its run monitoring asks for.

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

from dagster import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG

# Consecutive ticks a run must be missing before it is failed: a run that has just ended (its
# SUCCESS event not read yet) or a code server restarting is not a dead run.
MISSES_BEFORE_FAILED = 2
ASK_TIMEOUT_SECONDS = 5


class MonitoredRunLauncher(DefaultRunLauncher):
    def __init__(self, inst_data=None):
        super().__init__(inst_data=inst_data)
        self._misses: dict[str, int] = {}

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        address = run.tags.get(GRPC_INFO_TAG)
        if not address:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched by a code server; the watchdog sensor watches it")
        if _code_server_runs(json.loads(address), run.run_id):
            self._misses.pop(run.run_id, None)
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        misses = self._misses[run.run_id] = self._misses.get(run.run_id, 0) + 1
        if misses < MISSES_BEFORE_FAILED:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"its code server did not vouch for it ({misses}x)")
        self._misses.pop(run.run_id, None)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            "the run's process is gone (its code server no longer runs it, or the code server itself is gone)",
        )


def _code_server_runs(address: dict, run_id: str) -> bool:
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
    from dagster._serdes import deserialize_value

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
        return False  # unreachable: the code server is gone, and its runs with it (roster/lifeline.py)
