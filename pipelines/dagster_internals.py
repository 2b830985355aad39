"""Every private Dagster name Roster uses, in one place: a Dagster upgrade is checked here.

Dagster's public API has no extension point for these. Who needs what, and why:
- pipelines/sqlite_storage.py: Dagster's SQLite schedule storage, its file kept open (Dagster
  opens it per query), reuses its storage class, tables and migrations.
- pipelines/event_log.py: the SQLite event log kept open (Dagster opens a connection per write)
  reuses Dagster's own storage class, schema, migrations and shard names.
- pipelines/run_coordinator.py: the submit context.
- pipelines/run_queue.py: the run queue's own way of counting its limits (the statuses that hold a
  run slot, the tag limits counter, the limits' type), so that a run the launcher starts and one the
  daemon's dequeue loop starts are counted alike.
- pipelines/launcher.py: the origins a run needs to be submitted to the run queue (`job_origins`):
  the code location and Python module the daemon loads the job from. Dagster's public way to
  submit a run is a sensor's RunRequest, which waits for the sensor daemon's 5 s loop; the
  launcher submits an import's run the moment it is told there is one.
- pipelines/run_launcher.py: run monitoring's health answer, the run's gRPC tag and the code
  server's gRPC calls (can a run be cancelled).
- pipelines/ui_server.py: the Dagster UI's workspace (the webserver's own app, served by a quieter
  uvicorn loop): the workspace process context and the workspace file it loads.
- pipelines/warm_run.py: a forked worker executes a run as `dagster api execute_run` would.
- dagster.yaml's compute_logs: the manager that captures nothing (Dagster exports no public
  name for it; configs name it here, so that no config names a private Dagster module).
- Type hints only: the instance plug-ins' config data (event_log.py, run_launcher.py), the
  launch context a run launcher is given, and the Python origin of a job (launcher.py).
When Dagster moves one of them, this module is the one to change (and the one that fails to import).
"""

import importlib
from typing import TYPE_CHECKING, Any

import dagster._core.storage.event_log.sqlite.sqlite_event_log as sqlite_event_log_module
from dagster import Definitions
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.origin import JobPythonOrigin
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.run_coordinator.queued_run_coordinator import RunQueueConfig
from dagster._core.storage.dagster_run import ACTIVE_RUN_STATUSES, DagsterRun
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageMetadata
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sql import check_alembic_revision, get_alembic_config
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
from dagster._serdes import ConfigurableClassData, deserialize_value, serialize_value
from dagster._utils.interrupts import capture_interrupts
from dagster._utils.tags import TagConcurrencyLimitsCounter

if TYPE_CHECKING:  # imported when first asked for (`__getattr__` below)
    from dagster._cli.api import _execute_run_command_body as execute_run_command_body
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._grpc.client import DagsterGrpcClient

# Dagster's CLI and its gRPC client (protobuf, grpc: about 110 modules, 35 ms of CPU) serve only a
# forked worker's run and a run launcher's question to a code server. Every process that makes
# the instance imports this module (the event log and the compute log manager live here), a
# `roster import` too, so those two are imported the first time one of them is asked for.
_ON_FIRST_USE = {
    "execute_run_command_body": ("dagster._cli.api", "_execute_run_command_body"),
    "DagsterGrpcClient": ("dagster._grpc.client", "DagsterGrpcClient"),
    "WorkspaceProcessContext": ("dagster._core.workspace.context", "WorkspaceProcessContext"),
    "WorkspaceFileTarget": ("dagster._core.workspace.load_target", "WorkspaceFileTarget"),
}


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _ON_FIRST_USE[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # asked for once
    return value


# The code location the daemon and the UI load (`-m pipelines.definitions`, workspace.yaml): runs
# are found in the workspace by this name (retries, launches through a code server, the UI).
CODE_LOCATION = "pipelines.definitions"


def job_origins(defs: Definitions, job_name: str, module: str = CODE_LOCATION) -> tuple[RemoteJobOrigin, JobPythonOrigin]:
    """(remote origin, Python origin) of a job of the Definitions in `module`, as a run created
    from the daemon's workspace carries them: the code location by name, and the module a run
    worker loads the job from."""
    import os
    import sys

    repository = defs.get_repository_def().name
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=module, working_directory=os.getcwd()),
        location_name=module,
    )
    remote = RemoteJobOrigin(RemoteRepositoryOrigin(location, repository), job_name)
    attribute = next(name for name, value in vars(sys.modules[module]).items() if value is defs)
    python = (
        ReconstructableRepository.for_module(module, attribute, working_directory=os.getcwd())
        .get_reconstructable_job(job_name)
        .get_python_origin()
    )
    return remote, python


__all__ = [
    "ACTIVE_RUN_STATUSES",
    "INDEX_SHARD_NAME",
    "CanCancelExecutionRequest",
    "CanCancelExecutionResult",
    "CheckRunHealthResult",
    "ConfigurableClassData",
    "DagsterGrpcClient",
    "DagsterRun",
    "RemoteJobOrigin",
    "RunQueueConfig",
    "GRPC_INFO_TAG",
    "InstanceRef",
    "JobPythonOrigin",
    "LaunchRunContext",
    "NoOpComputeLogManager",
    "SqlEventLogStorageMetadata",
    "SqliteEventLogStorage",
    "SqliteScheduleStorage",
    "SubmitRunContext",
    "TagConcurrencyLimitsCounter",
    "WorkerStatus",
    "WorkspaceFileTarget",
    "WorkspaceProcessContext",
    "capture_interrupts",
    "check_alembic_revision",
    "create_db_conn_string",
    "deserialize_value",
    "execute_run_command_body",
    "get_alembic_config",
    "job_origins",
    "serialize_value",
    "sqlite_event_log_module",
]
