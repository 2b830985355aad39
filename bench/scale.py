"""Throughput of many concurrent imports on a pool of 1 or 2 Celery workers.

    python bench/scale.py [--workers 1 2] [--imports 6] [--rows 20000]

Starts, on this machine, the Dagster daemon and N workers the way tests/test_scale.py does (own
folders each, sharing only PostgreSQL, RabbitMQ and Redis; deploy/dagster.yaml with
ROSTER_MAX_CONCURRENT_RUNS=N), lands the imports through the PostgreSQL landing store, spread over
three teams, and times from the first upload to the last `completed`. Databases are made on the
server of $TEST_DATABASE_URL (else $DATABASE_URL) and dropped after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster import missing, one_cluster_at_a_time, start_cluster, stop_cluster  # noqa: E402
from tests.helpers import NAMES_MAP, write_csv  # noqa: E402


def _databases(base: str) -> tuple[str, str, callable]:
    admin = make_url(base).set(drivername="postgresql")
    name = f"roster_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'CREATE DATABASE "{name}_dagster"')

    def drop():
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            for db in (name, f"{name}_dagster"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    roster = admin.set(database=name).render_as_string(hide_password=False)
    dagster = admin.set(drivername="postgresql+psycopg2", database=f"{name}_dagster").render_as_string(hide_password=False)
    return roster, dagster, drop


def measure(workers: int, imports: int, rows: int) -> dict:
    base = os.environ.get("TEST_DATABASE_URL") or os.environ["DATABASE_URL"]
    roster_url, dagster_url, drop = _databases(base)
    tmp = Path(tempfile.mkdtemp(prefix="roster-scale-bench-"))
    os.environ["DATABASE_URL"], os.environ["ROSTER_DATA_DIR"] = roster_url, str(tmp / "api")
    from roster.importing.service import ImportService
    from roster.landing import PostgresLandingStore
    from roster.runtime.database import get_engine
    from roster.store import imports as store
    from roster.store.teams import ensure
    from schemas.column_map import parse_column_map
    from schemas.import_options import ImportOptions

    engine = get_engine()
    procs = {}
    try:
        procs, logs, _ = start_cluster(tmp, dagster_url, roster_url, workers=workers, max_runs=workers)
        time.sleep(20)  # the daemon and workers up before the clock starts
        files = [
            write_csv(
                tmp / f"list{n}.csv",
                ["Email", "First Name", "Last Name"],
                [[f"c{n}-{i}@example.com", "A", "B"] for i in range(rows)],
            )
            for n in range(imports)
        ]
        teams = [ensure(engine, f"bench-{t}") for t in range(3)]
        service = ImportService(engine, PostgresLandingStore(tmp / "api" / "landing", engine))
        opts = ImportOptions(column_map=parse_column_map(NAMES_MAP))
        started = time.monotonic()
        ids = [service.create(teams[n % 3], f, f.name, opts, "api") for n, f in enumerate(files)]
        while True:
            rows_ = [store.require(engine, i) for i in ids]
            if all(r["status"] in ("completed", "failed") for r in rows_):
                break
            if time.monotonic() - started > 900:
                raise SystemExit("not done in 15 minutes")
            time.sleep(0.5)
        seconds = time.monotonic() - started
        assert all(r["status"] == "completed" and r["created"] == rows for r in rows_), [(r["status"], r["error"]) for r in rows_]
        return {
            "workers": workers,
            "imports": imports,
            "rows": imports * rows,
            "seconds": round(seconds, 1),
            "rows_per_s": round(imports * rows / seconds),
        }
    finally:
        stop_cluster(procs)
        engine.dispose()
        from roster.runtime.database import _engine_for

        _engine_for.cache_clear()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--imports", type=int, default=6)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    if reason := missing():
        raise SystemExit(reason)
    with one_cluster_at_a_time():
        for n in args.workers:
            print(measure(n, args.imports, args.rows), flush=True)


if __name__ == "__main__":
    main()
