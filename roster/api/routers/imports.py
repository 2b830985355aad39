"""Contact imports: POST a CSV (multipart, streamed to the landing store), GET one, list, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import ApiError, cannot_store, not_found
from roster.api.http.pagination import IMPORTS_PAGE, Page, paginate
from roster.api.http.uploads import max_upload_bytes, receive_upload, too_large
from roster.api.routers.common import valid_id
from roster.importing import undoing
from roster.importing.errors import ImportRefused
from roster.importing.outcome import OUTCOMES
from roster.importing.render import render_import
from roster.importing.service import CannotStart, ImportService
from roster.landing import FileTooLarge
from roster.runtime.database import get_engine
from roster.store import imports
from schemas.import_object import ContactImportObject
from schemas.import_options import Door, ImportOptions, OptionsError, declared, parse_options
from schemas.rules import PROPERTY_KEY, PROPERTY_KEY_RULE, PROPERTY_TYPES, MapTarget, PropertyType

router = APIRouter(tags=["contact imports"])

STATUSES = ("queued", "in_progress", "completed", "failed")


class ImportCreated(BaseModel):
    object: Literal["contact_import"] = "contact_import"
    id: str
    dry_run_of: str | None = None  # POST .../start: the dry run it starts


class ImportCounts(BaseModel):
    total: int
    created: int
    updated: int
    skipped: int
    failed: int


class ImportProgress(BaseModel):
    """Roster's addition to Resend's import: where its run is (roster/importing/progress.py)."""

    phase: Literal["reading", "staging", "merging", "done"] | None = None
    rows_read: int = 0
    rows_staged: int | None = None
    memberships: int | None = None


class FailedRowSample(BaseModel):
    row_number: int
    email: str | None
    reason: str
    data: dict[str, Any]


class FailureReason(BaseModel):
    """Failed rows with the same cause (the reason without the row's own value), a few of them."""

    reason: str
    count: int
    samples: list[FailedRowSample]


class ConsentKept(BaseModel):
    """Opt-outs the import kept although the file said subscribed (no `resubscribe`)."""

    unsubscribed: int
    topic_opt_outs: int


class RevertKeptProperty(BaseModel):
    key: str
    reason: Literal["in_use", "created_again_since"]
    contacts: int | None  # how many contacts have a value for it (in_use)
    why: str


class ImportRevert(BaseModel):
    """What a revert did (roster/store/undo.py)."""

    deleted: int
    restored: int
    left_unchanged: int
    left_by_reason: dict[str, int]
    kept_unsubscribed: int
    kept_topic_opt_outs: int
    resubscribe: bool
    # The properties the import created: deleted when no contact has a value for them after the
    # revert, else kept, with why (absent from reverts made before Roster did this).
    properties_deleted: list[str] = []
    properties_kept: list[RevertKeptProperty] = []


class ContactImport(BaseModel):
    object: Literal["contact_import"] = "contact_import"
    id: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    created_at: str
    completed_at: str | None
    counts: ImportCounts
    progress: ImportProgress | None = None
    error: str | None = None
    # Roster's additions (roster/importing/outcome.py): what happened, at a glance.
    outcome: Literal[OUTCOMES] | None = None  # type: ignore[valid-type]
    summary: str | None = None
    dry_run: bool = False
    failures_by_reason: list[FailureReason] | None = None
    properties_created: list[str] | None = None
    consent_kept: ConsentKept | None = None
    started_as: str | None = None  # a dry run: the import it was started as
    dry_run_of: str | None = None  # an import started from a dry run: that dry run
    # Roster's additions: present once the import was cancelled, or reverted (with what the revert did).
    cancelled_at: str | None = None
    reverted_at: str | None = None
    revert: ImportRevert | None = None


class ContactImportList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[ContactImport]


class ImportFailure(BaseModel):
    row_number: int
    email: str | None
    reason: str
    data: dict[str, Any]


class ImportFailureList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool = False
    data: list[ImportFailure]


def _form_field(field: FieldInfo, door: Door) -> dict[str, Any]:
    """One option as a multipart form field of the upload, from its declaration: text fields carry
    JSON, true/false or one of a few words."""
    if door.kind == "flag":
        out: dict[str, Any] = {"type": "boolean"}
    elif door.kind == "choice":
        out = {"type": "string", "enum": list(get_args(field.annotation))}
    else:
        out = {"type": "string"}
    description = field.description or ""
    if door.kind == "ids":
        description += ' JSON: [{"id": "<id>"}] (or ["<id>"]).'
    out["description"] = description
    if field.default is not None and not field.default_factory:
        out["default"] = field.default
    return out


def upload_form_schema() -> dict[str, Any]:
    """The upload's form in the OpenAPI document: the file, and every import option (declared in
    schemas/import_options.py), by its wire name."""
    fields: dict[str, dict[str, Any]] = {
        "file": {"type": "string", "format": "binary", "description": "The CSV (up to 200 MB by default)."}
    }
    fields |= {name: _form_field(field, door) for name, field, door in declared()}
    fields["on_error"] = {"type": "string", "description": "Legacy; accepted and ignored."}
    schema = {"type": "object", "required": ["file"], "properties": fields}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


UPLOAD_SCHEMA = upload_form_schema()


def _bool_field(fields: dict[str, Any], name: str) -> bool:
    value = fields.get(name)
    if value is None or value.strip() == "":
        return False
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise ApiError(422, "validation_error", f"`{name}` must be true or false")


def _json_list_field(fields: dict[str, Any], name: str) -> list[Any]:
    raw = fields.get(name)
    if raw is None or raw.strip() == "":
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ApiError(422, "validation_error", f"`{name}` must be a JSON array") from None
    if not isinstance(value, list):
        raise ApiError(422, "validation_error", f"`{name}` must be a JSON array")
    return value


def options_from_form(fields: dict[str, Any]) -> ImportOptions:
    """The form's fields, read by the one options parser every door uses (422 with its message)."""
    try:
        return parse_options({k: v for k, v in fields.items() if k != "file"})
    except OptionsError as e:
        raise ApiError(422, "validation_error", str(e)) from None


def _service() -> ImportService:
    return ImportService(get_engine())


@router.post(
    "/contacts/imports",
    status_code=201,
    response_model=ImportCreated,
    openapi_extra=UPLOAD_SCHEMA,
    summary="Create a contact import",
    description="Upload a CSV as multipart/form-data. The import runs in the background; poll GET /contacts/imports/{id}.",
)
async def create_contact_import(request: Request, caller: Annotated[Caller, Depends(require_caller)]) -> JSONResponse:
    limit = max_upload_bytes()
    service = _service()
    try:
        upload = await receive_upload(request, service.landing.base() / ".incoming", limit)
    except OSError as e:
        raise cannot_store(e) from None
    try:
        if upload.path is None:
            raise ApiError(422, "missing_required_field", "the `file` field is required")
        options = options_from_form(upload.fields)

        def create() -> str:
            with upload.path.open("rb") as f:  # type: ignore[union-attr]  # checked above
                return service.create(caller.team_id, f, upload.filename, options, "api", max_bytes=limit)  # type: ignore[arg-type]  # the row's filename may be NULL

        try:
            import_id = await run_in_threadpool(create)
        except ImportRefused as e:
            if e.too_large:
                raise ApiError(413, "file_too_large", str(e)) from None
            raise ApiError(422, "validation_error", str(e)) from None
        except FileTooLarge:
            raise too_large(limit) from None
        except OSError as e:
            raise cannot_store(e) from None
    finally:
        upload.cleanup()
    await run_in_threadpool(service.submit, import_id)
    return JSONResponse({"object": "contact_import", "id": import_id}, status_code=201)


class ColumnSuggestion(BaseModel):
    column: str
    target: MapTarget
    property_key: str | None = None
    property_type: PropertyType | None = None
    invert: bool = False
    confidence: float
    reason: str
    engine: str
    is_new_property: bool = False


class ColumnMapSuggestion(BaseModel):
    object: Literal["column_map_suggestion"] = "column_map_suggestion"
    column_map: dict[str, Any]
    suggestions: list[ColumnSuggestion]
    headers: list[str]
    notes: list[str]


SUGGEST_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV (or .csv.gz). Only its first 4 MB are read; the rest of the upload is discarded.",
                        },
                        "existing_properties": {
                            "type": "string",
                            "description": 'JSON: [{"key": "<key>", "type": "string|number|boolean"}]: the properties to map '
                            "onto, instead of the team's.",
                        },
                        "model_mapping": {
                            "type": "boolean",
                            "description": "The mapping model (when the server has one) may see the "
                            "file's headers and sample values. Left out: as the team, "
                            "else the server, says (default: no).",
                        },
                    },
                }
            }
        },
    }
}


