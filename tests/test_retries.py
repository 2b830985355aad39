"""A transient database error inside a step is retried and the import completes; a refused file
is not retried. The shipped instance config queues runs per team."""

from __future__ import annotations

import psycopg
import sqlalchemy.exc
import yaml

from pipelines.launch import SHIPPED_INSTANCE_CONFIG
from roster.store import merge
from tests.helpers import NAMES_MAP, contacts, run, write_csv


def test_a_lost_connection_is_retried(engine, team, tmp_path, monkeypatch):
    _, team_id = team
    real_merge = merge.merge
    calls = []

    def flaky_merge(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise sqlalchemy.exc.OperationalError(
                "INSERT ...", {}, psycopg.OperationalError("server closed the connection unexpectedly")
            )
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(merge, "merge", flaky_merge)
    r = run(
        engine, team_id, write_csv(tmp_path / "a.csv", ["Email", "First Name", "Last Name"], [["a@x.io", "A", "B"]]), NAMES_MAP
    )
    assert len(calls) == 2
    assert r["status"] == "completed" and r["counts"]["created"] == 1
    retries = [e for e in r["run"].all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in retries] == ["contacts"]


def test_a_row_the_index_cannot_hold_is_not_a_transient_fault():
    """SQLSTATE class 54 (program limit exceeded) comes as psycopg's OperationalError, but the
    same statement fails the same way again: no retry."""
    from assets.step import is_transient

    too_big = psycopg.errors.ProgramLimitExceeded("index row size 2800 exceeds btree version 4 maximum 2704")
    assert not is_transient(sqlalchemy.exc.OperationalError("INSERT ...", {}, too_big))
    assert is_transient(sqlalchemy.exc.OperationalError("INSERT ...", {}, psycopg.errors.AdminShutdown("terminating")))
    assert is_transient(PermissionError(13, "Permission denied"))
    assert not is_transient(FileNotFoundError(2, "No such file"))


def test_a_refused_file_is_not_retried(engine, team, tmp_path):
    _, team_id = team
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    r = run(engine, team_id, path, None, check=False)
    assert r["status"] == "failed" and "empty" in r["error"]
    assert not [e for e in r["run"].all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert contacts(engine, team_id) == {}


def test_shipped_instance_config_limits_runs():
    config = yaml.safe_load(SHIPPED_INSTANCE_CONFIG.read_text())
    coordinator = config["run_coordinator"]["config"]
    assert coordinator["max_concurrent_runs"] == 2
    [limit] = coordinator["tag_concurrency_limits"]
    assert limit == {"key": "roster/team", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    assert config["run_retries"]["enabled"] is True


def test_only_runs_that_started_working_use_up_the_retry_budget():
    """Runs that never started working (a failed launch, a start timeout) count apart, under a
    larger bound; a retry's tag inherited from its parent does not make it a working run."""
    from types import SimpleNamespace

    from pipelines.sensors import MAX_LAUNCHES, MAX_UNSTARTED_LAUNCHES, _out_of_launches
    from roster.importing.launches import WORKED_TAG

    def runs(working: int, unstarted: int, inherited: int = 0) -> list:
        made = [SimpleNamespace(run_id=f"w{i}", tags={WORKED_TAG: f"w{i}"}) for i in range(working)]
        made += [SimpleNamespace(run_id=f"u{i}", tags={}) for i in range(unstarted)]
        return made + [SimpleNamespace(run_id=f"c{i}", tags={WORKED_TAG: "w0"}) for i in range(inherited)]

    assert MAX_UNSTARTED_LAUNCHES > MAX_LAUNCHES
    assert _out_of_launches("i", runs(MAX_LAUNCHES - 1, MAX_UNSTARTED_LAUNCHES - 2, inherited=1)) is None
    assert "failed 4 times while importing" in _out_of_launches("i", runs(MAX_LAUNCHES, 0))
    gave_up = _out_of_launches("i", runs(1, MAX_UNSTARTED_LAUNCHES))
    assert f"never started, {MAX_UNSTARTED_LAUNCHES} times" in gave_up and "roster imports run i" in gave_up


def test_a_fail_fault_point_fails_as_many_times_as_armed(tmp_path, monkeypatch):
    import pytest

    from roster.runtime.faults import InjectedFault, fault_point

    monkeypatch.setenv("ROSTER_FAULT_DIR", str(tmp_path))
    (tmp_path / "launch.fail").write_text("2")
    for _ in range(2):
        with pytest.raises(InjectedFault):
            fault_point("launch")
    fault_point("launch")  # disarmed
    (tmp_path / "launch.fail").write_text("always")
    for _ in range(3):
        with pytest.raises(InjectedFault):
            fault_point("launch")
    assert (tmp_path / "launch.fail").exists()
