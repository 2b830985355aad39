"""Step 2: decide which column feeds which contact field or property.

The explicit map wins (and is remembered for the team and these headers); without one, a mapping
accepted before for the same headers, else the engines' suggestions (core fields and existing
properties; new properties only with auto_create_properties). Every decision is run metadata."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.import_file import import_file
from assets.step import GROUP, import_step, options_of, source_of
from pipelines.partitions import contact_imports
from resources.column_mapper import ColumnMapper, reconcile_property_types
from resources.contact_store import ContactStore
from roster.csvfiles import sample_values
from roster.faults import fault_point
from roster.mapping import memory
from roster.mapping.consent import model_allowed

@asset(partitions_def=contact_imports, group_name=GROUP, deps=[import_file], description=__doc__)
def column_mapping(context: AssetExecutionContext, contact_store: ContactStore, column_mapper: ColumnMapper) -> MaterializeResult:
    with import_step(context, contact_store, "column_mapping") as import_id:
        row = contact_store.get_import(import_id)
        if row["column_map"] is not None and options_of(row).column_map is None:
            # An earlier attempt decided the map: a retry keeps it, so a crash cannot change what
            # the import does (a model may answer differently the second time).
            return MaterializeResult(metadata={"column_map": MetadataValue.json(row["column_map"]), "note": "decided by an earlier attempt"})
        source = source_of(row)
        team_id = row["team_id"]
        existing = contact_store.properties(team_id)
        options = options_of(row)
        engine = contact_store.engine()
        remembered = None if options.column_map is not None else memory.recall(engine, team_id, source.headers)
        resolution = column_mapper.resolve(
            source.headers, sample_values(source), existing, options.column_map,
            auto_map=options.auto_map, auto_create_properties=options.auto_create_properties, remembered=remembered,
            model_allowed=model_allowed(engine, team_id, options.model_mapping),  # the model only with consent
        )
        column_map = reconcile_property_types(resolution.column_map, existing)
        if options.column_map is not None:
            # A person wrote this map for these headers: prefer it next time they come.
            memory.remember(engine, team_id, source.headers, options.column_map.to_api(), source="import")
        contact_store.update_import(import_id, column_map=column_map.to_api())
        fault_point("mapping")
        for note in resolution.notes:
            context.log.info(f"column mapping: {note}")
        return MaterializeResult(metadata={
            "column_map": MetadataValue.json(column_map.to_api()),
            "mapping_engine": MetadataValue.text(resolution.engine),
            "decisions": MetadataValue.json(resolution.decisions),
            "mapping_notes": MetadataValue.json(resolution.notes),
            "unmapped_columns": MetadataValue.json([h for h in source.headers if h not in column_map.columns()]),
        })