def _existing_properties(fields: dict[str, Any]) -> list[dict[str, Any]] | None:
    if (fields.get("existing_properties") or "").strip() == "":
        return None
    shape = '`existing_properties` must be a JSON array of {"key": "<key>", "type": "string|number|boolean"}'
    out = []
    for item in _json_list_field(fields, "existing_properties"):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ApiError(422, "validation_error", shape)
        ptype = item.get("type", "string")
        if ptype not in PROPERTY_TYPES:
            raise ApiError(422, "validation_error", f"{shape}: {ptype!r} is not a type")
        if not PROPERTY_KEY.match(item["key"]):
            raise ApiError(422, "validation_error", f"property key {item['key']!r} is invalid: {PROPERTY_KEY_RULE}")
        out.append({"key": item["key"], "type": ptype})
    return out


def _finish_head(path: Path, limit: int) -> None:
    """The upload was cut at `limit` bytes: end it at a line end (a gzip file: decompressed as far as it goes)."""
    import zlib

    from roster.mapping.service import _cut_at_line_end

    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = zlib.decompressobj(wbits=31).decompress(raw, limit)
        except zlib.error as e:
            raise ApiError(422, "validation_error", f"the file looks gzip-compressed but cannot be decompressed ({e})") from None
    path.write_bytes(_cut_at_line_end(raw))


