"""The contact_import job with only what it runs: its six assets and their resources.

`pipelines.definitions` (the code location) adds the sensors, schedules and their modules; a run
started in this process (`roster import`, `python -m pipelines.launch`) needs none of them, and
loading them cost about 0.2 s of every import.
"""

from dagster import Definitions

from assets.column_mapping import column_mapping
from assets.contact_properties import contact_properties
from assets.contacts import contacts
from assets.import_file import import_file
from assets.import_report import import_report
from assets.validated_rows import validated_rows
from pipelines.jobs import contact_import_job
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing

IMPORT_ASSETS = [import_file, column_mapping, validated_rows, contact_properties, contacts, import_report]


def resources() -> dict[str, Database | Landing | Mapping]:
    # Left unconfigured they read DATABASE_URL, ROSTER_DATA_DIR and the mapping settings; the UI's
    # launchpad (or a run config) can set their fields.
    return {"database": Database(), "landing": Landing(), "mapping": Mapping()}


import_defs = Definitions(assets=IMPORT_ASSETS, jobs=[contact_import_job], resources=resources())
