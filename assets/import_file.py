"""Step 1: open the uploaded file whatever it is, and record what was found."""

from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from assets.step import GROUP, import_step
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore
from resources.landing_store import LandingStore
from roster.csvfiles import open_source

class ImportOverrides(Config):
    """Options a launch may set; each left empty keeps what the import was created with."""

    on_conflict: str | None = None  # "upsert" or "skip"
    column_map: str | None = None  # JSON, the API's column_map shape
    segments: list[str] | None = None  # segment ids

@asset(partitions_def=contact_imports, group_name=GROUP, description=__doc__)
def import_file(
    context: AssetExecutionContext, config: ImportOverrides, contact_store: ContactStore, landing_store: LandingStore
) -> MaterializeResult:
    with import_step(context, contact_store, "import_file") as import_id:
        contact_store.apply_overrides(import_id, config.model_dump(exclude_none=True))
        contact_store.start(import_id, context.run_id)
        row = contact_store.get_import(import_id)
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
