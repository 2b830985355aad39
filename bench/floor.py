"""The raw-SQL floor: how fast PostgreSQL itself takes a gen_contacts.py file, with nothing of Roster.

No validation beyond an email pattern, no mapping, no counts, no failed rows, no segments: COPY the
file into a temporary staging table, then one INSERT ... SELECT DISTINCT ON ... ON CONFLICT DO
UPDATE into a contacts table shaped like Roster's (unique on team and lower(email)), in one
transaction. Done twice: a first load into an empty table, then the same file again, which updates
every row. An importer's time divided by this is its ratio to the floor (bench/run.py).

Usage: python bench/floor.py FILE.csv [DATABASE_URL]
       (default: database "floor" on the local server's socket, created if missing)
Prints "floor seconds: <create> <update>". Works in its own schema "floor" and drops it at the end.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

SOCKET = "/var/run/postgresql"
DEFAULT_URL = f"postgresql:///floor?host={SOCKET}"
CHUNK = 1 << 20

CREATE = """
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS floor CASCADE;
CREATE SCHEMA floor;
CREATE TABLE floor.contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(), team_id int NOT NULL, email text NOT NULL,
  first_name text, last_name text, unsubscribed boolean NOT NULL DEFAULT false,
  properties jsonb NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX ON floor.contacts (team_id, lower(email));
"""
STAGE = """
CREATE TEMP TABLE stage (email text, first_name text, last_name text, plan text, company text,
  country text, signup_date text, ltv text, subscribed text) ON COMMIT DROP
"""
# In-file duplicates: the first row per lower(email) in sort order, as any single-statement upsert
# must pick one (ON CONFLICT cannot touch a row twice). Unusable emails are simply left out.
MERGE = r"""
INSERT INTO floor.contacts AS c (team_id, email, first_name, last_name, unsubscribed, properties)
SELECT DISTINCT ON (lower(email)) 1, email, first_name, last_name, subscribed <> 'true',
  jsonb_build_object('plan', plan, 'company', company, 'country', country,
                     'signup_date', signup_date, 'ltv', ltv::numeric)
FROM stage WHERE email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'
ORDER BY lower(email)
ON CONFLICT (team_id, lower(email)) DO UPDATE SET first_name = excluded.first_name,
  last_name = excluded.last_name, unsubscribed = excluded.unsubscribed,
  properties = c.properties || excluded.properties, updated_at = now()
"""


def ensure_database(url: str) -> None:
    """Create the URL's database if it does not exist, through the server's `postgres` database."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    name = params.get("dbname") or "floor"
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def load(url: str, path: Path) -> float:
    """Seconds for one load of the file: connect, stage, merge, commit (as a psql session would)."""
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:  # one transaction, committed on leaving the block
        conn.execute(STAGE)
        with conn.cursor().copy("COPY stage FROM STDIN WITH (FORMAT csv, HEADER true)") as copy, path.open("rb") as f:
            while chunk := f.read(CHUNK):
                copy.write(chunk)
        conn.execute(MERGE)
    return time.perf_counter() - t0


def floor(path: Path, url: str | None = None, update: bool = True) -> tuple[float, float | None]:
    """(first load, update run) seconds for the file, in a fresh schema dropped afterwards; with
    update=False the second load is left out (None)."""
    if url is None:
        url = DEFAULT_URL
        ensure_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CREATE)
    try:
        first = load(url, path)
        return first, load(url, path) if update else None
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET client_min_messages = warning; DROP SCHEMA IF EXISTS floor CASCADE")


def main(argv: list[str]) -> None:
    if not 1 <= len(argv) <= 2:
        raise SystemExit(__doc__)
    create, update = floor(Path(argv[0]).resolve(), argv[1] if len(argv) > 1 else None)
    print(f"floor seconds: {create:.2f} {update:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
