"""Step 2: decide which column feeds which contact field or property.

The explicit map wins (and is remembered for the team and these headers); without one, a mapping
accepted before for the same headers, else the engines' suggestions (core fields and existing
properties; new properties only with auto_create_properties). Every decision is run metadata."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.import_file import import_file
from assets.partitions import contact_imports
from assets.step import GROUP, import_step, steps_of
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing


@asset(partitions_def=contact_imports, group_name=GROUP, deps=[import_file], description=__doc__)
def column_mapping(context: AssetExecutionContext, database: Database, landing: Landing, mapping: Mapping) -> MaterializeResult:
    steps = steps_of(context, database, landing, mapping)
    with import_step(context, steps, "column_mapping") as import_id:
        decided = steps.map_columns(import_id)
        return MaterializeResult(
            metadata={k: MetadataValue.text(v) if isinstance(v, str) else MetadataValue.json(v) for k, v in decided.items()}
        )
