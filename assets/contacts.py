"""Step 5: merge the staged rows into the team's contacts (upsert or skip), put the contacts it
created or updated in the import's segments and topics, and count: all in one transaction."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.contact_properties import contact_properties
from assets.step import GROUP, column_map_of, import_step, options_of
from assets.validated_rows import stage_file
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore, StageLost
from schemas.rows import property_fields


@asset(partitions_def=contact_imports, group_name=GROUP, deps=[contact_properties], description=__doc__)
def contacts(context: AssetExecutionContext, contact_store: ContactStore) -> MaterializeResult:
    with import_step(context, contact_store, "contacts") as import_id:
        row = contact_store.get_import(import_id)
        options = options_of(row)
        column_map = column_map_of(row)
        merge = lambda: contact_store.merge(  # noqa: E731
            import_id, row["team_id"], property_fields(column_map), options, maps_unsubscribed=column_map.unsubscribed_column is not None,
        )
        try:
            counts = merge()
        except StageLost:
            # Crash recovery emptied the UNLOGGED stage after staging committed: stage the file again.
            context.log.warning("the staged rows were lost (a database crash empties unlogged tables); staging the file again")
            stage_file(contact_store, contact_store.get_import(import_id), context.log.info)
            counts = merge()
        return MaterializeResult(metadata={
            "on_conflict": options.on_conflict,
            "segments": MetadataValue.json(options.segments),
            "topics": MetadataValue.json(options.topics),
            **counts,
        })
