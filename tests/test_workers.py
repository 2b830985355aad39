"""Workers that stop well (deploy/, issue 19 item 7): started exactly as deploy/docker-compose.yml
starts them (`celery -A dagster_celery.app worker`, tests/cluster.py), a worker

- ends on SIGTERM to its top process with Celery's warm shutdown: the run it holds completes on it,
  and no process of it is left behind (the `dagster-celery worker start` wrapper ignored SIGTERM
  in a container, and outside one died leaving Celery orphaned);
- holds one run at a time: a busy worker reserves no second run, which an idle worker takes
  (prefetch 1 with late acknowledgement);
- removes its own copies of ended imports' uploads when it starts.

The cluster tests need RabbitMQ, Redis and the `scale` extra, like tests/test_scale.py.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from roster.importing.retention import sweep_local_copies
from roster.store import landed_files
from roster.store.teams import ensure as ensure_team
from tests.cluster import missing, start_cluster, start_worker, stop_cluster
from tests.helpers import NAMES_MAP, get_import, write_csv
from tests.test_scale import cluster_turn, dagster_db, own_engine  # noqa: F401  (fixtures; own_engine is `engine`, a database of the test's own)

DEADLINE = 300


def _import_row(engine, team_id: int, status: str, completed_at: str = "NULL") -> str:
    import_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO contact_imports (id, team_id, status, file_path, completed_at) "
                f"VALUES (:i, :t, :s, 'x', {completed_at})"
            ),
            {"i": import_id, "t": team_id, "s": status},
        )
    return import_id


def _local_copy(landing: Path, import_id: str) -> Path:
    folder = landing / import_id
    (folder / "work").mkdir(parents=True)
    (folder / "upload").write_text("Email\na@example.com\n")
    (folder / "work" / "transcoded.csv").write_text("Email\na@example.com\n")
    return folder


def _copies(engine, landing: Path) -> dict[str, str]:
    """A worker's folder holding copies of four imports' uploads: {kind: import id}."""
    team_id = ensure_team(engine, f"workers-{uuid.uuid4().hex[:6]}")
    ids = {
        "completed": _import_row(engine, team_id, "completed", "now()"),
        "failed": _import_row(engine, team_id, "failed", "now()"),
        "running": _import_row(engine, team_id, "in_progress"),
        "queued": _import_row(engine, team_id, "queued"),
    }
    landed_files.write(engine, ids["failed"], iter([b"Email\na@example.com\n"]))  # kept for a retry
    for import_id in ids.values():
        _local_copy(landing, import_id)
    return ids


def test_a_worker_sweeps_only_its_own_copies_of_ended_imports(engine, tmp_path):
    landing = tmp_path / "landing"
    ids = _copies(engine, landing)
    result = sweep_local_copies(engine, landing, keep_hours=24)
    assert set(result["removed"]) == {ids["completed"], ids["failed"]}
    assert {p.name for p in landing.iterdir()} == {ids["running"], ids["queued"]}
    # The database's copy of the failed import's upload stays: a retry on any machine reads it.
    assert landed_files.exists(engine, ids["failed"])


def _session_members(sid: int) -> list[int]:
    """Processes (living or not yet reaped) in the session a worker was started in."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _wait(what: str, condition, deadline: float, logs: dict | None = None, state=None):
    """Wait for condition(); if it does not come, fail with the logs' tails and state() (what the
    runs were), so that a failure says why."""
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    tails = "\n".join(f"--- {n}\n{p.read_text(errors='replace')[-3000:]}" for n, p in (logs or {}).items() if p.exists())
    pytest.fail(f"not in time: {what}\n{state() if state else ''}\n{tails}")


def _assert_stopped_whole(proc, log: Path, deadline: float) -> None:
    _wait("the worker to end after SIGTERM", lambda: proc.poll() is not None, deadline, {"worker": log})
    text = log.read_text(errors="replace")
    assert re.search(r"warm shutdown", text, re.IGNORECASE), text[-3000:]
    assert proc.returncode == 0, text[-3000:]
    _wait("no process of the worker left", lambda: not _session_members(proc.pid), deadline)


@pytest.mark.scale
@pytest.mark.skipif(missing() is not None, reason=missing() or "")
def test_worker_removes_its_copies_at_start_and_stops_on_sigterm(engine, dagster_db, tmp_path, cluster_turn):  # noqa: F811
    landing = tmp_path / "w1" / "data" / "landing"
    ids = _copies(engine, landing)
    proc, log = start_worker(tmp_path, "w1", dagster_db, os.environ["DATABASE_URL"])
    try:
        deadline = time.monotonic() + DEADLINE
        _wait(
            "the worker's sweep at start",
            lambda: "upload copies from this worker" in log.read_text(errors="replace"),
            deadline,
            {"w1": log},
        )
        assert {p.name for p in landing.iterdir()} == {ids["running"], ids["queued"]}
        _wait("the worker to be ready", lambda: "ready." in log.read_text(errors="replace"), deadline, {"w1": log})
        os.kill(proc.pid, signal.SIGTERM)  # what `docker compose stop` sends the container's main process
        _assert_stopped_whole(proc, log, deadline)
    finally:
        stop_cluster({"w1": proc})


