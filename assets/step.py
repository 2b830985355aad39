"""What every import step shares: its import, its run lease, and turning errors into an honest status.

How an error ends:
- a refusal (bad file, bad map): the import fails with its reason, no retries;
- a transient fault (the database restarting or unreachable, storage briefly unwritable): the
  step runs again with backoff, about a minute in all; every step is safe to run again because it
  recomputes what it needs from durable state. If the fault outlasts the retries, the import
  fails with a reason that says what to do;
- anything else: the import fails with what went wrong.
A run whose process dies gets none of this: the watchdog and Dagster's run retries take over
(pipelines/watchdog.py).
"""

import contextlib
import errno
from collections.abc import Iterator

import psycopg
import sqlalchemy.exc
from dagster import AssetExecutionContext, Failure, RetryRequested
from sqlalchemy.engine import Engine

from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing
from roster.csvfiles import FileRefused
from roster.importing.errors import ImportRefused
from roster.importing.steps import ImportSteps
from roster.safety.public_errors import public_error
from roster.store import imports
from roster.store.cancel import Cancelled
from roster.store.leases import ImportBusy, hold, let_go
from schemas.column_map import ColumnMapError
from schemas.import_options import OptionsError

GROUP = "contact_import"
# A bad file or map fails the import at once; retrying cannot help.
# So does a cancel (the import already says it was cancelled; fail() keeps that).
REFUSALS = (FileRefused, ColumnMapError, ImportRefused, OptionsError, Cancelled)
# Seconds to wait before each retry of a step hit by a transient fault: about a minute in all,
# longer than PostgreSQL's crash recovery takes.
BACKOFF = (1, 2, 4, 8, 15, 30)
# SQLSTATEs worth a retry: connection exceptions (08), the server shutting down or starting
# (57P01-57P03), too many connections or out of resources (53), serialization and deadlock, and
# a lock waited for longer than the run's lock_timeout (55P03; roster/store/leases.py): whoever
# held it may be gone by the next attempt. Not class 54 (a program limit such as an index row too large): the same row fails again.
_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "53", "40001", "40P01", "55P03")
# Storage that is full, read-only or failing may come back.
_TRANSIENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EIO, errno.EDQUOT}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if not isinstance(exc.orig, psycopg.Error):
            return isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError))
        exc = exc.orig
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state is None:  # no answer from the server at all: the connection failed
            return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
        return state.startswith(_TRANSIENT_STATES)
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


def steps_of(context: AssetExecutionContext, database: Database, landing: Landing, mapping: Mapping) -> ImportSteps:
    """The import core's steps, with the run's bound resources and log."""
    return ImportSteps(database.engine(), landing.store(), mapping.mapper(), log=context.log.info)


@contextlib.contextmanager
def import_step(context: AssetExecutionContext, steps: ImportSteps, step: str) -> Iterator[str]:
    """Yields the import id (the partition key), with this process holding the import's lease."""
    import_id, engine = context.partition_key, steps.engine
    try:
        hold(engine, import_id, context.run_id)
        yield import_id
    except ImportBusy as e:
        # Another live run works on this import: leave the import to it, touch nothing.
        raise Failure(description=str(e), allow_retries=False) from None
    except Failure:
        let_go(import_id)
        raise
    except REFUSALS as e:
        let_go(import_id)
        imports.fail(engine, import_id, str(e))
        steps.landing.clean_work(import_id)
        raise Failure(description=str(e), allow_retries=False) from None
    except Exception as e:
        if is_transient(e) and context.retry_number < len(BACKOFF):
            wait = BACKOFF[context.retry_number]
            context.log.warning(f"{step}: transient fault, retrying in {wait} s: {e}")
            raise RetryRequested(max_retries=len(BACKOFF), seconds_to_wait=wait) from e
        let_go(import_id)
        if _waited_for_lock(e):
            _fail_quietly(
                engine,
                import_id,
                f"{step} waited for a lock another database session held, {len(BACKOFF) + 1} times; "
                "the import stopped where it was safe. Run it again once that session has ended (see pg_locks).",
            )
        elif is_transient(e):
            _fail_quietly(
                engine,
                import_id,
                f"{step} could not reach the database or storage for about a minute; "
                "the import stopped where it was safe. Run it again once they are back.",
            )
        else:
            steps.landing.clean_work(import_id)
            imports.fail(engine, import_id, public_error(step, e))  # the detail stays in the run's log, with the traceback
        raise


def _waited_for_lock(exc: BaseException) -> bool:
    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    return isinstance(orig, psycopg.Error) and orig.sqlstate == "55P03"


def _fail_quietly(engine: Engine, import_id: str, message: str) -> None:
    """Mark failed if the database lets us; if not, the watchdog will once it is back."""
    try:
        imports.fail(engine, import_id, message)
    except Exception:
        pass
