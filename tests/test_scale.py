"""Imports on a pool of Celery workers that share only PostgreSQL and the broker (deploy/README.md).

Two `dagster-celery` worker processes stand in for two machines: each has its own working
directory, DAGSTER_HOME and data directory, and no folder in common with the daemon, the "API"
(this test, landing uploads with ROSTER_LANDING=postgres) or each other. The Dagster daemon queues
and launches the runs with deploy/dagster.yaml. Six imports from three teams must complete with
exact counts, one worker is SIGKILLed in the middle of an import, and that import still completes,
exactly once, on the other worker.

Needs RabbitMQ (localhost:5672), Redis (localhost:6379) and `pip install -e '.[scale]'`; skipped,
saying which is missing, otherwise. Slow (a minute or two): deselect with -m 'not scale'.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.cluster import missing, one_cluster_at_a_time, start_cluster, stop_cluster
from tests.helpers import NAMES_MAP, contacts, get_import, write_csv

SIZES = [3000, 3000, 3000, 3000, 3000, 80000]
DEADLINE = 420

pytestmark = pytest.mark.scale


@pytest.fixture(name="engine")
def own_engine(database, monkeypatch):
    """A Roster database of this test's own (DATABASE_URL too, for the cluster it starts). The
    cluster's daemon launches every queued import of the database it is given, and other tests of
    the same session (under `make test`, whichever ran earlier on the same worker) leave queued
    imports behind: on the session's database it would spend its two run slots on those."""
    from roster.runtime.database import engine_for

    admin = make_url(database).set(drivername="postgresql")
    name = f"{admin.database}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(database).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    own = engine_for(url)
    yield own
    own.dispose()
    with psycopg.connect(admin.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def dagster_db(database):
    """Dagster's own storage: a database of its own next to Roster's (both keep alembic_version)."""
    admin = make_url(database).set(drivername="postgresql")
    name = f"{admin.database}_dagster"
    with psycopg.connect(admin.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    # psycopg2, as dagster-postgres expects: SQLAlchemy 2.1's default driver for postgresql:// is
    # psycopg 3, on which its `NOTIFY run_events, %(id)s` fails (deploy/dagster.yaml).
    url = admin.set(drivername="postgresql+psycopg2", database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(admin.set(database="postgres").render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cluster_turn():
    with one_cluster_at_a_time():
        yield


@pytest.mark.skipif(missing() is not None, reason=missing() or "")
def test_six_imports_on_two_workers_one_killed_mid_import(engine, dagster_db, tmp_path, monkeypatch, cluster_turn):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from roster.importing.service import ImportService
    from roster.landing import PostgresLandingStore
    from roster.store import landed_files
    from roster.store.teams import ensure as ensure_team
    from schemas.column_map import parse_column_map
    from schemas.import_options import ImportOptions

    database_url = os.environ["DATABASE_URL"]
    procs, logs = {}, {}
    try:
        procs, logs, daemon_env = start_cluster(tmp_path, dagster_db, database_url, workers=2, max_runs=2)
        # The API: uploads land in PostgreSQL from a folder no worker can see.
        api = PostgresLandingStore(tmp_path / "api" / "landing", engine)
        service = ImportService(engine, api)
        opts = ImportOptions(column_map=parse_column_map(NAMES_MAP))
        teams = [ensure_team(engine, f"scale-{uuid.uuid4().hex[:6]}") for _ in range(3)]
        expected: dict[str, tuple[int, int]] = {}  # import id -> (team id, rows)
        for n, rows in enumerate(SIZES):
            team_id = teams[n % 3]
            csv = write_csv(
                tmp_path / f"list{n}.csv",
                ["Email", "First Name", "Last Name"],
                [[f"c{n}-{i}@example.com", "A", "B"] for i in range(rows)],
            )
            import_id = service.create(team_id, csv, csv.name, opts, "api")
            expected[import_id] = (team_id, rows)
            csv.unlink()  # the workers can only have it from the database
        victim_id = list(expected)[-1]

        for key in ("DAGSTER_POSTGRES_URL", "ROSTER_CELERY_BROKER", "ROSTER_CELERY_BACKEND", "ROSTER_MAX_CONCURRENT_RUNS"):
            monkeypatch.setenv(key, daemon_env[key])  # what the instance config reads
        instance = DagsterInstance.from_config(str(tmp_path / "daemon" / "dagster"))
        killed, killed_at, recovered = None, 0.0, None
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if name != killed and proc.poll() is not None:
                    pytest.fail(f"{name} exited {proc.returncode}:\n{logs[name].read_text()[-3000:]}")
            states = {i: get_import(engine, t, i) for i, (t, _) in expected.items()}
            if killed is None and states[victim_id]["status"] == "in_progress":
                killed = _kill_worker_running(instance, victim_id, procs, logs)
                killed_at = time.monotonic()
            if killed and states[victim_id]["status"] == "completed" and recovered is None:
                recovered = time.monotonic() - killed_at
            if all(s["status"] in ("completed", "failed") for s in states.values()):
                break
            time.sleep(1)
        else:
            pytest.fail(f"not done in {DEADLINE} s: {[(s['status'], s['created']) for s in states.values()]}\n{_tails(logs)}")

        assert killed, "the victim import was never seen running"
        print(f"\nkilled {killed} mid-import; its import completed {recovered:.0f} s later on the other worker")
        for import_id, (_team, rows) in expected.items():
            row = states[import_id]
            assert row["status"] == "completed", (import_id, row["status"], row.get("error"), _tails(logs))
            assert (row["created"], row["updated"], row["failed"]) == (rows, 0, 0), row
            assert not landed_files.exists(engine, import_id)
        for n, team_id in enumerate(teams):
            assert len(contacts(engine, team_id)) == sum(r for i, r in enumerate(SIZES) if i % 3 == n)

        # An import is marked completed by its run's last step; the run itself ends a moment later.
        end = time.monotonic() + DEADLINE
        while any(not r.dagster_run.is_finished for r in instance.get_run_records(RunsFilter(job_name="contact_import"))):
            assert time.monotonic() < end, f"runs still going after their imports ended\n{_tails(logs)}"
            time.sleep(1)
        runs = instance.get_run_records(RunsFilter(job_name="contact_import"))
        victim_runs = [r for r in runs if r.dagster_run.tags.get("dagster/partition") == victim_id]
        assert DagsterRunStatus.FAILURE in {r.dagster_run.status for r in victim_runs}, "the killed run was not failed"
        assert sum(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in victim_runs) == 1
        _assert_limits(runs)
    finally:
        stop_cluster(procs)


def _kill_worker_running(instance, import_id: str, procs: dict, logs: dict) -> str | None:
    """SIGKILL, with all its processes, the worker whose Celery task runs this import's run."""
    from dagster import DagsterRunStatus, RunsFilter

    runs = instance.get_runs(RunsFilter(tags={"dagster/partition": import_id}, statuses=[DagsterRunStatus.STARTED]))
    task_ids = [r.tags.get("dagster-celery/task_id") for r in runs]
    for name in ("w1", "w2"):
        text = logs[name].read_text(errors="replace")
        if any(t and re.search(rf"execute_job\[{t}\] received", text) for t in task_ids):
            os.killpg(procs[name].pid, signal.SIGKILL)
            return name
    return None


def _assert_limits(records) -> None:
    """At most 2 runs at once in all, and never two of one team at once, across both workers."""
    spans = [(r.start_time, r.end_time, r.dagster_run.tags.get("roster/team")) for r in records if r.start_time and r.end_time]
    for start, _, team in spans:  # whatever runs at the moment a run starts
        running = [t for s, e, t in spans if s <= start < e]
        assert len(running) <= 2, f"{len(running)} runs at once"
        assert running.count(team) == 1, f"two runs of team {team} at once"


def _tails(logs: dict) -> str:
    return "\n".join(f"--- {n}\n{p.read_text(errors='replace')[-2000:]}" for n, p in logs.items() if p.exists())
