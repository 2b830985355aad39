"""Errors the SDK raises: every API error is a RosterError carrying status_code, name, message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roster.client.models import ContactImport


class RosterError(Exception):
    def __init__(self, status_code: int, name: str, message: str, headers: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status_code} {name}: {message}" if status_code else f"{name}: {message}")
        self.status_code = status_code
        self.name = name
        self.message = message
        self.headers = dict(headers or {})


class ConfigurationError(RosterError):
    """No API key, or a bad argument, before any request was sent."""


class ConnectionFailed(RosterError):
    """The server could not be reached (after the retries)."""


class BadRequestError(RosterError):  # 400
    pass


class AuthenticationError(RosterError):  # 401
    pass


class PermissionDeniedError(RosterError):  # 403
    pass


class NotFoundError(RosterError):  # 404
    pass


class ConflictError(RosterError):  # 409
    pass


class FileTooLargeError(RosterError):  # 413
    pass


class ValidationError(RosterError):  # 422
    pass


class RateLimitError(RosterError):  # 429
    @property
    def retry_after(self) -> float | None:
        try:
            return float(self.headers.get("retry-after"))  # type: ignore[arg-type]  # None: the TypeError below
        except (TypeError, ValueError):
            return None


class ServerError(RosterError):  # 5xx
    pass


class ImportFailed(RosterError):
    """wait() saw the import end as `failed`; `.contact_import` has it."""

    def __init__(self, contact_import: ContactImport) -> None:
        super().__init__(0, "import_failed", contact_import.error or "the import failed")
        self.contact_import = contact_import


class WaitTimeout(RosterError):
    def __init__(self, contact_import: ContactImport, timeout: float) -> None:
        super().__init__(0, "timeout", f"the import is still {contact_import.status} after {timeout:g} s")
        self.contact_import = contact_import


_BY_STATUS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: FileTooLargeError,
    422: ValidationError,
    429: RateLimitError,
}


def error_for(status_code: int, name: str, message: str, headers: Mapping[str, Any] | None = None) -> RosterError:
    cls = _BY_STATUS.get(status_code) or (ServerError if status_code >= 500 else RosterError)
    return cls(status_code, name, message, headers)
