"""Step 2: decide which column feeds which contact field or property."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.import_file import import_file
from assets.step import GROUP, import_step, options_of, source_of
from pipelines.partitions import contact_imports
from resources.column_mapper import ColumnMapper, reconcile_property_types
from resources.contact_store import ContactStore
from roster.csvfiles import sample_values

@asset(partitions_def=contact_imports, group_name=GROUP, deps=[import_file], description=__doc__)
def column_mapping(context: AssetExecutionContext, contact_store: ContactStore, column_mapper: ColumnMapper) -> MaterializeResult:
    with import_step(context, contact_store, "column_mapping") as import_id:
        row = contact_store.get_import(import_id)
        source = source_of(row)
        existing = contact_store.properties(row["team_id"])
        resolution = column_mapper.resolve(source.headers, sample_values(source), existing, options_of(row).column_map)
        column_map = reconcile_property_types(resolution.column_map, existing)
        contact_store.update_import(import_id, column_map=column_map.to_api())
        return MaterializeResult(metadata={
            "column_map": MetadataValue.json(column_map.to_api()),
            "decisions": MetadataValue.json(resolution.decisions),
            "unmapped_columns": MetadataValue.json([h for h in source.headers if h not in column_map.columns()]),
        })
