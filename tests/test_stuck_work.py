"""Stuck work has a bound, a team's queue keeps its order, and one daemon works per database: the
PostgreSQL side of it, against a real server and real processes (the whole story under `roster
serve`, with real kills and SIGSTOP, is tests/faults/test_order_and_liveness.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import sqlalchemy as sa
import sqlalchemy.exc

from roster.store import imports
from roster.store.leases import RUN_LOCK_TIMEOUT, end_sessions, held_leases, hold, holder, let_go, run_label
from schemas import tables as t


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def _backends(engine, label: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :l"), {"l": label}
        ).scalar_one()


def test_a_killed_process_s_statement_stops_with_it(engine, database):
    """A run killed mid-statement: PostgreSQL notices the client is gone while the statement runs
    (client_connection_check_interval) instead of running it to its end with its locks held."""
    label = f"roster-test-sleeper-{uuid.uuid4().hex[:8]}"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from roster.runtime.database import engine_for\n"
            "with engine_for(sys.argv[1], migrate=False).connect() as c:\n"
            "    c.exec_driver_sql(\"SELECT set_config('application_name', %s, false)\", (sys.argv[2],))\n"
            "    c.exec_driver_sql('SELECT pg_sleep(600)')",
            database,
            label,
        ]
    )
    try:
        _wait(lambda: _backends(engine, label) == 1, 60, "the child never started its statement")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        killed = time.monotonic()
        _wait(lambda: _backends(engine, label) == 0, 120, "the dead client's statement still runs")
        assert time.monotonic() - killed < 60
    finally:
        if child.poll() is None:
            child.kill()


def test_a_run_s_sessions_carry_its_label_and_lock_timeout_and_can_be_ended(engine):
    import_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    lease = hold(engine, import_id, run_id)
    try:
        with engine.connect() as conn:
            name, timeout = conn.execute(
                sa.text("SELECT current_setting('application_name'), current_setting('lock_timeout')")
            ).one()
        assert name == run_label(import_id) and timeout == RUN_LOCK_TIMEOUT
        seen = holder(held_leases(engine), import_id)
        assert seen is not None and seen["label"] == run_label(import_id) and seen["silent"] < 30
        # The watchdog's way with a frozen run: every session of the run's process ends.
        held = engine.connect()
        held.execute(sa.text("SELECT 1"))
        assert end_sessions(engine, label=run_label(import_id)) >= 2
        assert not lease.alive()
        held.invalidate()
        held.close()
    finally:
        let_go(import_id)


def test_a_statement_waiting_on_a_lock_gives_up_and_is_retried(engine, team):
    """Under a run's lock_timeout, a statement stuck behind a lock fails with 55P03, a transient
    fault its step retries with backoff (not hours of waiting)."""
    from assets.step import is_transient

    team_id = team[1]
    import_id = str(uuid.uuid4())
    imports.create(engine, import_id, team_id, "test", "f.csv", "/nowhere", {}, launched=True)
    hold(engine, import_id, str(uuid.uuid4()))
    locker = psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    locker.execute("SELECT 1 FROM contact_imports WHERE id = %s FOR UPDATE", (import_id,))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '1s'"))  # the run's 30 s, shortened for the test
            try:
                conn.execute(sa.text("UPDATE contact_imports SET phase = 'reading' WHERE id = :id"), {"id": import_id})
                raise AssertionError("the update did not wait for the lock")
            except sqlalchemy.exc.OperationalError as e:
                assert e.orig.sqlstate == "55P03" and is_transient(e)
    finally:
        locker.close()
        let_go(import_id)


def _make(engine, team_id: int, status: str) -> str:
    import_id = str(uuid.uuid4())
    imports.create(engine, import_id, team_id, "api", "f.csv", "/nowhere", {}, launched=False)
    if status != "queued":
        imports.update(engine, import_id, status=status)
    time.sleep(0.01)  # created_at apart
    return import_id


def test_the_queue_starts_a_team_s_imports_in_the_order_they_were_posted(engine, team):
    team_id = team[1]
    with engine.begin() as conn:
        conn.execute(sa.update(t.contact_imports).where(t.contact_imports.c.team_id == team_id).values(status="failed"))
    ended = _make(engine, team_id, "failed")  # an import that ended never holds the next back
    first = _make(engine, team_id, "in_progress")  # running (or dead, with its retry coming)
    second, third = _make(engine, team_id, "queued"), _make(engine, team_id, "queued")
    claimed = {c["id"] for c in imports.claim_queued(engine)}
    assert not claimed & {second, third}
    assert imports.waits_for(engine, second) == first and imports.waits_for(engine, third) == first
    assert imports.waits_for(engine, first) is None and ended
    imports.update(engine, first, status="completed")
    claimed = {c["id"] for c in imports.claim_queued(engine)}
    assert second in claimed and third not in claimed
    imports.update(engine, second, status="failed")
    assert third in {c["id"] for c in imports.claim_queued(engine)}


def test_a_second_daemon_waits_as_a_standby_and_takes_over(database):
    from roster.store.daemon_lock import DaemonLock

    said: list[str] = []
    first = DaemonLock(database, say=said.append)
    first.take()
    second = DaemonLock(database, say=said.append)
    took = threading.Event()
    threading.Thread(target=lambda: (second.take(), took.set()), daemon=True).start()
    _wait(lambda: any("waits as a standby" in s for s in said), 30, "the second daemon did not say it stands by")
    assert not took.is_set()
    first.release()  # the first daemon's session ends (it stopped, or died)
    assert took.wait(30), said
    assert "takes over" in said[-1]
    second.release()


def test_a_lock_held_for_good_fails_the_import_in_bounded_time_saying_why(engine, team, tmp_path):
    """A session holds one of the team's contacts for good: the import's merge gives up on the
    lock at each attempt and the import fails, with the reason, in minutes (not at the run's
    4-hour max_runtime); nothing is merged."""
    import json
    import os
    from pathlib import Path

    name, team_id = team
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO contacts (team_id, email, first_name) VALUES (:t, 'held@example.com', 'Before')"), {"t": team_id}
        )
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,first_name\nheld@example.com,After\nother@example.com,New\n")
    locker = psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    locker.execute("SELECT 1 FROM contacts WHERE team_id = %s AND email = 'held@example.com' FOR UPDATE", (team_id,))
    started = time.monotonic()
    try:
        out = subprocess.run(
            [str(Path(sys.executable).parent / "roster"), "import", str(csv_file), "--team", name, "--json"],
            env={**os.environ, "ROSTER_LOCK_TIMEOUT_SECONDS": "1"},
            capture_output=True,
            text=True,
            timeout=400,
        )
    finally:
        locker.close()
    took = time.monotonic() - started
    assert out.returncode != 0
    result = json.loads(out.stdout[: out.stdout.rindex("}") + 1])
    assert result["status"] == "failed" and "waited for a lock" in result["error"], result
    assert took < 240, took  # 7 attempts of 1 s and about a minute of backoff, plus the run itself
    with engine.connect() as conn:
        names = conn.execute(
            sa.text("SELECT email, first_name FROM contacts WHERE team_id = :t ORDER BY 1"), {"t": team_id}
        ).all()
    assert [tuple(r) for r in names] == [("held@example.com", "Before")]
