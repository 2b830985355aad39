"""What each step of an import does, in order; the Dagster assets (assets/) only call these.

Every step can run again after any crash: it recomputes what it needs from durable state (the
import row, the failed rows, `staged_rows`), never from an intermediate it merely finds. Each
returns what it found or decided, for the run's metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine

from roster.csvfiles import MalformedCsv, SourceFile, iter_batches, open_source, sample_values
from roster.importing.errors import ImportRefused
from roster.importing.read_ahead import read_ahead
from roster.importing.service import ImportService
from roster.landing import LandingStore
from roster.mapping import memory
from roster.mapping.consent import model_allowed
from roster.mapping.resolve import ColumnMapper, reconcile_property_types
from roster.runtime.faults import fault_point
from roster.runtime.settings import file_limits, get_settings
from roster.safety.allowed_paths import check_path
from roster.store import cancel, dry_run, failures, imports, merge, properties, staging
from schemas.column_map import ColumnMap
from schemas.import_options import ImportOptions, parse_options
from schemas.rows import ROW, property_fields, validate
from schemas.rules import stored_type

LAUNCHPAD_DIRS = "ROSTER_LAUNCHPAD_ALLOWED_DIRS"


def options_of(row: dict[str, Any]) -> ImportOptions:
    return ImportOptions.model_validate(row["options"] or {})


def column_map_of(row: dict[str, Any]) -> ColumnMap:
    return ColumnMap.model_validate(row["column_map"])


def source_of(row: dict[str, Any]) -> SourceFile:
    """The opened file as the first step recorded it (nothing is pickled between steps)."""
    info = dict(row["file_info"])
    info["delimiter"] = {"tab": "\t"}.get(info["delimiter"], info["delimiter"])
    info["path"], info["original"] = Path(info["path"]), Path(info["original"])
    return SourceFile(**info)


@dataclass
class ImportSteps:
    """The collaborators every step needs; `log` goes to the run's log."""

    engine: Engine
    landing: LandingStore
    mapper: ColumnMapper
    log: Callable[[str], None] = print

    # -- 1. the file -----------------------------------------------------------------------------
    def create_from_launch(self, import_id: str, file_path: str, team: str) -> None:
        """A launch from the UI launchpad: the partition key becomes a new import's id, for a file
        on the server, which must lie under ROSTER_LAUNCHPAD_ALLOWED_DIRS (the UI has no login)
        and outside Roster's data (this store's landing directory included: other teams' files)."""
        try:
            path = check_path(file_path, LAUNCHPAD_DIRS, data_dirs=[self.landing.base()])
        except ValueError as e:
            raise ImportRefused(str(e)) from None
        service = ImportService(self.engine, self.landing, self.mapper)
        service.create(
            service.team(team, create=True),
            path,
            path.name,
            ImportOptions(),
            source="ui",
            check=False,
            launched=True,
            import_id=import_id,
        )

    def open_file(self, import_id: str, run_id: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """Start the import (options from the launch over the stored ones), open its file and
        record what was found: compression, encoding, delimiter, headers."""
        if overrides:
            row = imports.require(self.engine, import_id)
            options = parse_options(overrides, base=options_of(row))
            imports.update(self.engine, import_id, options=options.stored())
        imports.start(self.engine, import_id, run_id)
        row = imports.require(self.engine, import_id)
        if row["status"] == "completed":
            return {"note": "the import completed already; nothing to do"}
        if row["merged_at"] is not None:
            # Its rows are in: nothing reads the file again, and finish() may have removed it already.
            return {"note": "merged by an earlier attempt; the file is not needed again"}
        cancel.check(self.engine, import_id)
        fault_point("landing")
        source = open_source(self.landing.local_file(import_id, Path(row["file_path"])), self.landing.workdir(import_id))
        imports.update(self.engine, import_id, file_info=source.info())
        return {
            "filename": row["filename"] or "",
            "size_bytes": source.size_bytes,
            "encoding": source.encoding,
            "delimiter": source.info()["delimiter"],
            "compressed": source.compressed,
            "transcoded": source.transcoded,
            "columns": len(source.headers),
            "headers": source.headers,
        }

    # -- 2. the column map -----------------------------------------------------------------------
    def map_columns(self, import_id: str) -> dict[str, Any]:
        """The explicit map (remembered for the team and these headers), else a remembered map,
        else the engines' suggestions. A retry keeps what an earlier attempt decided."""
        row = imports.require(self.engine, import_id)
        options = options_of(row)
        if row["merged_at"] is not None:  # merged with the map it recorded; its file may be gone (finish())
            return {"column_map": row["column_map"], "note": "merged by an earlier attempt"}
        if row["column_map"] is not None and options.column_map is None:
            # A model may answer differently the second time: a crash must not change the import.
            return {"column_map": row["column_map"], "note": "decided by an earlier attempt"}
        source, team_id = source_of(row), row["team_id"]
        existing = properties.types(self.engine, team_id)
        remembered = None if options.column_map is not None else memory.recall(self.engine, team_id, source.headers)
        resolution = self.mapper.resolve(
            source.headers,
            sample_values(source),
            existing,
            options.column_map,
            auto_map=options.auto_map,
            auto_create_properties=options.auto_create_properties,
            remembered=remembered,
            model_allowed=model_allowed(self.engine, team_id, options.model_mapping),  # the model only with consent
        )
        column_map = reconcile_property_types(resolution.column_map, existing)
        if options.column_map is not None and not options.dry_run:
            # A person wrote this map for these headers: prefer it next time they come.
            memory.remember(self.engine, team_id, source.headers, options.column_map.to_api(), source="import")
        imports.update(self.engine, import_id, column_map=column_map.to_api())
        fault_point("mapping")
        for note in resolution.notes:
            self.log(f"column mapping: {note}")
        return {
            "column_map": column_map.to_api(),
            "mapping_engine": resolution.engine,
            "decisions": resolution.decisions,
            "mapping_notes": resolution.notes,
            "unmapped_columns": [h for h in source.headers if h not in column_map.columns()],
        }

    # -- 3. the rows -----------------------------------------------------------------------------
    def stage_rows(self, import_id: str) -> dict[str, Any]:
        row = imports.require(self.engine, import_id)
        if row["merged_at"] is not None:
            return {"note": "already merged by an earlier attempt; nothing to stage"}
        return self._stage_file(row)

    def _stage_file(self, row: dict[str, Any]) -> dict[str, Any]:
        """Read, validate and stage the whole file; failed rows recorded anew. Also what the merge
        step does when crash recovery emptied the stage."""
        import_id = str(row["id"])
        source, column_map = source_of(row), column_map_of(row)
        try:
            return {"parser": "polars", **self._stage_all(import_id, source, column_map, tolerant=False)}
        except MalformedCsv as e:
            self.log(f"fast reader stopped ({e}); reading again record by record")
            return {"parser": "tolerant", **self._stage_all(import_id, source, column_map, tolerant=True)}

    def _stage_all(self, import_id: str, source: SourceFile, column_map: ColumnMap, tolerant: bool) -> dict[str, Any]:
        failures.reset(self.engine, import_id)
        imports.update(self.engine, import_id, phase="staging", rows_read=0)
        props, max_field = property_fields(column_map), file_limits().max_field_bytes

        def prepared() -> Iterator[_Prepared]:
            """Each batch read, validated and encoded for the COPY: on the read-ahead thread."""
            for batch in iter_batches(source, get_settings().batch_rows, tolerant=tolerant):
                checked = validate(batch.frame, column_map, source.headers, max_field)
                ready = _Prepared(
                    read=batch.frame.height + len(batch.failures),
                    valid=checked.rows.height,
                    bad=batch.failures + _with_values(checked.failures, batch.frame, source.headers),
                    text=staging.copy_text(checked.rows, props),
                )
                # Only the encoded text waits in the read-ahead queue: the batch's frames would stay
                # referenced from here while this generator waits for room there (tens of MiB each).
                del batch, checked
                yield ready

        rows_read = valid = failed = 0
        with staging.writer(self.engine, import_id) as stage:
            for ready in read_ahead(prepared()):
                rows_read += ready.read
                valid += ready.valid
                failed += failures.record(self.engine, import_id, ready.bad)
                stage(ready.text, ready.valid)
                imports.update(self.engine, import_id, rows_read=rows_read)
                cancel.check(self.engine, import_id)  # a cancelled import stops reading (its stage rolls back)
        return {"rows_read": rows_read, "rows_valid": valid, "rows_failed": failed}

    # -- 4. the properties -----------------------------------------------------------------------
    def create_properties(self, import_id: str) -> dict[str, Any]:
        """The team's missing properties that the map needs, typed: which they are. They are
        created by the merge, in its transaction (an import that writes nothing creates nothing)."""
        row = imports.require(self.engine, import_id)
        if row["merged_at"] is None:
            cancel.check(self.engine, import_id)
        wanted = wanted_properties(row)
        missing = properties.missing(self.engine, row["team_id"], wanted)
        fault_point("properties")
        return {"to_create": missing, "mapped": wanted}

    # -- 5. the merge ----------------------------------------------------------------------------
    def merge_contacts(self, import_id: str) -> dict[str, Any]:
        """Contacts, memberships, topic subscriptions, new properties and counts, in one
        transaction; for a dry run, what they would be, written nowhere. First the failure guard."""
        row = imports.require(self.engine, import_id)
        options, column_map = options_of(row), column_map_of(row)
        maps_unsubscribed = column_map.unsubscribed_column is not None

        def run() -> dict[str, Any]:
            if options.dry_run:
                missing = properties.missing(self.engine, row["team_id"], wanted_properties(row))
                return dry_run.decide(self.engine, import_id, row["team_id"], options, maps_unsubscribed, missing)
            return merge.merge(
                self.engine,
                import_id,
                row["team_id"],
                options,
                maps_unsubscribed=maps_unsubscribed,
                new_properties=wanted_properties(row),
            )

        if row["merged_at"] is None:
            self._check_failure_guard(row, options)
            imports.update(self.engine, import_id, phase="merging")
        try:
            counts = run()
        except merge.StageLost:
            self.log("the staged rows were lost (a database crash empties unlogged tables); staging the file again")
            self._stage_file(imports.require(self.engine, import_id))
            imports.update(self.engine, import_id, phase="merging")
            counts = run()
        except merge.TargetsGone as e:  # a refusal: nothing was written, a retry cannot help
            raise ImportRefused(str(e)) from None
        return {"on_conflict": options.on_conflict, "segments": options.segments, "topics": options.topics, **counts}

    def _check_failure_guard(self, row: dict[str, Any], options: ImportOptions) -> None:
        """max_failed_rows: past it, the import fails before its merge, with nothing written, its
        counts and its failed rows by cause recorded (ImportRefused: no retry can help)."""
        import_id = str(row["id"])
        with self.engine.connect() as conn:
            failed = failures.count(conn, import_id)
            total = (row["staged_rows"] or 0) + failed
            limit = options.failure_limit(total)
            if limit is None or failed <= limit:
                return
            by_reason = failures.by_reason(conn, import_id)
        guard = {"max_failed_rows": options.max_failed_rows, "limit": limit}
        imports.trip_guard(self.engine, import_id, total, failed, guard, by_reason)
        raise ImportRefused(
            f"{failed:,} of {total:,} rows failed, more than max_failed_rows allows ({options.max_failed_rows}): "
            f"nothing was imported. The failed rows say why: GET /contacts/imports/{import_id}/failures."
        )

    # -- 6. the outcome --------------------------------------------------------------------------
    def finish(self, import_id: str) -> dict[str, Any]:
        """completed (only once merged); staging table, scratch files and the upload go. A dry
        run keeps its upload, to be started for real (roster/importing/retention.py says how long).

        The upload goes first: whoever sees `completed` (the API, a client polling it) finds no
        file left, in the folder or in the database. A crash in between leaves a merged import
        without its file, which a retry does not need (open_file and map_columns skip it)."""
        fault_point("report")
        row = imports.require(self.engine, import_id)
        if row["merged_at"] is not None and not options_of(row).dry_run:  # else complete() refuses: keep it
            self.landing.discard(import_id)  # Roster keeps no file of a completed import
        return imports.complete(self.engine, import_id)


@dataclass
class _Prepared:
    """One batch ready to stage: its rows read, valid and failed, and the valid ones as COPY text."""

    read: int
    valid: int
    bad: list[dict[str, Any]]
    text: bytes


def wanted_properties(row: dict[str, Any]) -> dict[str, str]:
    """{key: type} of the properties the import's column map fills, in Resend's types only (a
    yes/no column's property is a string: "true"/"false")."""
    return {key: stored_type(spec.type) for key, spec in column_map_of(row).properties.items()}


def _with_values(failed: list[dict[str, Any]], frame: pl.DataFrame, headers: list[str]) -> list[dict[str, Any]]:
    """Attach each failed row's original cells, so a person can fix and re-import it."""
    if not failed:
        return failed
    import polars as pl

    wanted = frame.filter(pl.col(ROW).is_in([f["row"] for f in failed]))
    values = {r[ROW]: {h: r[h] for h in headers} for r in wanted.iter_rows(named=True)}
    return [{**f, "values": values.get(f["row"], {})} for f in failed]
