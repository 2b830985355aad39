"""What a process that runs one import does before its run, kept cheap without changing the run
(issue 23: the fixed cost of `roster import`)."""

from __future__ import annotations

import gc
import sqlite3

from roster.importing.steps import ImportSteps
from roster.runtime import collector
from tests.helpers import NAMES_MAP, run, write_csv


def test_the_collector_paused_for_the_start_up_collects_during_the_run(engine, team, tmp_path, monkeypatch):
    """`roster import` pauses Python's cycle collector while it loads (roster/runtime/collector.py).
    Its run must collect as usual (a big import's garbage would pile up until it ended), and a
    process that never paused it (a test, the daemon, a server) keeps it as it is."""
    _, team_id = team
    path = write_csv(tmp_path / "people.csv", ["Email", "First Name", "Last Name"], [["ada@example.com", "Ada", "L"]])
    enabled_in_the_run: list[bool] = []
    stage_rows = ImportSteps.stage_rows

    def watched(self, *args, **kwargs):
        enabled_in_the_run.append(gc.isenabled())
        return stage_rows(self, *args, **kwargs)

    monkeypatch.setattr(ImportSteps, "stage_rows", watched)
    frozen = gc.get_freeze_count()
    assert run(engine, team_id, path, NAMES_MAP)["status"] == "completed"
    assert gc.isenabled() and gc.get_freeze_count() == frozen, "a process that never paused it: left as it was"

    collector.pause()
    try:
        assert not gc.isenabled()
        assert run(engine, team_id, path, NAMES_MAP)["status"] == "completed"
        assert enabled_in_the_run == [True, True]
        assert gc.isenabled() and gc.get_freeze_count() > frozen, "what the start-up loaded is frozen"
    finally:
        gc.unfreeze()
        gc.enable()


def _shape(path) -> tuple[set, list, str]:
    with sqlite3.connect(path) as conn:
        schema = set(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        stamp = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    return schema, stamp, mode


def test_a_new_run_file_is_what_dagster_makes(tmp_path):
    """A run's event log file is a copy of an empty one made once per Dagster release
    (pipelines/event_log.py): the tables, indexes, migration stamp and journal mode that
    Dagster's own storage gives a new run's file, and the same again for the next run."""
    from pipelines.dagster_internals import SqliteEventLogStorage
    from pipelines.event_log import PooledSqliteEventLogStorage

    dagster = SqliteEventLogStorage(str(tmp_path / "dagster"))
    with dagster._connect("run-a"):
        pass
    pooled = PooledSqliteEventLogStorage(str(tmp_path / "pooled"))
    for run_id in ("run-a", "run-b"):
        with pooled._connect(run_id):
            pass
    pooled.dispose()
    expected = _shape(tmp_path / "dagster" / "run-a.db")
    assert expected[1] and expected[2] == "wal"
    assert _shape(tmp_path / "pooled" / "run-a.db") == expected
    assert _shape(tmp_path / "pooled" / "run-b.db") == expected
    assert sorted(p.name for p in (tmp_path / "pooled").glob("*.db")) == ["index.db", "run-a.db", "run-b.db"]
    assert not list((tmp_path / "pooled").glob("*.tmp")), "no partial copy left behind"
