"""Contact imports: POST a CSV (multipart, streamed to the landing store), GET one, list, failures."""
from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from roster.api.auth import Caller, require_caller
from roster.api.errors import ApiError, not_found
from roster.api.pagination import Page, page_params, paginate
from roster.api.uploads import max_upload_bytes, receive_upload, too_large
from roster.database import get_engine
from schemas import tables as t

router = APIRouter(tags=["contact imports"])

STATUSES = ("queued", "in_progress", "completed", "failed")


class ImportCreated(BaseModel):
    object: Literal["contact_import"] = "contact_import"
    id: str


class ImportCounts(BaseModel):
    total: int
    created: int
    updated: int
    skipped: int
    failed: int


class ContactImport(BaseModel):
    object: Literal["contact_import"] = "contact_import"
    id: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    created_at: str
    completed_at: str | None
    counts: ImportCounts
    error: str | None = None


class ContactImportList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[ContactImport]


class ImportFailure(BaseModel):
    row_number: int
    email: str | None
    reason: str
    data: dict


class ImportFailureList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool = False
    data: list[ImportFailure]


UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The CSV (up to 200 MB by default)."},
                        "column_map": {"type": "string", "description": 'JSON: {"email": "<header>", "first_name": ..., "last_name": ..., "unsubscribed": ..., "properties": {"<key>": {"column": "<header>", "type": "string|number|boolean"}}}'},
                        "on_conflict": {"type": "string", "enum": ["upsert", "skip"], "default": "upsert"},
                        "segments": {"type": "string", "description": 'JSON: [{"id": "<segment id>"}]'},
                        "topics": {"type": "string", "description": 'JSON: [{"id": "<topic id>", "subscription": "opt_in|opt_out"}]'},
                        "on_error": {"type": "string", "description": "Legacy; accepted and ignored."},
                        "auto_map": {"type": "boolean", "default": False},
                        "auto_create_properties": {"type": "boolean", "default": False},
                    },
                }
            }
        },
    }
}


def _bool_field(fields: dict, name: str) -> bool:
    value = fields.get(name)
    if value is None or value.strip() == "":
        return False
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise ApiError(422, "validation_error", f"`{name}` must be true or false")


def _json_list_field(fields: dict, name: str) -> list:
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


def options_from_form(fields: dict):
    from schemas.column_map import ColumnMapError, ImportOptions, parse_column_map

    try:
        column_map = parse_column_map(fields.get("column_map") or None)
    except ColumnMapError as e:
        raise ApiError(422, "validation_error", str(e)) from None
    on_conflict = (fields.get("on_conflict") or "upsert").strip()
    if on_conflict not in ("upsert", "skip"):
        raise ApiError(422, "validation_error", "`on_conflict` must be upsert or skip")
    segments = []
    for s in _json_list_field(fields, "segments"):
        sid = s.get("id") if isinstance(s, dict) else s
        if not isinstance(sid, str) or not sid:
            raise ApiError(422, "validation_error", '`segments` must be a JSON array of {"id": "<segment id>"}')
        segments.append(sid)
    topics = []
    for tp in _json_list_field(fields, "topics"):
        if not isinstance(tp, dict) or not isinstance(tp.get("id"), str):
            raise ApiError(422, "validation_error", '`topics` must be a JSON array of {"id": ..., "subscription": ...}')
        sub = tp.get("subscription", "opt_in")
        if sub not in ("opt_in", "opt_out"):
            raise ApiError(422, "validation_error", "a topic's `subscription` must be opt_in or opt_out")
        topics.append({"id": tp["id"], "subscription": sub})
    values = {"column_map": column_map, "on_conflict": on_conflict, "segments": segments, "topics": topics}
    for flag in ("auto_map", "auto_create_properties"):
        if fields.get(flag) not in (None, ""):
            values[flag] = _bool_field(fields, flag)
    return ImportOptions(**values)


