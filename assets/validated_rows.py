"""Step 3: read every row, validate it with the pandera schema, stage the good ones, record the bad.

Rows are read, validated and COPYed in batches, so memory stays flat whatever the file's size.
"""
from collections.abc import Callable

from dagster import AssetExecutionContext, MaterializeResult, asset

from assets.column_mapping import column_mapping
from assets.step import GROUP, column_map_of, import_step, source_of
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore
from roster.csvfiles import MalformedCsv, iter_batches
from roster.settings import file_limits, get_settings
from schemas.rows import property_fields, validate


@asset(partitions_def=contact_imports, group_name=GROUP, deps=[column_mapping], description=__doc__)
def validated_rows(context: AssetExecutionContext, contact_store: ContactStore) -> MaterializeResult:
    with import_step(context, contact_store, "validated_rows") as import_id:
        row = contact_store.get_import(import_id)
        if row["merged_at"] is not None:
            return MaterializeResult(metadata={"note": "already merged by an earlier attempt; nothing to stage"})
        parser, counts = stage_file(contact_store, row, context.log.info)
        return MaterializeResult(metadata={"parser": parser, **counts})


def stage_file(store: ContactStore, row: dict, log: Callable[[str], None]) -> tuple[str, dict]:
    """Stage the import's file from the start (failed rows recorded anew). Also what the merge
    step calls when crash recovery emptied the stage."""
    import_id = str(row["id"])
    source, column_map = source_of(row), column_map_of(row)
    props = property_fields(column_map)
    batch_rows = get_settings().batch_rows
    try:
        return "polars", _stage_all(store, import_id, source, column_map, props, batch_rows, False)
    except MalformedCsv as e:
        log(f"fast reader stopped ({e}); reading again record by record")
        return "tolerant", _stage_all(store, import_id, source, column_map, props, batch_rows, True)


def _stage_all(store: ContactStore, import_id, source, column_map, props, batch_rows: int, tolerant: bool) -> dict:
    store.reset_failures(import_id)
    rows_read = valid = failed = 0
    with store.staging(import_id, props) as stage:
        for batch in iter_batches(source, batch_rows, tolerant=tolerant):
            checked = validate(batch.frame, column_map, source.headers, file_limits().max_field_bytes)
            failures = batch.failures + _with_values(checked.failures, batch.frame, source.headers)
            rows_read += batch.frame.height + len(batch.failures)
            valid += checked.rows.height
            failed += store.record_failures(import_id, failures)
            stage(checked.rows)
            store.progress(import_id, rows_read)
    return {"rows_read": rows_read, "rows_valid": valid, "rows_failed": failed}


def _with_values(failures: list[dict], frame, headers: list[str]) -> list[dict]:
    """Attach each failed row's original cells, so a person can fix and re-import it."""
    if not failures:
        return failures
    import polars as pl

    wanted = frame.filter(pl.col("__row").is_in([f["row"] for f in failures]))
    values = {r["__row"]: {h: r[h] for h in headers} for r in wanted.iter_rows(named=True)}
    return [{**f, "values": values.get(f["row"], {})} for f in failures]
