"""Errors in Resend's shape: {"statusCode": 422, "name": "validation_error", "message": "..."}.

Every error the API returns goes through here, including FastAPI's request validation errors,
unknown routes (404), wrong methods (405) and unexpected exceptions (500, never a traceback).
"""

from __future__ import annotations

import logging
from typing import TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("roster.api")

# The default `name` for a status, where the raiser gives none.
NAMES = {
    400: "validation_error",
    401: "missing_api_key",
    403: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    409: "invalid_idempotent_request",
    413: "file_too_large",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "application_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """Raise anywhere in a request to answer with this error."""

    def __init__(self, status_code: int, name: str | None, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.name = name or NAMES.get(status_code, "application_error")
        self.message = message
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def cannot_store(error: OSError) -> ApiError:
    """The server could not write an upload (read-only or full data directory, an I/O error): a
    503 that says so, and may be retried. The path and errno go to the log, not to the caller."""
    log.error("cannot store an upload: %r", error)
    return ApiError(
        503,
        "service_unavailable",
        "the server cannot store uploaded files right now (its data directory is full or not "
        "writable); nothing was imported: try again later, and tell the server's operator if it persists",
        headers={"retry-after": "30"},
    )


class ErrorBody(TypedDict):
    """Every error's body, in Resend's shape."""

    statusCode: int
    name: str
    message: str


def error_body(status_code: int, name: str, message: str) -> ErrorBody:
    return {"statusCode": status_code, "name": name, "message": message}


def error_response(status_code: int, name: str | None, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    name = name or NAMES.get(status_code, "application_error")
    return JSONResponse(error_body(status_code, name, message), status_code=status_code, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    errors = exc.errors()
    if not errors:
        return "validation_error", "the request is invalid"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    where = ".".join(loc)
    if first.get("type") == "missing":
        return "missing_required_field", f"the `{where}` field is required" if where else "a required field is missing"
    msg = first.get("msg", "is invalid")
    if first.get("type") == "json_invalid":
        return "validation_error", "the request body is not valid JSON"
    return "validation_error", f"`{where}`: {msg}" if where else msg


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.name, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        name, message = _validation_message(exc)
        return error_response(422, name, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "the requested endpoint does not exist", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        if exc.status_code not in (404, 405) and exc.detail:
            message = str(exc.detail)
        return error_response(exc.status_code, None, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "application_error", "an unexpected error occurred; please try again later")
