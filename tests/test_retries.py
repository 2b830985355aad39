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
