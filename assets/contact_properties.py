"""Step 4: create the team's contact properties the column map needs and the team lacks, typed."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.step import GROUP, column_map_of, import_step
from assets.validated_rows import validated_rows
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore
from roster.faults import fault_point

@asset(partitions_def=contact_imports, group_name=GROUP, deps=[validated_rows], description=__doc__)
def contact_properties(context: AssetExecutionContext, contact_store: ContactStore) -> MaterializeResult:
    with import_step(context, contact_store, "contact_properties") as import_id:
        row = contact_store.get_import(import_id)
        wanted = {key: spec.type for key, spec in column_map_of(row).properties.items()}
        created = contact_store.create_properties(row["team_id"], wanted)
        fault_point("properties")
        return MaterializeResult(metadata={"created": MetadataValue.json(created), "mapped": MetadataValue.json(wanted)})