ERROR_SCHEMA = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["statusCode", "name", "message"],
            "properties": {"statusCode": {"type": "integer"}, "name": {"type": "string"}, "message": {"type": "string"}},
        }
    }
}


@router.post(
    "/contacts/imports/column-map",
    response_model=ColumnMapSuggestion,
    openapi_extra=SUGGEST_SCHEMA,
    responses={
        413: {"description": "The upload is over the upload limit.", "content": ERROR_SCHEMA},
        422: {"description": "No file, an empty or binary file, or invalid `existing_properties`.", "content": ERROR_SCHEMA},
    },
    summary="Suggest a column map for a CSV",
    description="Upload a CSV (multipart/form-data, `file`); only its first 4 MB are read. Returns where each "
    "column should go (`email`, `first_name`, `last_name`, `unsubscribed` with `invert`, a property, "
    "or `ignore`), with a confidence, a reason and the engine that decided, plus `column_map` ready for "
    "POST /contacts/imports. A map the team accepted before for the same headers wins (engine `memory`). "
    "Nothing is stored.",
)
async def suggest_column_map(request: Request, caller: Annotated[Caller, Depends(require_caller)]) -> JSONResponse:
    from roster.csvfiles import FileRefused
    from roster.mapping.service import HEAD_BYTES, SuggestedColumnMap, suggest_for_file

    upload = await receive_upload(request, _service().landing.base() / ".incoming", max_upload_bytes(), keep_bytes=HEAD_BYTES)
    try:
        if upload.path is None:
            raise ApiError(422, "missing_required_field", "the `file` field is required")
        path = upload.path
        existing = _existing_properties(upload.fields)
        consent = _bool_field(upload.fields, "model_mapping") if (upload.fields.get("model_mapping") or "").strip() else None

        def suggest() -> SuggestedColumnMap:
            if upload.truncated:
                _finish_head(path, HEAD_BYTES)
            return suggest_for_file(get_engine(), caller.team_id, path, existing, with_headers=True, model_mapping=consent)

        try:
            result = await run_in_threadpool(suggest)
        except FileRefused as e:
            raise ApiError(422, "validation_error", str(e)) from None
    finally:
        upload.cleanup()
    return JSONResponse({"object": "column_map_suggestion", **result})


