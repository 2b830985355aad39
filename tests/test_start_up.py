"""What a process that runs one import does before its run, kept cheap without changing the run
(issue 23: the fixed cost of `roster import`)."""

from __future__ import annotations

import gc

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
