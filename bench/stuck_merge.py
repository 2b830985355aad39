"""A true 1M-row merge under `roster serve` with the stuck-work detection set to its lowest: the
merge statement runs far longer than ROSTER_STUCK_RUN_SECONDS, and the run must be left alone
(issue 19: "a slow but alive run is never touched").

    python bench/stuck_merge.py [--rows 1000000] [--stuck-seconds 15] [--again]

Starts `roster serve` (daemon, watchdog, API) on a fresh database of the local PostgreSQL
(socket /var/run/postgresql) with ROSTER_STUCK_RUN_SECONDS set low, posts the import over HTTP
(tests/faults/harness.py's file and team: a segment, two topics, 600 existing contacts), and
watches pg_stat_activity every half second for the merge statement (`INSERT INTO contacts`):
its longest run and whether it ever waited on a lock. With --again, the same file a second time
(every row updates). Prints, per import: its end status, time from POST to the end, the longest
merge statement, the number of Dagster runs of the import (1: no run was failed or retried), and
the machine's load. The slowness is the machine's own (no I/O throttling is available to an
unprivileged process here); on a shared 2-core machine a 1M merge takes minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.harness import Serve, Team, write_file  # noqa: E402

SOCKET = "/var/run/postgresql"


class LocalPostgres:
    """What harness.Team needs of a server: a url and query(); here a fresh database on the local one."""

    def __init__(self):
        self.name = f"roster_stuck_bench_{uuid.uuid4().hex[:8]}"
        self.admin = f"postgresql://{os.environ.get('USER', 'root')}@/postgres?host={SOCKET}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = f"postgresql://{os.environ.get('USER', 'root')}@/{self.name}?host={SOCKET}"

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def drop(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def watch(pg: LocalPostgres, team: Team, import_id: str, timeout: float) -> dict:
    started = time.monotonic()
    longest, waits, loads = 0.0, set(), []
    while time.monotonic() - started < timeout:
        for seconds, wait_type in pg.query(
            "SELECT extract(epoch FROM clock_timestamp() - query_start), wait_event_type FROM pg_stat_activity "
            "WHERE application_name LIKE %s AND state = 'active' AND query ILIKE '%%INSERT INTO contacts%%'",
            (f"roster run {import_id} %",),
        ):
            longest = max(longest, float(seconds))
            waits.add(wait_type)
        loads.append(os.getloadavg()[0])
        [(status,)] = pg.query("SELECT status FROM contact_imports WHERE id = %s", (import_id,))
        if status in ("completed", "failed"):
            break
        time.sleep(0.5)
    ended = team.wait_ended(import_id, timeout=60)
    return {
        "status": ended["status"],
        "error": ended.get("error"),
        "seconds": round(time.monotonic() - started, 1),
        "longest_merge_statement_s": round(longest, 1),
        "merge_waited_on": sorted(w for w in waits if w),
        "counts": dict(
            zip(
                ("total", "created", "updated", "skipped", "failed"),
                pg.query("SELECT total, created, updated, skipped, failed FROM contact_imports WHERE id = %s", (import_id,))[0],
            )
        ),
        "load": f"{min(loads):.1f}-{max(loads):.1f}",
    }


def runs_of(env: dict, import_id: str) -> list[str]:
    from dagster import DagsterInstance, RunsFilter

    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        deadline = time.monotonic() + 120
        while True:  # the import says `completed` a moment before its run's last events are written
            runs = instance.get_runs(RunsFilter(tags={"dagster/partition": import_id}))
            if all(r.is_finished for r in runs) or time.monotonic() > deadline:
                return [r.status.value for r in runs]
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stuck-seconds", type=int, default=15)
    parser.add_argument("--again", action="store_true", help="import the same file a second time (updates)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="roster-stuck-bench-"))
    pg = LocalPostgres()
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL",)}
    env.update(
        DATABASE_URL=pg.url,
        ROSTER_DATA_DIR=str(root / "data"),
        DAGSTER_HOME=str(root / "data" / "dagster"),
        ROSTER_LAUNCH="sensor",
        ROSTER_STUCK_RUN_SECONDS=str(args.stuck_seconds),
    )
    (root / "data").mkdir()
    serve = Serve(env=env, log=root / "serve.log")
    try:
        serve.start()
        path = write_file(root / "people.csv", rows=args.rows)
        team = Team(serve, pg, "bench")
        for label in ["first load"] + (["same file again"] if args.again else []):
            import_id = team.start_import(path)
            result = watch(pg, team, import_id, timeout=4 * 3600)
            result["runs"] = runs_of(env, import_id)
            print(f"{label}: {result}", flush=True)
            if result["status"] != "completed" or result["runs"] != ["SUCCESS"]:
                print(serve.log.read_text()[-4000:])
                sys.exit(1)
    finally:
        serve.stop()
        pg.drop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
