"""Every private Dagster name Roster uses, in one place: a Dagster upgrade is checked here.

Dagster's public API has no extension point for these. Who needs what, and why:
- pipelines/event_log.py: the SQLite event log kept open (Dagster opens a connection per write)
  reuses Dagster's own storage class, schema, migrations and shard names.
- pipelines/run_coordinator.py: the submit context, and the sensor daemon's loop time (how soon
  a queued import starts).
- pipelines/run_launcher.py: run monitoring's health answer, the run's gRPC tag and the code
  server's gRPC calls (can a run be cancelled).
- pipelines/warm_run.py: a ready worker executes a run as `dagster api execute_run` would.
When Dagster moves one of them, this module is the one to change (and the one that fails to import).
"""

import dagster._core.storage.event_log.sqlite.sqlite_event_log as sqlite_event_log_module
import dagster._daemon.sensor as sensor_daemon
from dagster._cli.api import _execute_run_command_body as execute_run_command_body
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageMetadata
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sql import check_alembic_revision, get_alembic_config
from dagster._core.storage.sqlite import create_db_conn_string
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
from dagster._serdes import deserialize_value, serialize_value
from dagster._utils.interrupts import capture_interrupts

__all__ = [
    "INDEX_SHARD_NAME",
    "CanCancelExecutionRequest",
    "CanCancelExecutionResult",
    "CheckRunHealthResult",
    "DagsterGrpcClient",
    "DagsterRun",
    "GRPC_INFO_TAG",
    "InstanceRef",
    "SqlEventLogStorageMetadata",
    "SqliteEventLogStorage",
    "SubmitRunContext",
    "WorkerStatus",
    "capture_interrupts",
    "check_alembic_revision",
    "create_db_conn_string",
    "deserialize_value",
    "execute_run_command_body",
    "get_alembic_config",
    "sensor_daemon",
    "serialize_value",
    "sqlite_event_log_module",
]
