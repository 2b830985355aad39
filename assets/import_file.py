"""Step 1: open the uploaded file whatever it is, and record what was found.

Launched from the Dagster UI for a partition that has no import yet, the run config's `file_path`
(and `team`) create the import first, so the REST API and `roster` see it like any other.
"""
from pathlib import Path

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset

from assets.step import GROUP, import_step
from pipelines.partitions import contact_imports
from pipelines.run_tags import import_tags, refusal
from resources.contact_store import ContactStore
from resources.landing_store import LandingStore
from roster.csvfiles import open_source
from roster.faults import fault_point
from roster.imports import ImportRefused, create_import, ensure_team, import_exists
from schemas.column_map import ImportOptions


class ImportOverrides(Config):
    """Options a launch may set; each left empty keeps what the import was created with."""

    file_path: str | None = None  # with team: create the import when the partition has none yet
    team: str = "default"
    on_conflict: str | None = None  # "upsert" or "skip"
    column_map: str | None = None  # JSON, the API's column_map shape
    segments: list[str] | None = None  # segment ids
    auto_map: bool | None = None
    auto_create_properties: bool | None = None


def _create_from_config(import_id: str, config: ImportOverrides, store: ContactStore, landing: LandingStore) -> None:
    """A launch from the UI launchpad: the partition key becomes the new import's id."""
    engine = store.engine()
    path = Path(config.file_path)
    if not path.is_file():
        raise ImportRefused(f"no such file: {path}")
    create_import(engine, landing, ensure_team(engine, config.team), path, path.name, ImportOptions(),
                  source="ui", check=False, launched=True, import_id=import_id)


@asset(partitions_def=contact_imports, group_name=GROUP, description=__doc__)
def import_file(
    context: AssetExecutionContext, config: ImportOverrides, contact_store: ContactStore, landing_store: LandingStore
) -> MaterializeResult:
    # Runs that never queued (`dagster job execute`) are checked here as the run coordinator
    # checks the UI's: one line, and no import row, for a partition that names no import.
    reason = refusal(context.partition_key if context.has_partition_key else None, context.run.run_config)
    if reason:
        raise Failure(description=reason, allow_retries=False)
    import_id = context.partition_key
    try:
        if not import_exists(contact_store.engine(), import_id):
            _create_from_config(import_id, config, contact_store, landing_store)
    except ImportRefused as e:
        raise Failure(description=str(e), allow_retries=False) from None
    if not context.instance.has_dynamic_partition(contact_imports.name, import_id):
        # `dagster job execute` for an import created without one: the import is real, so is its partition.
        context.instance.add_dynamic_partitions(contact_imports.name, [import_id])
    missing = {k: v for k, v in import_tags(import_id, None).items() if k not in context.run.tags}
    if missing:  # a run that did not queue: its tags say whose import it is, as every other run's do
        context.instance.add_run_tags(context.run_id, missing)
    with import_step(context, contact_store, "import_file") as import_id:
        overrides = config.model_dump(exclude_none=True, exclude={"file_path", "team"})
        contact_store.apply_overrides(import_id, overrides)
        contact_store.start(import_id, context.run_id)
        row = contact_store.get_import(import_id)
        if row["status"] == "completed":
            return MaterializeResult(metadata={"note": "the import completed already; nothing to do"})
        fault_point("landing")
        source = open_source(Path(row["file_path"]), landing_store.workdir(import_id))
        contact_store.update_import(import_id, file_info=source.info())
        return MaterializeResult(metadata={
            "filename": row["filename"] or "",
            "size_bytes": source.size_bytes,
            "encoding": source.encoding,
            "delimiter": source.info()["delimiter"],
            "compressed": source.compressed,
            "transcoded": source.transcoded,
            "columns": len(source.headers),
            "headers": MetadataValue.json(source.headers),
        })