def _import_or_404(service: ImportService, caller: Caller, import_id: str) -> dict[str, Any]:
    valid_id(import_id)
    row = service.row(caller.team_id, import_id)
    if row is None:
        raise not_found("Contact import")
    return row


@router.post(
    "/contacts/imports/{import_id}/start",
    status_code=201,
    response_model=ImportCreated,
    responses={
        404: {"description": "No such import.", "content": ERROR_SCHEMA},
        409: {"description": "Not a completed dry run, or started already.", "content": ERROR_SCHEMA},
        410: {"description": "The dry run's file is no longer kept.", "content": ERROR_SCHEMA},
    },
    summary="Start a dry run for real",
    description="A completed dry run (`dry_run=true`), imported for real: a new import (the answer's `id`) "
    "of the same file with the same options and the column map the dry run decided, without uploading "
    "again. The new import names the dry run (`dry_run_of`); the dry run names it (`started_as`). A dry "
    "run starts once; its file is kept until then, at most ROSTER_KEEP_UPLOADS_HOURS after it completed.",
)
async def start_dry_run(import_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> JSONResponse:
    service = _service()
    _import_or_404(service, caller, import_id)
    try:
        new_id = await run_in_threadpool(service.start_dry_run, caller.team_id, import_id, "api")
    except CannotStart as e:
        raise ApiError(e.status, e.name, str(e)) from None
    except OSError as e:
        raise cannot_store(e) from None
    await run_in_threadpool(service.submit, new_id)
    return JSONResponse({"object": "contact_import", "id": new_id, "dry_run_of": import_id}, status_code=201)


@router.get(
    "/contacts/imports/{import_id}",
    response_model=ContactImport,
    response_model_exclude_unset=True,
    summary="Retrieve a contact import",
)
def get_contact_import(import_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> ContactImportObject:
    return render_import(_import_or_404(_service(), caller, import_id))


@router.get(
    "/contacts/imports", response_model=ContactImportList, response_model_exclude_unset=True, summary="List contact imports"
)
def list_contact_imports(
    caller: Annotated[Caller, Depends(require_caller)],
    page: Annotated[Page, Depends(IMPORTS_PAGE)],
    status: Annotated[Literal["queued", "in_progress", "completed", "failed"] | None, Query()] = None,
) -> dict[str, Any] | StreamingResponse:
    return paginate(get_engine(), imports.listing(caller.team_id, status), page, render_import)


FAILURES_MAX_LIMIT = 1000


@router.get(
    "/contacts/imports/{import_id}/failures",
    summary="The failed rows of an import",
    description="CSV (the row's original columns under the file's headers, then `roster_error`: the row number "
    "and the reason) by default or with "
    "`Accept: text/csv`: every failed row, streamed, with cells a spreadsheet would run as a formula "
    "prefixed with a single quote. A JSON list with `Accept: application/json`, paginated: `limit` "
    f"(1-{FAILURES_MAX_LIMIT}, default 100) rows after the row number `after`, with `has_more`.",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": ImportFailureList.model_json_schema()},
            }
        }
    },
)
def get_contact_import_failures(
    import_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(require_caller)],
    limit: Annotated[int, Query(ge=1, le=FAILURES_MAX_LIMIT, description="JSON only: rows per page.")] = 100,
    after: Annotated[int | None, Query(ge=0, description="JSON only: the row_number the page starts after.")] = None,
) -> Response:
    # A plain (sync) handler: FastAPI runs it, and the CSV generator's batches, in its thread pool,
    # so the database work of a long export never holds up the event loop for other callers.
    service = _service()
    _import_or_404(service, caller, import_id)
    accept = request.headers.get("accept", "").lower()
    if "application/json" in accept and "text/csv" not in accept:
        return JSONResponse(service.failures_page(caller.team_id, import_id, limit, after))
    return StreamingResponse(
        service.failures_csv(caller.team_id, import_id),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="import-{import_id}-failures.csv"'},
    )


