"""Recovery keeps a team's order, never fails a live run, ends frozen work, and one daemon runs.

Real faults under `roster serve`: SIGKILL of a run worker while it stages, a retry that waits in
the queue for minutes, a worker frozen with SIGSTOP, a second `dagster-daemon` on the same
instance. Each end state is compared row for row with an uninterrupted run.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.faults.harness import BIN, HEADER, FaultPoints, Team, serve_world, write_file

pytestmark = pytest.mark.faults

# The watchdog's timings in this module's world, shortened from the defaults (60 s of silence, a
# look every 15 s) so that a frozen worker is ended in under a minute, and a retry that waits in the
# queue through more looks than DEAD_AFTER_TICKS needs a shorter wait: the same sensor, the same
# code path, only the settings (ROSTER_STUCK_RUN_SECONDS at its lowest, 3 heartbeats).
STUCK_SECONDS = 15
WATCHDOG_TICK_SECONDS = 5


def write_newer(path: Path, rows: int = 4000) -> Path:
    """A small file of the people of write_file's with newer values: other names, another plan,
    the email's case changed, some opt-outs."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(0, rows, 7):
            if i % 97:
                w.writerow(
                    [
                        f"PERSON{i}@Example.COM",
                        f"Newer{i}",
                        f"Later{i}",
                        "enterprise",
                        str(i % 50 + 1),
                        "yes" if i % 3 == 0 else "no",
                    ]
                )
    return path


@pytest.fixture(scope="module")
def world():
    settings = {"ROSTER_STUCK_RUN_SECONDS": str(STUCK_SECONDS), "ROSTER_WATCHDOG_TICK_SECONDS": str(WATCHDOG_TICK_SECONDS)}
    with serve_world("roster-order-", settings) as (root, pg, env, serve):
        big, small = write_file(root / "people.csv"), write_newer(root / "newer.csv")
        # The uninterrupted order: the big file, then the small one.
        reference = Team(serve, pg, "reference")
        ref_big = reference.start_import(big)
        assert reference.wait_ended(ref_big, timeout=240)["status"] == "completed"
        after_big = reference.state(ref_big)
        ref_small = reference.start_import(small)
        assert reference.wait_ended(ref_small, timeout=240)["status"] == "completed"
        yield {
            "pg": pg,
            "serve": serve,
            "env": env,
            "points": FaultPoints(root / "fault-points"),
            "root": root,
            "big": big,
            "small": small,
            "expected": (reference.state(ref_big), reference.state(ref_small)["import"]),
            "after_big": after_big,
        }


def _instance(world):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(Path(world["env"]["DAGSTER_HOME"])))


def _runs(world, import_id: str) -> list:
    from dagster import RunsFilter

    with _instance(world) as instance:
        return list(instance.get_runs(RunsFilter(tags={"dagster/partition": import_id})))


def _failure_messages(world, run_id: str) -> list[str]:
    from dagster import DagsterEventType

    with _instance(world) as instance:
        records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
        return [r.event_log_entry.message or "" for r in records]


def _status(team: Team, import_id: str) -> str:
    [(status,)] = team.pg.query("SELECT status FROM contact_imports WHERE id = %s", (import_id,))
    return status


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise TimeoutError(what)


def _compare(world, team: Team, big_id: str, small_id: str) -> None:
    expected_big, expected_small = world["expected"]
    got = team.state(big_id)
    for part in ("import", "contacts", "segment", "topics", "failures", "staging_tables"):
        assert got[part] == expected_big[part], part
    assert team.state(small_id)["import"] == expected_small


def test_a_killed_import_keeps_its_place_before_its_team_s_later_import(world):
    """The issue's first row: T posts a big import, then a small file of the same people with newer
    values; the big import's worker is SIGKILLed while staging. The retry goes first, the small
    import after it: the end state and both imports' counts are the uninterrupted order's."""
    serve, pg, points = world["serve"], world["pg"], world["points"]
    team = Team(serve, pg, f"order-{uuid.uuid4().hex[:6]}")
    points.arm("staging")
    big = team.start_import(world["big"])
    worker = points.wait_paused("staging")
    small = team.start_import(world["small"])
    # The small import waits for the big one (its team's earlier import), without a run of its own.
    time.sleep(3)  # several sensor ticks (one a second) in which it could have been launched
    assert _status(team, small) == "queued" and _runs(world, small) == []
    os.kill(worker, signal.SIGKILL)
    points.release("staging")
    assert team.wait_ended(big)["status"] == "completed", serve.log.read_text()[-4000:]
    assert team.wait_ended(small)["status"] == "completed", serve.log.read_text()[-4000:]
    [(big_done, small_started)] = pg.query(
        "SELECT b.completed_at, s.started_at FROM contact_imports b, contact_imports s WHERE b.id = %s AND s.id = %s",
        (big, small),
    )
    assert small_started >= big_done, "the later import started before its team's earlier one ended"
    _compare(world, team, big, small)