@router.post(
    "/contacts/imports", status_code=201, response_model=ImportCreated, openapi_extra=UPLOAD_SCHEMA,
    summary="Create a contact import",
    description="Upload a CSV as multipart/form-data. The import runs in the background; poll GET /contacts/imports/{id}.",
)
async def create_contact_import(request: Request, caller: Annotated[Caller, Depends(require_caller)]):
    from resources.landing_store import FileTooLarge, LandingStore
    from roster.imports import ImportRefused, create_import
    from roster.launch import submit_import

    limit = max_upload_bytes()
    landing = LandingStore()
    upload = await receive_upload(request, landing.base() / ".incoming", limit)
    try:
        if upload.path is None:
            raise ApiError(422, "missing_required_field", "the `file` field is required")
        options = options_from_form(upload.fields)

        def create() -> str:
            with upload.path.open("rb") as f:
                return create_import(get_engine(), landing, caller.team_id, f, upload.filename, options,
                                     source="api", max_bytes=limit)

        try:
            import_id = await run_in_threadpool(create)
        except ImportRefused as e:
            raise ApiError(422, "validation_error", str(e)) from None
        except FileTooLarge:
            raise too_large(limit) from None
    finally:
        upload.cleanup()
    await run_in_threadpool(submit_import, import_id, {"roster/team": caller.team_name, "roster/source": "api"})
    return JSONResponse({"object": "contact_import", "id": import_id}, status_code=201)


def _import_or_404(caller: Caller, import_id: str) -> dict:
    from roster.imports import get_import

    row = get_import(get_engine(), caller.team_id, import_id)
    if row is None:
        raise not_found("Contact import")
    return row


@router.get("/contacts/imports/{import_id}", response_model=ContactImport, response_model_exclude_unset=True,
            summary="Retrieve a contact import")
def get_contact_import(import_id: str, caller: Annotated[Caller, Depends(require_caller)]):
    from roster.imports import render_import

    return render_import(_import_or_404(caller, import_id))


@router.get("/contacts/imports", response_model=ContactImportList, response_model_exclude_unset=True,
            summary="List contact imports")
def list_contact_imports(
    caller: Annotated[Caller, Depends(require_caller)],
    page: Annotated[Page, Depends(page_params)],
    status: Annotated[Literal["queued", "in_progress", "completed", "failed"] | None, Query()] = None,
):
    from roster.imports import render_import

    ci = t.contact_imports
    query = sa.select(ci).where(ci.c.team_id == caller.team_id)
    if status:
        query = query.where(ci.c.status == status)
    with get_engine().connect() as conn:
        return paginate(
            conn, query, ci.c.created_at, ci.c.id, page,
            lambda cid: sa.select(ci.c.created_at).where(ci.c.id == cid, ci.c.team_id == caller.team_id),
            render_import,
        )


@router.get(
    "/contacts/imports/{import_id}/failures",
    summary="The failed rows of an import",
    description="CSV (row_number, email, reason, then the row's original columns) by default or with "
                "`Accept: text/csv`; a JSON list with `Accept: application/json`.",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}},
                                 "application/json": {"schema": ImportFailureList.model_json_schema()}}}},
)
def get_contact_import_failures(import_id: str, request: Request, caller: Annotated[Caller, Depends(require_caller)]):
    from resources.contact_store import ContactStore

    _import_or_404(caller, import_id)
    rows = ContactStore().failures(import_id, caller.team_id)
    accept = request.headers.get("accept", "").lower()
    if "application/json" in accept and "text/csv" not in accept:
        return JSONResponse({"object": "list", "has_more": False, "data": [
            {"row_number": int(r["row_number"]), "email": r["email"], "reason": r["reason"], "data": r["data"] or {}}
            for r in rows
        ]})
    columns: list[str] = []
    for r in rows:
        columns += [k for k in (r["data"] or {}) if k not in columns]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["row_number", "email", "reason", *columns])
    for r in rows:
        data = r["data"] or {}
        writer.writerow([r["row_number"], r["email"] or "", r["reason"], *(data.get(k) or "" for k in columns)])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="import-{import_id}-failures.csv"'})
