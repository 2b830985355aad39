"""The Roster Python SDK: `from roster.client import Roster, AsyncRoster`."""
from roster.client.client import AsyncRoster, Roster
from roster.client.errors import (AuthenticationError, BadRequestError, ConfigurationError, ConflictError,
                                  ConnectionFailed, FileTooLargeError, ImportFailed, NotFoundError,
                                  PermissionDeniedError, RateLimitError, RosterError, ServerError, ValidationError,
                                  WaitTimeout)
from roster.client.models import (ColumnMapSuggestion, ColumnSuggestion, Contact, ContactImport, ContactProperty, ContactTopic, Created, Deleted, ImportCounts,
                                  ImportFailure, ListPage, Segment, Topic)

__all__ = [
    "Roster", "AsyncRoster", "RosterError", "ConfigurationError", "ConnectionFailed", "BadRequestError",
    "AuthenticationError", "PermissionDeniedError", "NotFoundError", "ConflictError", "FileTooLargeError",
    "ValidationError", "RateLimitError", "ServerError", "ImportFailed", "WaitTimeout", "ColumnMapSuggestion",
    "ColumnSuggestion", "Contact", "ContactImport", "ContactTopic",
    "ContactProperty", "Created", "Deleted", "ImportCounts", "ImportFailure", "ListPage", "Segment", "Topic",
]
