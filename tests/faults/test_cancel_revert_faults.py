"""Cancel and revert are exact under real faults (issue 20, items 3 and 4), under `roster serve`:

- a cancel in flight while the run worker, inside the merge transaction (contacts written, not
  committed, the import row locked), is SIGKILLed: the cancel waits for the lock, the worker's
  transaction dies with it, the cancel commits, and whatever run comes next writes nothing;
- a revert paused inside its transaction (everything deleted and put back, not committed) when
  every process of `roster serve` is SIGKILLed, or PostgreSQL crash-restarts: nothing of it
  stays, and the revert asked again does all of it, once.
"""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

from roster.store.leases import _lock_ids
from roster.store.staging import stage_table
from tests.faults.harness import Team, alive, fault_world

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def world():
    """A server and a database of the module's own (test_crash_recovery's world without its
    reference import, which these tests do not compare with)."""
    with fault_world("roster-cancel-revert-", reference=False) as world:
        yield world


def _contacts(team: Team) -> list[tuple]:
    return team.pg.query(
        "SELECT lower(email), first_name, last_name, unsubscribed, properties FROM contacts WHERE team_id = %s ORDER BY 1",
        (team.team_id,),
    )


def _memberships(team: Team) -> list[tuple]:
    return team.pg.query(
        "SELECT 's', contact_id::text FROM contact_segments WHERE team_id = %s UNION ALL "
        "SELECT subscription, contact_id::text FROM contact_topics WHERE team_id = %s ORDER BY 1, 2",
        (team.team_id, team.team_id),
    )


def _properties(team: Team) -> list[tuple]:
    return team.pg.query("SELECT key, type FROM contact_properties WHERE team_id = %s ORDER BY key", (team.team_id,))


def _post_in_background(url: str, headers: dict) -> dict:
    """POST in a thread (it blocks on a lock or a paused fault point); the answer lands in the dict."""
    answer: dict = {}

    def post() -> None:
        try:
            r = httpx.post(url, headers=headers, timeout=300)
            answer["status"], answer["body"] = r.status_code, r.json()
        except httpx.HTTPError as e:
            answer["error"] = repr(e)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    answer["thread"] = thread
    return answer


def _wait_for(condition, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_cancel_in_flight_while_the_worker_is_killed_in_the_merge(world):
    serve, pg, points = world["serve"], world["pg"], world["points"]
    if serve.proc.poll() is not None:
        serve.start()
    team = Team(serve, pg, "cancel-kill")
    before = (_contacts(team), _memberships(team))
    points.arm("merge")
    import_id = team.start_import(world["file"])
    worker = points.wait_paused("merge")  # inside the merge transaction, the import row locked
    answer = _post_in_background(f"{serve.base}/contacts/imports/{import_id}/cancel", team.headers)
    # The cancel is in flight: its transaction waits for the import row's lock.
    _wait_for(
        lambda: (
            pg.query(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%%contact_imports%%FOR UPDATE%%'"
            )[0][0]
            >= 1
        ),
        "the cancel to wait for the merge's lock",
    )
    os.kill(worker, 9)
    points.release("merge")
    answer["thread"].join(timeout=240)
    assert answer.get("status") == 200, answer
    assert answer["body"]["status"] == "failed" and answer["body"]["cancelled_at"] and "cancelled" in answer["body"]["error"]

    # Whatever the daemon does next (it retries a run whose worker died), nothing is written.
    def settled() -> bool:
        held = {
            tuple(r)
            for r in pg.query("SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted")
        }
        staged = pg.query("SELECT to_regclass(%s)", (stage_table(import_id),))[0][0]
        return _lock_ids(import_id) not in held and staged is None

    _wait_for(settled, "the import's runs to stop")
    ended = team.wait_ended(import_id)
    assert ended["status"] == "failed" and ended["cancelled_at"] == answer["body"]["cancelled_at"]
    assert ended["counts"]["created"] == ended["counts"]["updated"] == 0
    assert (_contacts(team), _memberships(team)) == before
    assert pg.query("SELECT merged_at, undo_state FROM contact_imports WHERE id = %s", (import_id,)) == [(None, None)]
    assert pg.query("SELECT count(*) FROM contact_properties WHERE team_id = %s AND key IN ('plan', 'seats')", (team.team_id,))[
        0
    ][0] in (0, 2)


@pytest.mark.parametrize("fault", ["api", "database"])
def test_a_revert_is_all_or_nothing(world, fault):
    serve, pg, points = world["serve"], world["pg"], world["points"]
    if serve.proc.poll() is not None:
        serve.start()
    team = Team(serve, pg, f"revert-{fault}")
    before = (_contacts(team), _memberships(team), _properties(team))
    import_id = team.start_import(world["file"])
    done = team.wait_ended(import_id, timeout=240)
    assert done["status"] == "completed"
    imported = (_contacts(team), _memberships(team), _properties(team))
    assert imported != before

    points.arm("revert")
    url = f"{serve.base}/contacts/imports/{import_id}/revert?resubscribe=true"
    answer = _post_in_background(url, team.headers)
    api = points.wait_paused("revert")  # the API process, inside the revert's transaction
    assert api > 0
    if fault == "api":
        pids = serve.kill_everything()
        points.release("revert")
        _wait_for(lambda: alive(pids) == [], "roster serve's processes to die", timeout=30)
        serve.start()
    else:
        pg.crash_restart()
        points.release("revert")
    answer["thread"].join(timeout=240)
    assert answer.get("status") != 200, answer  # the revert did not commit, and did not say it did
    assert (_contacts(team), _memberships(team), _properties(team)) == imported, "a part of the revert stayed"
    assert pg.query("SELECT reverted_at FROM contact_imports WHERE id = %s", (import_id,)) == [(None,)]

    again = httpx.post(url, headers=team.headers, timeout=300)
    assert again.status_code == 200, again.text
    result = again.json()["revert"]
    assert result["left_unchanged"] == 0
    assert (result["deleted"], result["restored"]) == (done["counts"]["created"], done["counts"]["updated"])
    assert (_contacts(team), _memberships(team)) == before[:2]
    # The properties the import created are gone, but those the contacts put back still have values for.
    created = set(done["properties_created"])
    used = {key for *_, properties in _contacts(team) for key in properties}
    assert created and result["properties_deleted"] == sorted(created - used)
    assert [(p["key"], p["reason"]) for p in result["properties_kept"]] == [(k, "in_use") for k in sorted(created & used)]
    assert {k for k, _ in _properties(team)} == {k for k, _ in before[2]} | (created & used)
    once_more = httpx.post(url, headers=team.headers, timeout=300)
    assert once_more.status_code == 200 and once_more.json()["revert"] == result
