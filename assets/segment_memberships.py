"""Step 6: add the created and updated contacts to the segments (and topics) the import names."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.contacts import contacts
from assets.step import GROUP, import_step, options_of
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore

@asset(partitions_def=contact_imports, group_name=GROUP, deps=[contacts], description=__doc__)
def segment_memberships(context: AssetExecutionContext, contact_store: ContactStore) -> MaterializeResult:
    with import_step(context, contact_store, "segment_memberships") as import_id:
        row = contact_store.get_import(import_id)
        options = options_of(row)
        added = contact_store.add_memberships(import_id, row["team_id"], options.segments, options.topics)
        return MaterializeResult(metadata={
            "segments": MetadataValue.json(options.segments),
            "segment_memberships_added": added["segments"],
            "topic_subscriptions_set": added["topics"],
        })
