"""A big import's merge in parts (roster/store/merge_parts.py) ends exactly as the single statement
does, row for row, and stays exactly once: after a crash between its parts a retry merges only
the parts left; a cancel that comes once a part has committed is refused (the import finishes,
a revert undoes all of it); a run that fails for good after a part committed puts that part back.
ROSTER_MERGE_PARTS_FROM_ROWS=1 makes these small imports go in parts, 0 keeps them whole."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from roster.importing.service import ImportService
from roster.importing.steps import ImportSteps
from roster.store import cancel, merge, merge_parts, undo
from roster.store.cancel import CancelRefused
from schemas.column_map import parse_column_map
from schemas.import_options import ImportOptions
from tests.faults.harness import COLUMN_MAP, HEADER  # the crash tests' data: the same columns and map
from tests.helpers import run, wait_for, write_csv

EXISTING = 120  # contacts before the import: people 0..119; the file brings 60..359


def _team_world(engine, team_id: int) -> dict:
    """The same starting point for every team: a segment, two topics, contacts (some unsubscribed,
    some opted out of a topic, some in the segment already)."""
    with engine.begin() as conn:
        seg = conn.execute(sa.text("INSERT INTO segments (team_id, name) VALUES (:t, 'customers') RETURNING id"), {"t": team_id})
        segment = str(seg.scalar())
        topics = [
            str(
                conn.execute(
                    sa.text("INSERT INTO topics (team_id, name) VALUES (:t, :n) RETURNING id"), {"t": team_id, "n": n}
                ).scalar()
            )
            for n in ("news", "offers")
        ]
        conn.execute(
            sa.text(
                "INSERT INTO contacts (team_id, email, first_name, unsubscribed, properties) "
                "SELECT :t, 'Person' || i || '@example.com', 'Before' || i, i % 7 = 0, jsonb_build_object('plan', 'old', 'since', i) "
                "FROM generate_series(0, :n - 1) AS i"
            ),
            {"t": team_id, "n": EXISTING},
        )
        conn.execute(
            sa.text(
                "INSERT INTO contact_topics (contact_id, topic_id, team_id, subscription) "
                "SELECT id, :topic, :t, 'opt_out' FROM contacts WHERE team_id = :t AND first_name ~ '[05]$'"
            ),
            {"t": team_id, "topic": topics[0]},
        )
        conn.execute(
            sa.text(
                "INSERT INTO contact_segments (contact_id, segment_id, team_id) "
                "SELECT id, :s, :t FROM contacts WHERE team_id = :t AND first_name ~ '3$'"
            ),
            {"t": team_id, "s": segment},
        )
    return {"segment": segment, "topics": topics}


def _file(path: Path, unsubscribed: bool = True) -> Path:
    rows = []
    for i in range(60, 360):
        email = f"person{i}@example.com" if i % 53 else f"not-an-email-{i}"
        seats = str(i % 50) if i % 41 else "lots"  # fails its row
        rows.append(
            [
                email,
                f"First{i}",
                f"Last{i}" if i % 3 else "",
                ["free", "pro", ""][i % 3],
                seats,
                "yes" if unsubscribed and i % 11 == 0 else "no",
            ]
        )
    rows.append(["PERSON75@example.com", "Again", "Later", "team", "5", "no"])  # a duplicate in the file: the last wins
    return write_csv(path, HEADER, rows)


def _options(world: dict, on_conflict: str = "upsert", opt_out_topic: bool = True) -> dict:
    topics = [{"id": world["topics"][0], "subscription": "opt_in"}]
    if opt_out_topic:
        topics.append({"id": world["topics"][1], "subscription": "opt_out"})
    return {"on_conflict": on_conflict, "segments": [world["segment"]], "topics": topics}


def _state(engine, team_id: int, import_id: str | None = None) -> dict:
    """Everything a merge decides, by emails and names (ids differ between teams)."""
    q = {
        "contacts": "SELECT lower(email), email, first_name, last_name, unsubscribed, properties, version FROM contacts "
        "WHERE team_id = :t ORDER BY 1",
        "segments": "SELECT lower(c.email) FROM contact_segments m JOIN contacts c ON c.id = m.contact_id WHERE m.team_id = :t ORDER BY 1",
        "topics": "SELECT tp.name, lower(c.email), ct.subscription FROM contact_topics ct JOIN contacts c ON c.id = ct.contact_id "
        "JOIN topics tp ON tp.id = ct.topic_id WHERE ct.team_id = :t ORDER BY 1, 2",
        "properties": "SELECT key, type FROM contact_properties WHERE team_id = :t ORDER BY 1",
    }
    if import_id:
        q |= {
            "import": "SELECT status, total, created, updated, skipped, failed, merge_details, undo_state, merged_at IS NOT NULL "
            "FROM contact_imports WHERE id = :i",
            "undo": "SELECT lower(email), created, exact, version_after, first_name, last_name, unsubscribed, properties "
            "FROM import_undo WHERE import_id = :i ORDER BY 1",
            "undo_segments": "SELECT lower(c.email) FROM import_undo_segments u JOIN contacts c ON c.id = u.contact_id "
            "WHERE u.import_id = :i ORDER BY 1",
            "undo_topics": "SELECT tp.name, lower(c.email), u.subscription_before FROM import_undo_topics u "
            "JOIN contacts c ON c.id = u.contact_id JOIN topics tp ON tp.id = u.topic_id WHERE u.import_id = :i ORDER BY 1, 2",
            "parts": "SELECT count(*) FROM import_merge_parts WHERE import_id = :i",
        }
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(sa.text(sql), {"t": team_id, "i": import_id})] for k, sql in q.items()}


@pytest.fixture
def teams(engine, team):
    """Two teams with the same starting point: one merged whole, one in parts."""
    from roster.store.teams import ensure as ensure_team

    name, team_id = team
    other = ensure_team(engine, name + "-parted")
    return (team_id, _team_world(engine, team_id)), (other, _team_world(engine, other))


@pytest.fixture
def parts_taken(monkeypatch):
    """How many parts each merge in parts ran (the real threads, at once)."""
    taken: list[int] = []
    real = merge_parts.run_at_once

    def counting(tasks):
        taken.append(len(tasks))
        return real(tasks)

    monkeypatch.setattr(merge_parts, "run_at_once", counting)
    return taken


@pytest.fixture
def together(monkeypatch):
    """The parts must be written at the same time: each waits, its rows written and not committed,
    for the other to get as far (a lock one part took and the other waits for would fail this).
    Returns the threads that got there."""
    barrier = threading.Barrier(2, timeout=120)
    reached: list[str] = []

    def fault_point(name: str) -> None:
        if name == "merge" and threading.current_thread().name.startswith("merge-part"):
            reached.append(threading.current_thread().name)
            barrier.wait()

    monkeypatch.setattr(merge, "fault_point", fault_point)
    return reached


@pytest.mark.parametrize("on_conflict", ["upsert", "skip"])
def test_a_merge_in_parts_ends_as_the_single_statement_row_for_row(
    engine, teams, tmp_path, monkeypatch, parts_taken, together, on_conflict
):
    (whole_team, whole_world), (parted_team, parted_world) = teams
    before = _state(engine, whole_team)
    assert _state(engine, parted_team) == before
    path = _file(tmp_path / "people.csv")

    monkeypatch.setenv("ROSTER_MERGE_PARTS_FROM_ROWS", "0")
    whole = run(engine, whole_team, path, COLUMN_MAP, **_options(whole_world, on_conflict))
    assert parts_taken == []
    monkeypatch.setenv("ROSTER_MERGE_PARTS_FROM_ROWS", "1")
    parted = run(engine, parted_team, path, COLUMN_MAP, **_options(parted_world, on_conflict))
    assert parts_taken == [2] and len(together) == 2

    assert whole["status"] == parted["status"] == "completed"
    assert parted["counts"] == whole["counts"] and sum(list(parted["counts"].values())[1:]) == parted["counts"]["total"]
    expected = _state(engine, whole_team, whole["id"])
    got = _state(engine, parted_team, parted["id"])
    assert got == expected
    assert got["parts"] == [(0,)]
    with engine.connect() as conn:  # both parts had contacts to merge
        for part in (0, 1):
            in_part = sa.text(f"SELECT count(*) FROM contacts WHERE team_id = :t AND {merge_parts.key_filter('email', part)}")
            assert conn.execute(in_part, {"t": parted_team}).scalar() > 50

    # The revert of each puts the team back exactly as it was (resubscribe: the opt-outs the file
    # brought too; without it a revert keeps them, the same way for both).
    reverted = undo.revert(engine, parted_team, parted["id"], resubscribe=True).result
    assert reverted == undo.revert(engine, whole_team, whole["id"], resubscribe=True).result
    assert _state(engine, parted_team) == _state(engine, whole_team)
    assert [row[:6] for row in _state(engine, parted_team)["contacts"]] == [row[:6] for row in before["contacts"]]


class Crash(BaseException):
    """What a SIGKILL does to the merge, without killing the test: nothing after it runs."""


def _staged(engine, team_id: int, path: Path, options: dict) -> tuple[str, ImportSteps]:
    """An import read, mapped and staged: what the merge step starts from."""
    service = ImportService(engine)
    import_id = service.create(
        team_id, path, path.name, ImportOptions(column_map=parse_column_map(COLUMN_MAP), **options), "cli", launched=True
    )
    steps = ImportSteps(engine, service.landing, service.mapper, log=lambda _: None)
    steps.open_file(import_id, None, {})
    steps.map_columns(import_id)
    steps.stage_rows(import_id)
    steps.create_properties(import_id)
    return import_id, steps


def test_a_crash_between_parts_then_a_retry_ends_as_an_uninterrupted_merge(engine, teams, tmp_path, monkeypatch):
    (whole_team, whole_world), (parted_team, parted_world) = teams
    path = _file(tmp_path / "people.csv")
    monkeypatch.setenv("ROSTER_MERGE_PARTS_FROM_ROWS", "0")
    whole = run(engine, whole_team, path, COLUMN_MAP, **_options(whole_world))

    monkeypatch.setenv("ROSTER_MERGE_PARTS_FROM_ROWS", "1")
    import_id, steps = _staged(engine, parted_team, path, _options(parted_world))
    # One part after the other, so the crash comes with exactly one committed.
    monkeypatch.setattr(merge_parts, "run_at_once", lambda tasks: [task() for task in tasks])
    cancels: list[BaseException | None] = []

    def cancel_now() -> None:
        try:
            cancel.cancel(engine, parted_team, import_id)
            cancels.append(None)
        except CancelRefused as e:
            cancels.append(e)

    canceller = threading.Thread(target=cancel_now)
    armed = {"merge": True, "merge_part": True}

    def fault_point(name: str) -> None:
        if name == "merge" and armed.pop("merge", False):
            # Part 0 has written, not committed: a cancel now waits for it (the import's row, shared).
            canceller.start()
            wait_for(lambda: _waiting_for_a_lock(engine), "the cancel to wait for the part in flight")
        if name == "merge_part" and armed.pop("merge_part", False):
            raise Crash()

    monkeypatch.setattr(merge, "fault_point", fault_point)
    with pytest.raises(Crash):
        steps.merge_contacts(import_id)
    canceller.join(timeout=60)
    # The cancel waited for part 0, then found it committed: too late, the import goes on.
    assert len(cancels) == 1 and isinstance(cancels[0], CancelRefused) and cancels[0].code == "too_late"
    half = _state(engine, parted_team, import_id)
    assert half["parts"] == [(1,)] and half["import"][0][-1] is False  # one part merged, the import not yet
    with pytest.raises(undo.RevertRefused):  # nothing to revert before it is merged: it is running
        undo.revert(engine, parted_team, import_id)

    monkeypatch.setattr(merge, "fault_point", lambda name: None)
    counts = steps.merge_contacts(import_id)  # the retry: the part left, then the counts
    steps.finish(import_id)
    assert {k: counts[k] for k in whole["counts"]} == whole["counts"]
    assert _state(engine, parted_team, import_id) == _state(engine, whole_team, whole["id"])


def _waiting_for_a_lock(engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
                    "AND query LIKE '%contact_imports%FOR UPDATE%'"
                )
            ).scalar()
        )


def test_a_cancel_before_any_part_commits_writes_nothing(engine, team, tmp_path, monkeypatch):
    _, team_id = team
    world = _team_world(engine, team_id)
    before = _state(engine, team_id)
    monkeypatch.setenv("ROSTER_MERGE_PARTS_FROM_ROWS", "1")
    import_id, steps = _staged(engine, team_id, _file(tmp_path / "people.csv"), _options(world))
    cancel.cancel(engine, team_id, import_id)
    with pytest.raises(cancel.Cancelled):
        steps.merge_contacts(import_id)
    assert _state(engine, team_id) == before
    assert _state(engine, team_id, import_id)["parts"] == [(0,)]


def test_a_run_that_fails_for_good_after_a_part_committed_puts_it_back(engine, team, tmp_path, monkeypatch, parts_taken):
    _, team_id = team
    world = _team_world(engine, team_id)
    before = _state(engine, team_id)
    monkeypatch.setenv("ROSTER_MERGE_PARTS_FROM_ROWS", "1")
    armed = {"merge_part": True}

    def fault_point(name: str) -> None:
        if armed.pop(name, False):  # the first part to commit: then an error no retry can help
            raise RuntimeError("a fault after the first part committed")

    monkeypatch.setattr(merge, "fault_point", fault_point)
    # No opt-outs in this file: a revert keeps a contact the import created unsubscribed (consent).
    failed = run(
        engine, team_id, _file(tmp_path / "people.csv", unsubscribed=False), COLUMN_MAP, **_options(world, opt_out_topic=False)
    )
    assert parts_taken == [2]
    assert failed["status"] == "failed"
    state = _state(engine, team_id, failed["id"])
    assert state["parts"] == [(0,)] and state["undo"] == [] and state["import"][0][-1] is False
    assert (failed["row"]["revert_result"] or {}).get("deleted", 0) > 0  # it had written, and was put back
    got = _state(engine, team_id)
    assert [row[:6] for row in got["contacts"]] == [row[:6] for row in before["contacts"]]
    assert (got["segments"], got["topics"], got["properties"]) == (before["segments"], before["topics"], before["properties"])
