"""The dashboard's pages. Each handler reads the session, then calls the import core: the import
service to create, read and start imports and to export failed rows, the mapping service for
suggestions, the one options parser, and the store for the team's properties, segments and topics."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from roster.api.http.auth import lookup_caller
from roster.api.http.errors import ApiError
from roster.api.http.ratelimit import SharedBuckets, client_address, limits
from roster.api.http.uploads import max_upload_bytes, receive_upload
from roster.csvfiles import FileRefused
from roster.dashboard import HERE, PREFIX, check, drafts, review, sessions
from roster.dashboard.view import import_view, queue_words
from roster.importing.errors import ImportRefused
from roster.importing.service import ImportService
from roster.landing import FileTooLarge
from roster.mapping.service import suggest_for_sample
from roster.runtime.database import get_engine
from roster.runtime.settings import get_settings, size_text
from roster.store import dashboard_queries as queries
from roster.store import dashboard_sessions, properties
from roster.store.keys import hash_token
from schemas.import_options import OptionsError, parse_options
from schemas.rules import is_uuid

router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=str(HERE / "templates"))
STATUSES = ("queued", "in_progress", "completed", "failed")
PAGE_SIZE = 20
FAILED_ROWS_SHOWN = 50
_bad_keys = SharedBuckets()


class SignInNeeded(Exception):
    """No valid session: pages send the browser to sign in, data endpoints answer 401."""


@dataclass(frozen=True)
class Session:
    team_id: int
    team_name: str
    key_id: str
    cookie: str

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.cookie)


def session(request: Request) -> Session:
    """The FastAPI dependency of every page but sign-in: the signed-in team, checked again
    against its stored session (ended by sign-out) and its key on each request."""
    cookie = request.cookies.get(sessions.COOKIE)
    body = sessions.read(cookie)
    if body is None:
        raise SignInNeeded()
    owner = dashboard_sessions.owner(get_engine(), str(body.get("n", "")))
    if owner is None or owner["team_id"] != body["t"] or owner["key_id"] != body["k"]:
        raise SignInNeeded()
    return Session(owner["team_id"], owner["team_name"], body["k"], cookie)


Signed = Annotated[Session, Depends(session)]


def _service() -> ImportService:
    return ImportService(get_engine())


def page(request: Request, name: str, who: Session | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    context |= {"who": who, "csrf": who.csrf if who else context.get("csrf", ""), "prefix": PREFIX}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    # Pages hold a team's contacts: not for shared caches or the back button after sign-out.
    response.headers["cache-control"] = "no-store"
    return response


def _check_csrf(who: Session, token: str | None) -> None:
    if not sessions.csrf_ok(who.cookie, token):
        raise SignInNeeded()


# -- signing in and out -----------------------------------------------------------------------------
@router.get("", response_class=RedirectResponse)
@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/imports", status_code=303)


def _host_and_port(netloc_url: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(netloc_url)
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


def same_origin(request: Request) -> bool:
    """Whether a POST came from a page of this dashboard: its Origin (or, without one, its
    Referer) names the host the request was sent to, or one of ROSTER_DASHBOARD_ORIGINS (behind
    a proxy that rewrites the Host header). Schemes are not compared: a proxy that ends TLS
    forwards plain HTTP. A request with neither header (not a browser's form) is left to the
    form's token, which only a page of this dashboard can hold."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    claimed = _host_and_port(source)
    if claimed is None or not claimed[0]:  # "null": a sandboxed frame, a data: URL
        return False
    allowed = {_host_and_port("//" + request.headers.get("host", ""))}
    allowed |= {_host_and_port(o.strip()) for o in get_settings().dashboard_origins.split(",") if o.strip()}
    return claimed in allowed


def _sign_in_page(request: Request, status_code: int = 200, error: str | None = None) -> HTMLResponse:
    """The sign-in form, with a token bound to this browser's pre-session cookie (login CSRF)."""
    value = request.cookies.get(sessions.SIGNIN_COOKIE) or sessions.new_signin_value()
    response = page(request, "sign_in.html", None, status_code, error=error, csrf=sessions.signin_token(value))
    response.set_cookie(
        sessions.SIGNIN_COOKIE,
        value,
        max_age=sessions.SIGNIN_LIFETIME_SECONDS,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> HTMLResponse:
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    if not same_origin(request) or not sessions.signin_ok(request.cookies.get(sessions.SIGNIN_COOKIE), form.get("csrf")):
        # Another site's form (login CSRF), or this one left open too long: nobody is signed in.
        return _sign_in_page(request, 403, error="This sign-in form expired or came from another site: sign in here again.")
    key = str(form.get("api_key") or "").strip()
    address = client_address(request.scope)
    if _bad_keys.refused_here(f"badkey:{address}"):
        return _sign_in_page(request, 429, error="Too many wrong keys from here: wait a minute.")
    caller = await run_in_threadpool(lookup_caller, hash_token(key)) if key else None
    if caller is None:
        # Wrong keys cost the address, as they do at the API: a key cannot be guessed here instead.
        await run_in_threadpool(_bad_keys.take, f"badkey:{address}", limits()[1])
        return _sign_in_page(request, 401, error="That API key is not valid. Create one with `roster keys create --team NAME`.")
    session_id = sessions.new_session_id()
    value = sessions.issue(caller.key_id, caller.team_id, session_id=session_id)
    await run_in_threadpool(
        dashboard_sessions.start, get_engine(), session_id, caller.key_id, caller.team_id, sessions.read(value)["exp"]
    )
    response = RedirectResponse(PREFIX + "/imports", status_code=303)
    response.set_cookie(
        sessions.COOKIE,
        value,
        max_age=sessions.LIFETIME_SECONDS,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(sessions.SIGNIN_COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """Ends the session on the server (its row deleted: the cookie, copied or not, opens nothing
    more), then in the browser. Only from this dashboard's own form: a forged post does nothing."""
    form = await request.form()
    cookie = request.cookies.get(sessions.COOKIE)
    body = sessions.read(cookie)
    if body is not None:
        if not same_origin(request) or not sessions.csrf_ok(cookie, form.get("csrf")):
            return PlainTextResponse("Sign-out refused: the request did not come from this dashboard.", status_code=403)
        await run_in_threadpool(dashboard_sessions.end, get_engine(), str(body.get("n", "")))
    response = RedirectResponse(PREFIX + "/sign-in", status_code=303)
    response.delete_cookie(sessions.COOKIE, path=PREFIX, httponly=True, samesite="lax")
    return response


# -- the imports list -------------------------------------------------------------------------------
def _list_context(who: Session, status: str | None, page_number: int) -> dict[str, Any]:
    engine = get_engine()
    status = status if status in STATUSES else None
    page_number = max(1, page_number)
    rows = queries.imports_page(engine, who.team_id, status, (page_number - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    counts = queries.status_counts(engine, who.team_id)
    return {
        "imports": [import_view(r) for r in rows[:PAGE_SIZE]],
        "has_more": len(rows) > PAGE_SIZE,
        "status": status,
        "page_number": page_number,
        "counts": counts,
        "statuses": STATUSES,
        "total_imports": sum(counts.values()),
        "running": counts.get("queued", 0) + counts.get("in_progress", 0) > 0,
    }


@router.get("/imports", response_class=HTMLResponse)
def imports_list(
    request: Request, who: Signed, status: str | None = None, page_number: int = 1, partial: bool = False
) -> HTMLResponse:
    context = _list_context(who, status, page_number)
    return page(request, "_imports_table.html" if partial else "imports.html", who, **context)


# -- one import -------------------------------------------------------------------------------------
def _row_or_404(who: Session, import_id: str) -> dict[str, Any] | None:
    return _service().row(who.team_id, import_id) if is_uuid(import_id) else None


def _dagster_url(request: Request, run_id: str | None) -> str | None:
    if not run_id:
        return None
    base = get_settings().dagster_url or f"{request.url.scheme}://{request.url.hostname}:3000"
    return f"{base.rstrip('/')}/runs/{run_id}"


@router.get("/imports/new", response_class=HTMLResponse)
def new_import(request: Request, who: Signed) -> HTMLResponse:
    limit = max_upload_bytes()
    return page(request, "new_import.html", who, limit=limit, limit_text=size_text(limit))


def _import_view(who: Session, row: dict[str, Any]) -> dict[str, Any]:
    """The import as the page and its poll show it: with its place in the queue while queued, and
    its segments by name."""
    imp = import_view(row)
    engine = get_engine()
    if row["status"] == "queued":
        ahead = queries.queue_ahead(engine, who.team_id, str(row["id"]))
        imp["progress"]["phase"] = queue_words(ahead)
        imp["queue_position"] = len(ahead) + 1
    elif row["status"] == "in_progress" and row.get("phase") == "staging":
        # The counts move while rows are read: read so far, and of those failed so far (the
        # import's own counts are written when it merges).
        failed = queries.failed_so_far(engine, who.team_id, str(row["id"]))
        read = int(row.get("rows_read") or 0)
        imp["counts"] = imp["counts"] | {"total": read, "failed": failed}
        imp["progress"]["phase"] += f" · {max(0, read - failed):,} valid, {failed:,} failed so far"
    names = {s["id"]: s["name"] for s in queries.segments(engine, who.team_id)}
    imp["segments"] = [names.get(str(s), "(a deleted segment)") for s in (row.get("options") or {}).get("segments") or []]
    return imp


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def one_import(request: Request, import_id: str, who: Signed, guard: str | None = None) -> HTMLResponse:
    row = _row_or_404(who, import_id)
    if row is None:
        return page(request, "not_found.html", who, 404, what="import")
    return _import_page(request, who, row, 200, None, guard)


def _import_page(
    request: Request, who: Session, row: dict[str, Any], status_code: int, guard_error: str | None, guard: str | None
) -> HTMLResponse:
    """One import's page; a completed dry run's is the check before Start (check.check_result)."""
    import_id = str(row["id"])
    failures = _service().failures_page(who.team_id, import_id, FAILED_ROWS_SHOWN, None) if row["failed"] else None
    imp = _import_view(who, row)
    result = None
    if imp["outcome"] == "dry_run" and not imp.get("started_as"):
        # The guard the review asked for (?guard=, carried from the review's form), else the
        # dry run's own, else the default: Start for real applies it.
        stored = (row.get("options") or {}).get("max_failed_rows")
        chosen = guard if guard is not None else (str(stored) if stored is not None else check.DEFAULT_GUARD)
        result = check.check_result(row, imp, chosen)
        result["guard_error"] = guard_error
    return page(
        request,
        "import.html",
        who,
        status_code,
        imp=imp,
        check=result,
        failures=failures,
        dagster_url=_dagster_url(request, row.get("run_id")),
        shown=FAILED_ROWS_SHOWN,
    )


@router.get("/imports/{import_id}/status.json")
def import_status(import_id: str, who: Signed) -> JSONResponse:
    row = _row_or_404(who, import_id)
    if row is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    return JSONResponse(jsonable_encoder(_import_view(who, row)), headers={"cache-control": "no-store"})


@router.get("/imports/{import_id}/failures.csv")
def import_failures(import_id: str, who: Signed) -> Response:
    if _row_or_404(who, import_id) is None:
        return Response("not found", status_code=404)
    return StreamingResponse(
        _service().failures_csv(who.team_id, import_id),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="import-{import_id}-failures.csv"'},
    )


@router.post("/imports/{import_id}/start")
async def start_dry_run(request: Request, import_id: str, who: Signed) -> Response:
    """A completed dry run, started for real (the API's POST /contacts/imports/{id}/start), with
    the failure guard given beside its Start button: the same file, map and choices, no upload."""
    from roster.importing.service import CannotStart

    form = await request.form()
    _check_csrf(who, form.get("csrf"))
    row = _row_or_404(who, import_id)
    if row is None:
        return page(request, "not_found.html", who, 404, what="import")
    service = _service()
    guard = str(form.get("max_failed_rows") or "").strip() or None

    def start() -> str:
        new_id = service.start_dry_run(who.team_id, import_id, "dashboard", max_failed_rows=guard)
        service.submit(new_id)
        return new_id

    try:
        new_id = await run_in_threadpool(start)
    except CannotStart:
        return RedirectResponse(f"{PREFIX}/imports/{import_id}", status_code=303)
    except OptionsError as e:
        return await run_in_threadpool(_import_page, request, who, row, 422, str(e), guard or "")
    return RedirectResponse(f"{PREFIX}/imports/{new_id}", status_code=303)


# -- a new import: upload, review, start ------------------------------------------------------------
@router.post("/imports/upload")
async def upload(request: Request, who: Signed) -> Response:
    """The file, streamed to disk under the upload limit (the API's own parser). Answers JSON to
    the page's script, or a redirect when the form was posted without it."""
    wants_json = "application/json" in request.headers.get("accept", "")
    service, limit = _service(), max_upload_bytes()

    def refuse(message: str, status: int) -> Response:
        if wants_json:
            return JSONResponse({"error": message}, status_code=status)
        return page(request, "new_import.html", who, status, error=message, limit=limit, limit_text=size_text(limit))

    try:
        up = await receive_upload(request, service.landing.base() / ".incoming", limit)
    except FileTooLarge:
        return refuse(f"The file is larger than the limit of {size_text(limit)}.", 413)
    except ApiError as e:  # over the limit, or not a multipart form
        return refuse(e.message, e.status_code)
    except OSError:
        return refuse("The server could not store the upload (its disk may be full): try again later.", 503)
    token = request.headers.get("x-csrf-token") or up.fields.get("csrf")
    if not sessions.csrf_ok(who.cookie, token):
        up.cleanup()
        return refuse("Your session expired: sign in again.", 403)
    if up.path is None:
        up.cleanup()
        return refuse("Choose a CSV file to upload.", 422)
    if up.size == 0:
        up.cleanup()
        return refuse(
            f"“{_shown_name(up.filename)}” is empty (0 bytes): choose a CSV with a header row and a row per contact.", 422
        )
    draft = drafts.adopt(service.landing, who.team_id, up.path, Path(up.filename or "upload.csv").name)
    try:
        head = await run_in_threadpool(drafts.read_head, draft)
        refusal = review.refusal(head, draft.filename)
    except FileRefused as e:
        refusal = str(e)
    if refusal:
        drafts.discard(draft)
        return refuse(refusal, 422)
    url = f"{PREFIX}/imports/review/{draft.id}"
    return JSONResponse({"review_url": url}) if wants_json else RedirectResponse(url, status_code=303)


def _shown_name(filename: str | None) -> str:
    return Path(filename or "upload.csv").name[:200]


def _review_context(who: Session, draft: drafts.Draft, form: FormData | None = None) -> dict[str, Any]:
    """The review page's content, from the upload's head as read once at upload (drafts.read_head):
    the checks and the mapping suggestion both work from it."""
    engine = get_engine()
    head = drafts.read_head(draft)
    existing = properties.types(engine, who.team_id)
    suggested = suggest_for_sample(
        engine,
        who.team_id,
        head["headers"],
        drafts.samples(head),
        [{"key": k, "type": v} for k, v in existing.items()],
        with_headers=True,
    )
    rows = review.rows_for(suggested["suggestions"], drafts.distinct_values(head), existing)
    if form is not None:  # a form sent back with a problem keeps what the person chose
        for row in rows:
            i = row["index"]
            row["choice"] = form.get(f"target_{i}") or row["choice"]
            row["include"] = form.get(f"include_{i}") == "on"
            row["new_key"] = form.get(f"new_key_{i}") or row["new_key"]
            row["new_type"] = form.get(f"new_type_{i}") or row["new_type"]
            row["invert"] = form.get(f"invert_{i}") == "on"
    else:
        for row in rows:
            row["include"] = row["choice"] != "ignore"
    email_column = next((r["column"] for r in rows if r["choice"] == "email" and r["include"]), None)
    checks = review.email_checks(head["headers"], head["rows"], email_column)
    shown = head | {"rows": head["rows"][: drafts.PREVIEW_ROWS]}
    if form is not None:
        chosen_segments = set(form.getlist("segment"))
    else:  # the segments this team's last import of the same columns went to
        chosen_segments = set(queries.last_segments_for_headers(engine, who.team_id, review.own_headers(head["headers"])))
    given: FormData | dict[str, str] = form or {}
    return {
        "draft": draft,
        "preview": shown,
        "rows": rows,
        "summary": review.summary(rows),
        "notes": suggested.get("notes", []),
        "checks": checks,
        "existing": sorted(existing.items()),
        "segments": queries.segments(engine, who.team_id),
        "topics": queries.topics(engine, who.team_id),
        "types": review.TYPES,
        "remembered": any(r["engine"] == "memory" for r in rows),
        "remembered_segments": form is None and bool(chosen_segments),
        "chosen": {
            "on_conflict": given.get("on_conflict", "upsert"),
            "segments": chosen_segments,
            "new_segment": given.get("new_segment", ""),
            "topics": {k[6:]: v for k, v in given.items() if k.startswith("topic_")},
            "resubscribe": given.get("resubscribe") == "on",
            # A sensible guard is offered, not imposed: the person can change or clear it.
            "max_failed_rows": form.get("max_failed_rows", "") if form is not None else check.DEFAULT_GUARD,
        },
    }


@router.get("/imports/review/{draft_id}", response_class=HTMLResponse)
async def review_page(request: Request, draft_id: str, who: Signed) -> Response:
    landing = _service().landing
    draft = drafts.find(landing, who.team_id, draft_id)
    if draft is None:
        started = drafts.started_import(landing, who.team_id, draft_id)
        if started:  # reviewed and started already (the back button, a bookmark): show that import
            return RedirectResponse(f"{PREFIX}/imports/{started}", status_code=303)
        return page(request, "not_found.html", who, 404, what="upload (uploads wait a day for their review)")
    t0 = time.perf_counter()
    try:
        context = await run_in_threadpool(_review_context, who, draft)
    except FileRefused as e:
        return page(
            request, "new_import.html", who, 422, error=str(e), limit=max_upload_bytes(), limit_text=size_text(max_upload_bytes())
        )
    response = page(request, "review.html", who, **context)
    response.headers["server-timing"] = f"app;dur={1000 * (time.perf_counter() - t0):.1f}"
    return response


@router.post("/imports/review/{draft_id}")
async def start_import(request: Request, draft_id: str, who: Signed) -> Response:
    form = await request.form()
    _check_csrf(who, form.get("csrf"))
    service = _service()
    draft = drafts.find(service.landing, who.team_id, draft_id)
    if draft is None:
        started = drafts.started_import(service.landing, who.team_id, draft_id)
        if started:  # a second press of Start, or a resent form: the import it started
            return RedirectResponse(f"{PREFIX}/imports/{started}", status_code=303)
        return page(request, "not_found.html", who, 404, what="upload (uploads wait a day for their review)")
    engine = get_engine()

    def create() -> tuple[str | None, list[str]]:
        headers = drafts.read_head(draft)["headers"]
        column_map, problems = review.column_map_from_form(form, headers, properties.types(engine, who.team_id))
        segments = [s for s in form.getlist("segment") if s]
        topics = [{"id": k[6:], "subscription": v} for k, v in form.items() if k.startswith("topic_") and v]
        if problems:
            return None, problems
        new_segment = str(form.get("new_segment") or "").strip()
        if new_segment:
            segments.append(queries.create_segment(engine, who.team_id, new_segment[:200]))
        guard = str(form.get("max_failed_rows") or "").strip() or None
        dry_run = form.get("dry_run") == "true"
        try:
            parse_options({"max_failed_rows": guard})  # a guard that cannot be read is refused now, check or not
            options = parse_options(
                {
                    "column_map": column_map,
                    "on_conflict": form.get("on_conflict") or "upsert",
                    "segments": segments,
                    "topics": topics,
                    "resubscribe": form.get("resubscribe") == "on",
                    "dry_run": dry_run,
                    # The check counts every row, without the guard: its page shows the guard
                    # against the counts, and Start for real applies it (start_dry_run).
                    "max_failed_rows": None if dry_run else guard,
                }
            )
            import_id = service.create(
                who.team_id, draft.path, draft.filename, options, "dashboard", max_bytes=max_upload_bytes()
            )
        except (OptionsError, ImportRefused, FileTooLarge) as e:
            return None, [str(e)]
        except OSError:
            return None, ["The server could not store the file (its disk may be full): try again later."]
        drafts.mark_started(draft, import_id)
        service.submit(import_id)
        return import_id, []

    import_id, problems = await run_in_threadpool(create)
    if import_id is None:
        context = await run_in_threadpool(_review_context, who, draft, form)
        return page(request, "review.html", who, 422, problems=problems, **context)
    if form.get("dry_run") == "true" and "max_failed_rows" in form:
        # The check's page offers Start with the guard chosen here (cleared: none).
        query = urlencode({"guard": str(form.get("max_failed_rows") or "").strip()})
        return RedirectResponse(f"{PREFIX}/imports/{import_id}?{query}", status_code=303)
    return RedirectResponse(f"{PREFIX}/imports/{import_id}", status_code=303)


# -- cancel and revert (issue 20): a POST each, with the page's CSRF token, confirmed in the page --
@router.post("/imports/{import_id}/cancel")
async def cancel_import(request: Request, import_id: str, who: Signed) -> Response:
    form = await request.form()
    _check_csrf(who, form.get("csrf"))
    return await run_in_threadpool(_undo_action, request, who, import_id, "cancel", False)


@router.post("/imports/{import_id}/revert")
async def revert_import(request: Request, import_id: str, who: Signed) -> Response:
    form = await request.form()
    _check_csrf(who, form.get("csrf"))
    return await run_in_threadpool(_undo_action, request, who, import_id, "revert", form.get("resubscribe") == "on")


def _undo_action(request: Request, who: Session, import_id: str, action: str, resubscribe: bool) -> Response:
    from roster.importing import undoing

    if _row_or_404(who, import_id) is None:
        return page(request, "not_found.html", who, 404, what="import")
    try:
        if action == "cancel":
            undoing.cancel(get_engine(), who.team_id, import_id)
        else:
            undoing.revert(get_engine(), who.team_id, import_id, resubscribe)
    except (undoing.CancelRefused, undoing.RevertRefused) as e:
        row = _row_or_404(who, import_id)
        message = (
            str(e)
            .replace("POST /contacts/imports/{id}/revert", "the Revert button")
            .replace(" (POST /contacts/imports/{id}/cancel)", "")
        )
        return page(request, "import.html", who, 409, imp=import_view(row), failures=None, action_error=message, shown=0)
    return RedirectResponse(f"{PREFIX}/imports/{import_id}", status_code=303)


@router.get("/imports/{import_id}/revert-conflicts.csv")
def revert_conflicts(import_id: str, who: Signed) -> Response:
    from roster.importing import undoing

    if _row_or_404(who, import_id) is None:
        return Response("not found", status_code=404)
    rows = undoing.left_unchanged(get_engine(), who.team_id, import_id)
    return Response(
        undoing.left_unchanged_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="import-{import_id}-left-unchanged.csv"'},
    )
