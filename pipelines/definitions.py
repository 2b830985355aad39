"""The Dagster code location (workspace.yaml and `dagster job execute -m pipelines.definitions`)."""

from dagster import Definitions

from roster.lifeline import follow_parent_if_asked

# Under `roster serve`, the code servers and run workers Dagster starts die with their parent.
follow_parent_if_asked()

from assets.column_mapping import column_mapping
from assets.contact_properties import contact_properties
from assets.contacts import contacts
from assets.import_file import import_file
from assets.import_report import import_report
from assets.validated_rows import validated_rows
from pipelines.crm_sync import build_schedules
from pipelines.drop_folder import dropped_files
from pipelines.jobs import contact_import_job
from pipelines.retention import landing_sweep
from pipelines.sensors import queued_imports
from pipelines.watchdog import import_watchdog
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing

defs = Definitions(
    assets=[import_file, column_mapping, validated_rows, contact_properties, contacts, import_report],
    jobs=[contact_import_job],
    sensors=[queued_imports, import_watchdog, dropped_files, landing_sweep],
    schedules=build_schedules(),
    # Left unconfigured they read DATABASE_URL, ROSTER_DATA_DIR and the mapping settings; the UI's
    # launchpad (or a run config) can set their fields.
    resources={"database": Database(), "landing": Landing(), "mapping": Mapping()},
)
