"""Step 5: merge the staged rows into the team's contacts (upsert or skip), put the contacts it
created or updated in the import's segments and topics, and count: all in one transaction."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.contact_properties import contact_properties
from assets.partitions import contact_imports
from assets.step import GROUP, import_step, steps_of
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing


@asset(partitions_def=contact_imports, group_name=GROUP, deps=[contact_properties], description=__doc__)
def contacts(context: AssetExecutionContext, database: Database, landing: Landing, mapping: Mapping) -> MaterializeResult:
    steps = steps_of(context, database, landing, mapping)
    with import_step(context, steps, "contacts") as import_id:
        merged = steps.merge_contacts(import_id)
        return MaterializeResult(
            metadata={k: MetadataValue.json(v) if isinstance(v, (list, dict)) else v for k, v in merged.items()}
        )
