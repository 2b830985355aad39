"""A real process killed at each stage of an import, then retried, ends exactly as a run that was
never interrupted: same contacts, same memberships, same counts. And two imports at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from roster.store.teams import ensure as ensure_team
from tests.helpers import contacts, get_import, run, write_csv

BIN = Path(sys.executable).parent
CMAP = {
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "properties": {"n": {"column": "N", "type": "number"}},
}


def _file(tmp_path: Path, rows: int = 3000, offset: int = 0, tag: str = "a") -> Path:
    data = []
    for i in range(offset, offset + rows):
        email = f"user{i}@example.com" if i % 97 else f"bad-{i}"  # some rows fail
        data.append([email, f"{tag}{i}", "L", str(i)])
    data.append([f"USER{offset + 1}@example.com", "dup", "L", "1"])  # an in-file duplicate
    return write_csv(tmp_path / f"{tag}.csv", ["Email", "First Name", "Last Name", "N"], data)


def _segment(engine, team_id: int) -> str:
    with engine.begin() as conn:
        return str(
            conn.execute(
                sa.text("INSERT INTO segments (team_id, name) VALUES (:t, 's') RETURNING id"), {"t": team_id}
            ).scalar_one()
        )


def _state(engine, team_id: int, import_id: str, segment: str) -> dict:
    row = get_import(engine, team_id, import_id)
    with engine.connect() as conn:
        members = conn.execute(
            sa.text("SELECT count(*) FROM contact_segments WHERE segment_id = :s"), {"s": segment}
        ).scalar_one()
        leftovers = conn.execute(
            sa.text("SELECT count(*) FROM pg_tables WHERE tablename LIKE :p"), {"p": f"import_%_{import_id.replace('-', '')}"}
        ).scalar_one()
    people = {e: (c["first_name"], c["last_name"], c["properties"]) for e, c in contacts(engine, team_id).items()}
    counts = {k: row[k] for k in ("total", "created", "updated", "skipped", "failed")}
    return {"status": row["status"], "counts": counts, "contacts": people, "members": members, "leftover_tables": leftovers}


@pytest.mark.parametrize("stage", ["landing", "staging", "properties", "merge", "merged", "report"])
def test_killed_then_retried_equals_uninterrupted(engine, team, tmp_path, stage):
    name, team_id = team
    path = _file(tmp_path)
    # The reference: the same file, never interrupted, in a team of its own.
    ref_team = ensure_team(engine, f"{name}-reference")
    ref_segment = _segment(engine, ref_team)
    ref = run(engine, ref_team, path, CMAP, segments=[ref_segment])
    expected = _state(engine, ref_team, ref["id"], ref_segment)

    segment = _segment(engine, team_id)
    env = {**os.environ, "ROSTER_CRASH_AT": stage, "ROSTER_BATCH_ROWS": "1000"}
    p = subprocess.run(
        [
            str(BIN / "roster"),
            "import",
            str(path),
            "--team",
            name,
            "--json",
            "--segment",
            segment,
            "--column-map",
            json.dumps(CMAP),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == -9, p.stderr[-2000:]  # SIGKILL
    with engine.connect() as conn:
        import_id = str(conn.execute(sa.text("SELECT id FROM contact_imports WHERE team_id = :t"), {"t": team_id}).scalar_one())
    assert get_import(engine, team_id, import_id)["status"] == "in_progress"

    retry = subprocess.run(
        [str(BIN / "roster"), "imports", "run", import_id, "--team", name, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ROSTER_BATCH_ROWS": "1000"},
    )
    assert retry.returncode == 0, retry.stderr[-2000:]
    got = _state(engine, team_id, import_id, segment)
    assert got == expected
    assert got["counts"]["total"] == 3001 and got["leftover_tables"] == 0


def test_two_overlapping_imports_at_once_equal_one_after_the_other(engine, team, tmp_path):
    _, team_id = team
    a = _file(tmp_path, rows=2000, offset=0, tag="a")
    b = _file(tmp_path, rows=2000, offset=1000, tag="b")  # rows 1000-1999 in both
    from roster.landing import LandingStore
    from schemas.column_map import parse_column_map
    from schemas.import_options import ImportOptions
    from tests.helpers import create_import

    ids = [
        create_import(engine, LandingStore(), team_id, f, f.name, ImportOptions(column_map=parse_column_map(CMAP)), source="test")
        for f in (a, b)
    ]
    # Two processes, as two Dagster runs are, started together.
    env = {**os.environ, "ROSTER_BATCH_ROWS": "500"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipelines.launch", i], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for i in ids
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    rows = [get_import(engine, team_id, i) for i in ids]
    assert [r["status"] for r in rows] == ["completed", "completed"], [r["error"] for r in rows]
    people = contacts(engine, team_id)
    valid = {f"user{i}@example.com" for i in range(3000) if i % 97}
    assert set(people) == valid
    # No lost update: every contact is wholly one file's row, and created/updated add up as if serial.
    assert sum(r["created"] for r in rows) == len(valid)
    overlap = {f"user{i}@example.com" for i in range(1000, 2000) if i % 97}
    assert sum(r["updated"] for r in rows) == len(overlap)
    for email in overlap:
        i = int(email[4:].split("@")[0])
        assert people[email]["first_name"] in (f"a{i}", f"b{i}", "dup")
        assert people[email]["properties"]["n"] in (i, 1)