def test_a_retry_that_waits_in_the_queue_through_watchdog_ticks_is_left_alone(world, tmp_path):
    """A retry waits QUEUED for longer than several watchdog ticks (its team's slot is held by
    another run), then starts: the watchdog leaves it alone; one retry, no second run."""
    serve, pg, points = world["serve"], world["pg"], world["points"]
    team = Team(serve, pg, f"queued-{uuid.uuid4().hex[:6]}")
    points.arm("staging")
    first = team.start_import(world["big"])
    worker = points.wait_paused("staging")
    # A `roster import` of the same team, paused, holds the team's slot in the run queue.
    cli_points = FaultPoints(tmp_path / "cli-points")
    cli_points.arm("landing")
    cli = subprocess.Popen(
        [str(BIN / "roster"), "import", str(world["small"]), "--team", team.name, "--json"],
        env={**world["env"], "ROSTER_FAULT_DIR": str(cli_points.folder)},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "cli.log").open("w"),
    )
    try:
        cli_points.wait_paused("landing")
        os.kill(worker, signal.SIGKILL)
        points.release("staging")
        retry = _wait(
            lambda: next((r for r in _runs(world, first) if r.status.value == "QUEUED"), None),
            120,
            "the daemon did not queue a retry of the killed run",
        )
        # The point of the test is the time in the queue: more watchdog looks than the 3 after which
        # it settles an import nobody works on (5 of them; what stays true is watched for after).
        time.sleep(5 * WATCHDOG_TICK_SECONDS)
        assert next(r for r in _runs(world, first) if r.run_id == retry.run_id).status.value == "QUEUED"
        cli_points.release("landing")
        assert cli.wait(timeout=300) == 0, (tmp_path / "cli.log").read_text()[-3000:]
    finally:
        if cli.poll() is None:
            cli.kill()
    assert team.wait_ended(first)["status"] == "completed", serve.log.read_text()[-4000:]
    # The import is marked completed by the run's last step; the run itself ends a moment later.
    ended = _wait(
        lambda: next((r for r in _runs(world, first) if r.run_id == retry.run_id and r.is_finished), None),
        120,
        "the retry's run did not end after its import completed",
    )
    assert ended.status.value == "SUCCESS"
    runs = _runs(world, first)
    assert len(runs) == 2, [(r.run_id, r.status) for r in runs]  # the killed run and its one retry
    for run in runs:
        assert not any("roster watchdog" in m for m in _failure_messages(world, run.run_id))


def test_a_frozen_worker_is_ended_and_its_import_retried_within_the_bound(world):
    """SIGSTOP a worker mid-import: its heartbeat stops, the watchdog ends its sessions and fails
    its run, the retry completes the import; the frozen process, woken afterwards, changes nothing."""
    serve, pg, points = world["serve"], world["pg"], world["points"]
    team = Team(serve, pg, f"frozen-{uuid.uuid4().hex[:6]}")
    points.arm("staging")
    import_id = team.start_import(world["big"])
    worker = points.wait_paused("staging")
    os.kill(worker, signal.SIGSTOP)
    frozen_at = time.monotonic()
    points.release("staging")
    try:
        ended = team.wait_ended(import_id, timeout=300)
        took = time.monotonic() - frozen_at
    finally:
        os.kill(worker, signal.SIGCONT)
    assert ended["status"] == "completed", serve.log.read_text()[-4000:]
    # Frozen STUCK_SECONDS, a watchdog tick, the retry daemon (5 s) and the run itself: well within
    # a minute on an idle machine; the margin is for a loaded one.
    assert STUCK_SECONDS <= took < 240, took
    # Woken up, the old run finds its import taken over and stops without touching anything.
    _wait(
        lambda: not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE,
        120,
        "the woken run went on",
    )
    got, expected = team.state(import_id), world["after_big"]
    for part in ("import", "contacts", "segment", "topics", "failures", "staging_tables"):
        assert got[part] == expected[part], part


def test_a_second_daemon_on_the_same_instance_stands_by_and_launches_nothing(world, tmp_path):
    serve, pg = world["serve"], world["pg"]
    log = tmp_path / "daemon2.log"
    second = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-m", "pipelines.definitions"],
        env=world["env"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        start_new_session=True,
    )
    try:
        _wait(
            lambda: "waits as a standby" in log.read_text(),
            120,
            "the second daemon did not say it stands by: " + log.read_text()[-2000:],
        )
        assert "another dagster-daemon already works on this database" in log.read_text()
        team = Team(serve, pg, f"daemons-{uuid.uuid4().hex[:6]}")
        import_id = team.start_import(world["small"])
        assert team.wait_ended(import_id)["status"] == "completed"
        assert len(_runs(world, import_id)) == 1
        assert second.poll() is None
        assert psutil.Process(second.pid).children(recursive=True) == []  # no code server, no run worker
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(timeout=30)
