"""Exactly once for a big import's merge in parts (roster/store/merge_parts.py), whatever dies: as
tests/faults/test_crash_recovery.py, with ROSTER_MERGE_PARTS_FROM_ROWS=1 so its file is merged in
two parts at once. Stages: inside a part's transaction (`merge`: the first part to get there waits
uncommitted while the other may commit), just after the first part commits (`merge_part`: the
other may be in flight or done), and after the counts commit (`merged`). Faults: SIGKILL of the
run worker, of all of `roster serve`, and a crash-restart of PostgreSQL (which empties the stage:
the retry stages the file again and merges only the parts left). The end state is compared row
for row with an uninterrupted run of the same file; tests/test_merge_parts.py shows that one
equals the single statement's.
"""

from __future__ import annotations

import uuid

import pytest

from tests.faults.harness import Team, fault_world, strike

pytestmark = pytest.mark.faults

STAGES = ["merge", "merge_part", "merged"]
FAULTS = ["worker", "everything", "database"]


@pytest.fixture(scope="module")
def world():
    with fault_world("roster-parts-faults-", {"ROSTER_MERGE_PARTS_FROM_ROWS": "1"}) as world:
        yield world


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("fault", FAULTS)
def test_fault_in_a_merge_in_parts_ends_as_an_uninterrupted_run(world, fault, stage):
    serve, pg, points = world["serve"], world["pg"], world["points"]
    if serve.proc.poll() is not None:
        serve.start()
    team = Team(serve, pg, f"{fault}-{stage}-{uuid.uuid4().hex[:6]}")
    points.arm(stage)
    import_id = team.start_import(world["file"])
    worker = points.wait_paused(stage)
    strike(fault, serve, pg, points, stage, worker)
    ended = team.wait_ended(import_id)
    assert ended["status"] == "completed", (ended, serve.log.read_text()[-4000:])
    got = team.state(import_id)
    for part in ("import", "contacts", "segment", "topics", "failures", "staging_tables"):
        assert got[part] == world["expected"][part], part
    assert pg.query("SELECT count(*) FROM import_merge_parts WHERE import_id = %s", (import_id,)) == [(0,)]