def _task_received(instance, import_id: str, log: Path) -> bool:
    from dagster import RunsFilter

    runs = instance.get_runs(RunsFilter(tags={"dagster/partition": import_id}))
    text = log.read_text(errors="replace")
    return any((t := r.tags.get("dagster-celery/task_id")) and re.search(rf"execute_job\[{t}\] received", text) for r in runs)


def _launched_task(instance, import_id: str) -> bool:
    from dagster import RunsFilter

    return any(r.tags.get("dagster-celery/task_id") for r in instance.get_runs(RunsFilter(tags={"dagster/partition": import_id})))


@pytest.mark.scale
@pytest.mark.skipif(missing() is not None, reason=missing() or "")
def test_busy_worker_leaves_the_next_run_to_an_idle_one_and_finishes_its_own_on_sigterm(
    engine,
    dagster_db,  # noqa: F811
    tmp_path,
    monkeypatch,
    cluster_turn,  # noqa: F811
):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from roster.importing.service import ImportService
    from roster.landing import PostgresLandingStore
    from schemas.column_map import parse_column_map
    from schemas.import_options import ImportOptions

    database_url = os.environ["DATABASE_URL"]
    procs, logs = {}, {}
    hold = None
    try:
        # A's statements wait for this test's lock on its row as long as the test holds it, rather
        # than giving up after the default 30 s and using up their step's retries.
        patient = {"ROSTER_LOCK_TIMEOUT_SECONDS": str(DEADLINE)}
        procs, logs, daemon_env = start_cluster(
            tmp_path, dagster_db, database_url, workers=1, max_runs=2, worker_settings=patient
        )
        for key in ("DAGSTER_POSTGRES_URL", "ROSTER_CELERY_BROKER", "ROSTER_CELERY_BACKEND", "ROSTER_MAX_CONCURRENT_RUNS"):
            monkeypatch.setenv(key, daemon_env[key])
        instance = DagsterInstance.from_config(str(tmp_path / "daemon" / "dagster"))
        service = ImportService(engine, PostgresLandingStore(tmp_path / "api" / "landing", engine))
        opts = ImportOptions(column_map=parse_column_map(NAMES_MAP))

        def post(n: int, rows: int) -> tuple[int, str]:
            team_id = ensure_team(engine, f"workers-{uuid.uuid4().hex[:6]}")
            csv = write_csv(
                tmp_path / f"list{n}.csv",
                ["Email", "First Name", "Last Name"],
                [[f"w{n}-{i}@example.com", "A", "B"] for i in range(rows)],
            )
            import_id = service.create(team_id, csv, csv.name, opts, "api")
            csv.unlink()
            return team_id, import_id

        def state() -> str:
            """Every run the instance has, and both imports' rows: what a failure needs to be read."""
            runs = [
                (r.run_id[:8], r.tags.get("dagster/partition", "")[:8], r.status.value, r.tags.get("dagster-celery/task_id"))
                for r in instance.get_runs()
            ]
            rows = {n: get_import(engine, t, i) for n, (t, i) in imports_posted.items()}
            return f"runs: {runs}\nimports: {rows}"

        imports_posted: dict[str, tuple[int, str]] = {}
        deadline = time.monotonic() + DEADLINE
        team_a, a = imports_posted["A"] = post(0, 2000)
        _wait(
            "import A running on w1",
            lambda: _task_received(instance, a, logs["w1"]) and get_import(engine, team_a, a)["status"] == "in_progress",
            deadline,
            logs,
            state,
        )
        # A stays busy on w1 for as long as this test holds its import row: its next write waits.
        hold = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"))
        hold.execute("SELECT 1 FROM contact_imports WHERE id = %s FOR UPDATE", (a,))

        team_b, b = imports_posted["B"] = post(1, 500)  # another team: the queue lets it go at once, onto the broker
        _wait("run B sent to the broker", lambda: _launched_task(instance, b), deadline, logs, state)
        procs["w2"], logs["w2"] = start_worker(tmp_path, "w2", dagster_db, database_url)
        _wait(
            "import B completed while w1 is busy with A",
            lambda: get_import(engine, team_b, b)["status"] == "completed",
            deadline,
            logs,
            state,
        )
        assert _task_received(instance, b, logs["w2"]) and not _task_received(instance, b, logs["w1"]), "w1 reserved B"
        assert get_import(engine, team_a, a)["status"] == "in_progress"

        # SIGTERM to w1 (its top process) while A still runs there: Celery's warm shutdown waits for it.
        os.kill(procs["w1"].pid, signal.SIGTERM)
        _wait(
            "w1's warm shutdown",
            lambda: re.search(r"warm shutdown", logs["w1"].read_text(errors="replace"), re.IGNORECASE),
            deadline,
            logs,
            state,
        )
        assert procs["w1"].poll() is None, "w1 ended without finishing its run"
        hold.rollback()
        _wait("import A completed on w1", lambda: get_import(engine, team_a, a)["status"] == "completed", deadline, logs, state)
        _assert_stopped_whole(procs["w1"], logs["w1"], deadline)
        row = get_import(engine, team_a, a)
        assert (row["created"], row["failed"]) == (2000, 0), row
        runs = instance.get_runs(RunsFilter(tags={"dagster/partition": a}))
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS], "A was not run once, to the end, on w1"
    finally:
        if hold is not None:
            hold.close()
        stop_cluster(procs)
