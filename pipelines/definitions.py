"""The Dagster code location (workspace.yaml and `dagster job execute -m pipelines.definitions`)."""

from dagster import Definitions

from roster.runtime.lifeline import follow_parent_if_asked

# Under `roster serve`, the code servers and run workers Dagster starts die with their parent.
follow_parent_if_asked()

from pipelines.cancelled_runs import cancelled_imports
from pipelines.crm_sync import build_schedules
from pipelines.drop_folder import dropped_files
from pipelines.in_process import IMPORT_ASSETS, resources
from pipelines.jobs import contact_import_job
from pipelines.retention import landing_sweep
from pipelines.sensors import queued_imports
from pipelines.webhook_delivery import webhook_deliveries

defs = Definitions(
    assets=IMPORT_ASSETS,
    jobs=[contact_import_job],
    sensors=[queued_imports, dropped_files, landing_sweep, cancelled_imports, webhook_deliveries],
    schedules=build_schedules(),
    resources=resources(),
)
