"""What keeps an idle `roster serve` quiet (bench/idle_cpu.py measures the idle CPU itself): the
schedule storage keeps its file open and reads no migration scripts once stamped
(pipelines/sqlite_storage.py), the run queue's loop at Dagster's default (imports start by being
told: pipelines/run_queue.py), sensors only as slow backstops, the watchdog a thread of the daemon
instead of a sensor (pipelines/watchdog.py), no lifeline thread where the kernel does its work, and
the Dagster UI's workspace (which asks the code server every second whether it changed) loaded
only once someone opens the UI (pipelines/ui_server.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_instance_config_uses_the_pooled_schedule_storage():
    config = yaml.safe_load((ROOT / "pipelines" / "dagster.yaml").read_text())
    assert config["schedule_storage"] == {"module": "pipelines.sqlite_storage", "class": "PooledSqliteScheduleStorage"}


def test_the_pooled_schedule_storage_works(tmp_path):
    from pipelines.sqlite_storage import PooledSqliteScheduleStorage

    schedules = PooledSqliteScheduleStorage.from_local(str(tmp_path / "schedules"))
    try:
        assert schedules.has_instigators_table() and schedules.has_instigators_table()  # the second remembered
        assert list(schedules.all_instigator_state()) == []
    finally:
        schedules.dispose()


def test_an_opened_schedule_storage_reads_no_migration_scripts_once_its_file_is_stamped(tmp_path):
    """Dagster reads its migration scripts only to stamp a new file; a stamped one is opened as it is."""
    from pipelines.sqlite_storage import PooledSqliteScheduleStorage, _stamped

    folder = tmp_path / "schedules"
    assert not _stamped(folder / "schedules.db")
    PooledSqliteScheduleStorage.from_local(str(folder)).dispose()  # Dagster's creation: tables and stamp
    assert _stamped(folder / "schedules.db")
    again = PooledSqliteScheduleStorage.from_local(str(folder))
    try:
        assert again.has_instigators_table() and list(again.all_instigator_state()) == []
    finally:
        again.dispose()
    (tmp_path / "bare.db").write_bytes(b"")
    assert not _stamped(tmp_path / "bare.db")  # no stamp: Dagster's own checks decide


def test_the_run_queue_s_loop_runs_at_dagster_s_default_or_slower():
    """Imports start by being told (pipelines/run_queue.py); the loop is only the backstop."""
    config = yaml.safe_load((ROOT / "pipelines" / "dagster.yaml").read_text())
    assert config["run_coordinator"]["config"]["dequeue_interval_seconds"] >= 5


def test_no_sensor_looks_more_often_than_every_half_minute():
    """Sensors are backstops (a tick is a gRPC call and a Dagster instance in the code server); the
    drop folder looks every 5 s only when one is configured."""
    from pipelines.definitions import defs

    intervals = {s.name: s.minimum_interval_seconds for s in defs.sensors}
    assert "import_watchdog" not in intervals  # a thread of the daemon (pipelines/watchdog.py)
    assert min(intervals.values()) >= 30, intervals


def test_the_watchdog_puts_back_an_import_nobody_works_on_after_three_looks(engine, team, tmp_path):
    import sqlalchemy as sa
    from dagster import DagsterInstance

    from pipelines.watchdog import DEAD_AFTER_TICKS, Watchdog
    from roster.landing import LandingStore
    from roster.runtime.database import database_url
    from schemas.column_map import parse_column_map
    from schemas.import_options import ImportOptions
    from tests.helpers import NAMES_MAP, create_import, get_import, write_csv

    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email", "First Name", "Last Name"], [["ada@example.com", "Ada", "L"]])
    import_id = create_import(
        engine, LandingStore(), team_id, path, "a.csv", ImportOptions(column_map=parse_column_map(NAMES_MAP))
    )
    with engine.begin() as conn:  # as a run that took it and died, with no run record left
        conn.execute(sa.text("UPDATE contact_imports SET status = 'in_progress', attempts = 1 WHERE id = :i"), {"i": import_id})
    with DagsterInstance.ephemeral() as instance:
        watchdog = Watchdog(instance, database_url())
        for _ in range(DEAD_AFTER_TICKS - 1):
            assert not [a for a in watchdog.tick(engine) if import_id in a]
            assert get_import(engine, team_id, import_id)["status"] == "in_progress"
        [action] = [a for a in watchdog.tick(engine) if import_id in a]
    assert "queued again" in action
    assert get_import(engine, team_id, import_id)["status"] == "queued"


def test_a_process_roster_serve_starts_follows_it_without_a_thread():
    """The kernel kills it with `roster serve` (a death signal): no thread that wakes twice a second."""
    import subprocess
    import sys

    from roster.runtime import lifeline

    code = "import threading; from roster.runtime import lifeline; lifeline.follow_parent(); print(threading.active_count())"
    started = subprocess.run([sys.executable, "-c", code], preexec_fn=lifeline.die_with_parent, capture_output=True, text=True)
    assert started.stdout.split() == ["1"], started.stderr
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert other.stdout.split() == ["2"], other.stderr  # a run worker: its parent may die without a signal to it


def test_a_process_that_follows_its_parent_dies_with_it_without_polling():
    """follow_parent() waits on a pidfd of the parent: killed with it, whatever kills the parent."""
    import signal
    import subprocess
    import sys

    import psutil

    from tests.helpers import wait_for

    child = "from roster.runtime import lifeline; import time; lifeline.follow_parent(); print('following', flush=True); time.sleep(600)"
    parent = (
        "import subprocess, sys, time; "
        f"c = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE, text=True); "
        "c.stdout.readline(); print(c.pid, flush=True); time.sleep(600)"
    )
    started = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(started.stdout.readline())
        assert psutil.Process(pid).is_running()
        started.send_signal(signal.SIGKILL)
        started.wait()
        wait_for(
            lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
            "the child to die with its parent",
        )
    finally:
        started.kill()


def test_the_ui_loads_its_workspace_at_its_first_request_and_only_once():
    """Nothing is built while nobody asks (a lifespan startup included); requests that come at once
    while it loads share one app."""
    import asyncio
    import threading

    from pipelines.ui_server import LoadedOnFirstRequest

    builds: list[int] = []
    loading = threading.Event()

    def build():
        loading.wait(5)  # the workspace loading; both requests arrive meanwhile
        builds.append(1)

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": scope["path"].encode()})

        return app

    ui = LoadedOnFirstRequest(build)

    async def request(path: str) -> list[dict]:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        await ui({"type": "http", "path": path}, receive, send)
        return sent

    async def scenario() -> list[list[dict]]:
        lifespan = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        answers: list[dict] = []

        async def receive():
            return next(lifespan)

        async def send(message):
            answers.append(message)

        await ui({"type": "lifespan"}, receive, send)
        assert [a["type"] for a in answers] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert builds == []
        both = asyncio.gather(request("/a"), request("/b"))
        await asyncio.sleep(0.05)
        loading.set()
        return await both

    first, second = asyncio.run(scenario())
    assert builds == [1]
    assert first[-1]["body"] == b"/a" and second[-1]["body"] == b"/b"
