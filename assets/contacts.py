"""Step 5: merge the staged rows into the team's contacts (upsert or skip), and count."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from assets.contact_properties import contact_properties
from assets.step import GROUP, column_map_of, import_step, options_of
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore
from schemas.rows import property_fields

@asset(partitions_def=contact_imports, group_name=GROUP, deps=[contact_properties], description=__doc__)
def contacts(context: AssetExecutionContext, contact_store: ContactStore) -> MaterializeResult:
    with import_step(context, contact_store, "contacts") as import_id:
        row = contact_store.get_import(import_id)
        options = options_of(row)
        counts = contact_store.merge(
            import_id, row["team_id"], property_fields(column_map_of(row)), options.on_conflict,
            keep_ids=bool(options.segments or options.topics),
        )
        return MaterializeResult(metadata={"on_conflict": options.on_conflict, **counts})
