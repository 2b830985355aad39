"""Step 3: read every row, validate it with the pandera schema, stage the good ones, record the bad.

Rows are read, validated and COPYed in batches, so memory stays flat whatever the file's size.
"""

from dagster import AssetExecutionContext, MaterializeResult, asset

from assets.column_mapping import column_mapping
from assets.partitions import contact_imports
from assets.step import GROUP, import_step, steps_of
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing


@asset(partitions_def=contact_imports, group_name=GROUP, deps=[column_mapping], description=__doc__)
def validated_rows(context: AssetExecutionContext, database: Database, landing: Landing, mapping: Mapping) -> MaterializeResult:
    steps = steps_of(context, database, landing, mapping)
    with import_step(context, steps, "validated_rows") as import_id:
        return MaterializeResult(metadata=steps.stage_rows(import_id))
