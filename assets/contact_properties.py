"""Step 4: create the team's contact properties the column map needs and the team lacks, typed."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.partitions import contact_imports
from assets.step import GROUP, import_step, steps_of
from assets.validated_rows import validated_rows
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing


@asset(partitions_def=contact_imports, group_name=GROUP, deps=[validated_rows], description=__doc__)
def contact_properties(
    context: AssetExecutionContext, database: Database, landing: Landing, mapping: Mapping
) -> MaterializeResult:
    steps = steps_of(context, database, landing, mapping)
    with import_step(context, steps, "contact_properties") as import_id:
        done = steps.create_properties(import_id)
        return MaterializeResult(metadata={k: MetadataValue.json(v) for k, v in done.items()})
