"""What a failed import's `error` tells its caller: what happened and what to do, never how the
server is built (exception classes, driver messages, SQL, file paths on the server).

The detail is not lost: the step re-raises the exception, so the run's log in Dagster has the
whole traceback, for the operator. Two layers:
- public_error(): the text written into the import when a step fails unexpectedly;
- public_text(): applied when an import is shown (API, CLI), to whatever text is stored, so an
  older row or another writer (a sensor, a sync source) cannot show internals either.
"""

from __future__ import annotations

import errno
import re

# What each step of the import job was doing, in a caller's words.
DOING = {
    "import_file": "opening the file",
    "column_mapping": "mapping the columns",
    "validated_rows": "reading and checking the rows",
    "contact_properties": "creating the contact properties",
    "contacts": "saving the contacts",
    "segment_memberships": "adding the contacts to segments and topics",
    "import_report": "finishing the import",
}
RETRY = "retry it with `roster imports run ID`, or upload the file again"
DETAILS = "the server's operator finds the details in the import's run in Dagster"
GENERIC = f"the import failed on the server; {DETAILS}"


def public_error(step: str, exc: BaseException) -> str:
    """The `error` of an import whose step `step` raised `exc` (not a refusal of the file: those
    carry their own message, written for people)."""
    doing = DOING.get(step, "running the import")
    if isinstance(exc, FileNotFoundError):
        return (
            "the import's file is no longer on the server (the upload of an ended import is kept "
            "ROSTER_KEEP_UPLOADS_HOURS hours): upload the file again"
        )
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            what = "the server's disk is full"
        elif isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            what = "the server cannot write to its data directory"
        else:
            what = "the server could not read or write the file (an I/O error)"
        return f"{what} while {doing}; once its operator has fixed that, {RETRY}"
    if isinstance(exc, MemoryError):
        return f"the server ran out of memory while {doing}; {DETAILS}"
    if _is_database_error(exc):
        return f"the database refused a change while {doing}; {DETAILS}"
    return f"the import failed while {doing} (an error inside the server); {DETAILS}"


def _is_database_error(exc: BaseException) -> bool:
    import psycopg
    import sqlalchemy.exc

    return isinstance(exc, (sqlalchemy.exc.SQLAlchemyError, psycopg.Error))


# Text that only the server's internals write: a qualified or bare exception class with its
# message, a traceback, driver and SQL wording.
_INTERNAL = re.compile(
    r"Traceback \(most recent call last\)"
    r"|\b[a-z_][\w]*(?:\.[a-z_][\w]*)+\.[A-Z]\w*(?:Error|Exception|Violation|Exceeded|Warning)\b"
    r"|\b[A-Z]\w*(?:Error|Exception|Violation|Exceeded)\b:"
    r"|\bpsycopg\b|\bsqlalchemy\b|Background on this error|\bSQLSTATE\b|\bDETAIL:|\bCONTEXT:",
)
# An absolute path on the server (not the path part of a URL: no letter, dot, colon or slash before it).
_PATH = re.compile(r"(?<![\w.:/\\-])/(?:[^\s/'\"()\[\],;]+/)+([^\s/'\"()\[\],;]*)")


def public_text(stored: str | None) -> str | None:
    """A stored `error`, fit to show a caller: internals replaced by a pointer to the run's log,
    server paths cut to their file name."""
    if not stored:
        return stored
    if _INTERNAL.search(stored):
        return GENERIC
    return _PATH.sub(lambda m: m.group(1) or "(a folder on the server)", stored)
