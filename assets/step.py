"""What every import step shares: its import, and turning errors into a failed import."""

import contextlib
from collections.abc import Iterator

import psycopg
import sqlalchemy.exc
from dagster import AssetExecutionContext, Failure, RetryRequested

from resources.contact_store import ContactStore
from resources.landing_store import LandingStore
from roster.csvfiles import FileRefused, SourceFile
from roster.errors_public import public_error
from roster.imports import ImportRefused
from schemas.column_map import ColumnMap, ColumnMapError, ImportOptions

GROUP = "contact_import"
# A bad file or map fails the import at once; retrying cannot help.
REFUSALS = (FileRefused, ColumnMapError, ImportRefused)
# A lost database connection is worth retrying: every step is safe to run again.
TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, psycopg.OperationalError)
MAX_TRANSIENT_RETRIES = 3

@contextlib.contextmanager
def import_step(context: AssetExecutionContext, store: ContactStore, step: str) -> Iterator[str]:
    """Yields the import id (the partition key). A refusal marks the import failed with its reason
    and ends the run without retries; any other error marks it failed with what went wrong."""
    import_id = context.partition_key
    try:
        yield import_id
    except REFUSALS as e:
        store.fail(import_id, str(e))
        LandingStore().clean_work(import_id)
        raise Failure(description=str(e), allow_retries=False) from None
    except Failure:
        raise
    except TRANSIENT as e:
        context.log.warning(f"{step}: transient database error, retrying: {e}")
        raise RetryRequested(max_retries=MAX_TRANSIENT_RETRIES, seconds_to_wait=2) from e
    except Exception as e:
        LandingStore().clean_work(import_id)
        store.fail(import_id, public_error(step, e))  # the detail stays in the run's log, with the traceback
        raise

def options_of(row: dict) -> ImportOptions:
    return ImportOptions.model_validate(row["options"] or {})

def source_of(row: dict) -> SourceFile:
    """The opened file as the import_file step recorded it (nothing is pickled between steps)."""
    info = dict(row["file_info"])
    info["delimiter"] = {"tab": "\t"}.get(info["delimiter"], info["delimiter"])
    from pathlib import Path

    info["path"], info["original"] = Path(info["path"]), Path(info["original"])
    return SourceFile(**info)

def column_map_of(row: dict) -> ColumnMap:
    return ColumnMap.model_validate(row["column_map"])
