"""The Dagster code location (workspace.yaml and `dagster job execute -m pipelines.definitions`)."""
from dagster import Definitions

from assets.column_mapping import column_mapping
from assets.contact_properties import contact_properties
from assets.contacts import contacts
from assets.import_file import import_file
from assets.import_report import import_report
from assets.segment_memberships import segment_memberships
from assets.validated_rows import validated_rows
from pipelines.crm_sync import build_schedules
from pipelines.drop_folder import dropped_file_failed, dropped_file_succeeded, dropped_files
from pipelines.jobs import contact_import_job
from pipelines.retention import landing_sweep
from pipelines.sensors import import_run_failures, queued_imports
from resources.column_mapper import ColumnMapper
from resources.contact_store import ContactStore
from resources.landing_store import LandingStore

defs = Definitions(
    assets=[import_file, column_mapping, validated_rows, contact_properties, contacts, segment_memberships, import_report],
    jobs=[contact_import_job],
    sensors=[queued_imports, import_run_failures, dropped_files, dropped_file_succeeded, dropped_file_failed,
             landing_sweep],
    schedules=build_schedules(),
    resources={"contact_store": ContactStore(), "landing_store": LandingStore(), "column_mapper": ColumnMapper()},
)
