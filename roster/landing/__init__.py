"""Landing: where an uploaded file waits for its import, in one home.

- folder.py: the landing store in this machine's data directory (the default), what it keeps and
  for how long, and its scratch space;
- postgres.py: the same store keeping each upload in PostgreSQL as well (ROSTER_LANDING=postgres),
  for workers on several machines, and landing_store(), which picks one by that setting.

The SQL that keeps an upload in the database is in roster/store/landed_files.py (every statement
lives in roster/store), and the Dagster resource that configures a store for a run is
resources/landing_store.py.
"""

from roster.landing.folder import CHUNK, INCOMING, FileTooLarge, LandingStore
from roster.landing.postgres import PostgresLandingStore, landing_store

__all__ = ["CHUNK", "INCOMING", "FileTooLarge", "LandingStore", "PostgresLandingStore", "landing_store"]