@router.post(
    "/contacts/imports/{import_id}/cancel",
    response_model=ContactImport,
    response_model_exclude_unset=True,
    responses={
        409: {"description": "Too late (the contacts are written: revert instead), or the import ended.", "content": ERROR_SCHEMA}
    },
    summary="Cancel a queued or running contact import",
    description="The import ends `failed` with nothing written, `cancelled_at` set and an `error` saying it was "
    "cancelled. Once its merge has committed the contacts it is too late (409 `too_late`): revert it instead. "
    "Cancelling again returns the import as it is.",
)
def cancel_contact_import(import_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> ContactImportObject:
    _import_or_404(_service(), caller, import_id)
    try:
        row = undoing.cancel(get_engine(), caller.team_id, import_id)
    except LookupError:
        raise not_found("Contact import") from None
    except undoing.CancelRefused as e:
        raise ApiError(409, e.code, str(e).replace("{id}", import_id)) from None
    return render_import(row)


@router.post(
    "/contacts/imports/{import_id}/revert",
    response_model=ContactImport,
    response_model_exclude_unset=True,
    responses={
        409: {"description": "Nothing to revert, still running, or its undo record was dropped.", "content": ERROR_SCHEMA}
    },
    summary="Revert (undo) a completed contact import",
    description="Puts the team back as it was before the import, for every contact it touched that nothing "
    "changed since: contacts it created are deleted, the names, properties and `unsubscribed` it updated get "
    "their earlier values, the memberships and topic subscriptions it added are removed. Contacts changed "
    "since are left as they are and counted (`revert.left_unchanged`), listed by GET "
    "/contacts/imports/{id}/revert/conflicts. An unsubscribe or topic opt-out the import applied stays "
    "unless `resubscribe=true` (query, or JSON body). One transaction; reverting again returns the first result.",
)
async def revert_contact_import(
    import_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(require_caller)],
    resubscribe: Annotated[
        bool | None, Query(description="Also reverse the unsubscribes and topic opt-outs the import applied.")
    ] = None,
) -> ContactImportObject:
    if resubscribe is None:
        resubscribe = await _body_flag(request, "resubscribe")

    def run() -> dict[str, Any]:
        _import_or_404(_service(), caller, import_id)
        return undoing.revert(get_engine(), caller.team_id, import_id, resubscribe)

    try:
        row = await run_in_threadpool(run)
    except LookupError:
        raise not_found("Contact import") from None
    except undoing.RevertRefused as e:
        raise ApiError(409, e.code, str(e).replace("{id}", import_id)) from None
    return render_import(row)


async def _body_flag(request: Request, name: str) -> bool:
    """A boolean from a JSON body ({"resubscribe": true}); false without one."""
    body = await request.body()
    if not body.strip():
        return False
    try:
        value = json.loads(body).get(name, False)
    except (ValueError, AttributeError):
        raise ApiError(422, "validation_error", f'the body must be a JSON object such as {{"{name}": true}}') from None
    if not isinstance(value, bool):
        raise ApiError(422, "validation_error", f"`{name}` must be true or false")
    return value


@router.get(
    "/contacts/imports/{import_id}/revert/conflicts",
    summary="The contacts a revert left as they are",
    description="CSV (contact_id, email, reason, why) by default or with `Accept: text/csv`; a JSON list with "
    "`Accept: application/json`. Reasons: `changed_since`, `deleted_since`, `changed_during_import`, "
    "`kept_unsubscribed`. Kept as long as the import's undo record (ROSTER_UNDO_RETENTION_DAYS).",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}}}
    },
)
def get_revert_conflicts(import_id: str, request: Request, caller: Annotated[Caller, Depends(require_caller)]) -> Response:
    row = _import_or_404(_service(), caller, import_id)
    if row["reverted_at"] is None:
        raise ApiError(409, "not_reverted", "this import has not been reverted")
    rows = undoing.left_unchanged(get_engine(), caller.team_id, import_id)
    accept = request.headers.get("accept", "").lower()
    if "application/json" in accept and "text/csv" not in accept:
        return JSONResponse({"object": "list", "has_more": False, "data": rows})
    return PlainTextResponse(
        undoing.left_unchanged_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="import-{import_id}-revert-conflicts.csv"'},
    )
