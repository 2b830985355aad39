"""A failed import's `error` says what to do, never how the server is built (FAULTS 14, probe
7.05); uploads are deleted when Roster no longer needs them (FAULTS 14, probe 7.06)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from pipelines.launch import run_import
from roster.importing.render import render_import
from roster.importing.retention import sweep_uploads
from roster.landing import LandingStore
from roster.safety.public_errors import GENERIC, public_error, public_text
from schemas.import_options import ImportOptions
from tests.helpers import NAMES_MAP, create_import, get_import, run, write_csv

INTERNAL = ("Error", "psycopg", "sqlalchemy", "Traceback", "/tmp", "/work", "roster-test", "landing")


def _assert_public(text: str) -> None:
    for word in INTERNAL:
        assert word not in text, (word, text)


def test_public_error_names_the_trouble_not_the_code():
    cases = {
        PermissionError(13, "Permission denied", "/srv/roster/landing/abc/work"): "cannot write to its data directory",
        OSError(28, "No space left on device"): "disk is full",
        OSError(5, "Input/output error", "/srv/x"): "I/O error",
        FileNotFoundError(2, "No such file", "/srv/roster/landing/abc/upload"): "upload the file again",
        sqlalchemy.exc.IntegrityError(
            "INSERT INTO contacts ...",
            {},
            psycopg.errors.CardinalityViolation("ON CONFLICT DO UPDATE command cannot affect row a second time"),
        ): "the database refused a change while saving",
        ValueError("something deep inside"): "an error inside the server",
    }
    for exc, says in cases.items():
        text = public_error("contacts" if isinstance(exc, sqlalchemy.exc.SQLAlchemyError) else "import_file", exc)
        assert says in text, text
        _assert_public(text)
        assert "something deep" not in text


@pytest.mark.parametrize(
    "stored",
    [
        "contacts failed: CardinalityViolation: ON CONFLICT DO UPDATE command cannot affect row a second time",
        "import_file failed: PermissionError: [Errno 13] Permission denied: '/tmp/roster/landing/x/work'",
        "psycopg.errors.ProgramLimitExceeded: index row size 2712 exceeds btree version 4 maximum",
        'Traceback (most recent call last):\n  File "/work/x.py"',
    ],
)
def test_stored_internal_text_is_never_shown(stored):
    assert public_text(stored) == GENERIC


def test_server_paths_are_cut_to_the_file_name_and_urls_kept():
    assert public_text("no file matches /srv/exports/contacts-*.csv") == "no file matches contacts-*.csv"
    assert (
        public_text("GET https://crm.example.com/exports/c.csv answered HTTP 500")
        == "GET https://crm.example.com/exports/c.csv answered HTTP 500"
    )
    assert public_text("a field is larger than 1 MiB") == "a field is larger than 1 MiB"


def test_a_failed_step_shows_a_public_error_and_keeps_the_detail_in_dagster(engine, team, tmp_path):
    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email"], [["a@x.io"]])
    landing = LandingStore()
    import_id = create_import(engine, landing, team_id, path, "a.csv", ImportOptions(), source="test", check=False)
    landing.workdir(import_id).write_text("")  # where the step wants a folder: it cannot write its copies
    result = run_import(import_id)
    row = get_import(engine, team_id, import_id)
    assert row["status"] == "failed"
    shown = render_import(row)["error"]
    assert shown == row["error"] and "could not read or write the file" in shown and "roster imports run" in shown, shown
    _assert_public(shown)
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    detail = str(failure.event_specific_data.error)
    assert "FileExistsError" in detail or "NotADirectoryError" in detail  # the operator's detail, in Dagster


# --- retention --------------------------------------------------------------------------------------


def test_a_completed_import_keeps_no_file(engine, team, tmp_path):
    """Probe 7.06: after 69 finished imports all 69 uploads were still in the landing folder."""
    _, team_id = team
    ids = []
    for i in range(3):
        path = write_csv(tmp_path / f"p{i}.csv", ["Email", "First Name", "Last Name"], [[f"u{i}@x.io", "A", "B"]])
        r = run(engine, team_id, path, NAMES_MAP)
        assert r["status"] == "completed"
        ids.append(r["id"])
    assert not any(LandingStore().import_dir(i).exists() for i in ids)
    # Running it again changes nothing: it stays completed, with its counts.
    run_import(ids[0])
    again = get_import(engine, team_id, ids[0])
    assert again["status"] == "completed" and again["created"] == 1


def _landed(landing: LandingStore, import_id: str, age_seconds: float = 0) -> Path:
    folder = landing.import_dir(import_id)
    folder.mkdir(parents=True)
    (folder / "upload").write_text("email\na@x.io\n")
    if age_seconds:
        then = time.time() - age_seconds
        os.utime(folder, (then, then))
    return folder


def test_the_sweep_deletes_what_is_no_longer_kept(engine, team, tmp_path):
    _, team_id = team
    landing = LandingStore(root=str(tmp_path / "landing"))
    ids = {name: str(uuid.uuid4()) for name in ("completed", "failed_old", "failed_new", "queued", "running")}
    rows = {
        "completed": ("completed", "now()"),
        "failed_old": ("failed", "now() - interval '25 hours'"),
        "failed_new": ("failed", "now() - interval '1 hour'"),
        "queued": ("queued", "NULL"),
        "running": ("in_progress", "NULL"),
    }
    with engine.begin() as conn:
        for name, (status, completed_at) in rows.items():
            conn.execute(
                sa.text(
                    f"INSERT INTO contact_imports (id, team_id, status, file_path, completed_at) "
                    f"VALUES (:i, :t, :s, 'x', {completed_at})"
                ),
                {"i": ids[name], "t": team_id, "s": status},
            )
    for import_id in ids.values():
        _landed(landing, import_id)
    orphan_old, orphan_new = str(uuid.uuid4()), str(uuid.uuid4())
    _landed(landing, orphan_old, age_seconds=2 * 3600)
    _landed(landing, orphan_new)
    (landing.base() / "not-an-import").mkdir()
    incoming = landing.base() / ".incoming"
    incoming.mkdir()
    (incoming / "stale.upload").write_text("x")
    os.utime(incoming / "stale.upload", (time.time() - 2 * 86400,) * 2)
    (incoming / "fresh.upload").write_text("x")

    result = sweep_uploads(engine, landing, keep_hours=24)
    assert set(result["removed"]) == {ids["completed"], ids["failed_old"], orphan_old}
    assert result["incoming"] == 1 and [p.name for p in incoming.iterdir()] == ["fresh.upload"]
    left = {p.name for p in landing.base().iterdir()}
    assert left == {ids["failed_new"], ids["queued"], ids["running"], orphan_new, "not-an-import", ".incoming"}
    # ROSTER_KEEP_UPLOADS_HOURS=0: a failed import's upload goes at the next sweep.
    assert sweep_uploads(engine, landing, keep_hours=0)["removed"] == [ids["failed_new"]]


def test_keep_hours_setting(monkeypatch):
    from roster.runtime.settings import keep_uploads_hours

    assert keep_uploads_hours() == 24
    monkeypatch.setenv("ROSTER_KEEP_UPLOADS_HOURS", "0.5")
    assert keep_uploads_hours() == 0.5
    monkeypatch.setenv("ROSTER_KEEP_UPLOADS_HOURS", "-1")
    with pytest.raises(ValueError, match="ROSTER_KEEP_UPLOADS_HOURS"):
        keep_uploads_hours()


def test_a_failed_import_is_kept_for_a_retry_then_swept_by_the_daemons_sensor(engine, team, tmp_path, monkeypatch):
    from dagster import build_sensor_context

    from pipelines.launch import dagster_instance
    from pipelines.retention import landing_sweep
    from resources.database import Database
    from resources.landing_store import Landing

    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email"], [["a@x.io"]])
    landing = LandingStore()
    import_id = create_import(engine, landing, team_id, path, "a.csv", ImportOptions(), source="test", check=False)
    landing.workdir(import_id).write_text("")
    run_import(import_id)
    assert get_import(engine, team_id, import_id)["status"] == "failed"
    assert landing.upload_path(import_id).exists()  # kept: `roster imports run ID` can retry it
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE contact_imports SET completed_at = now() - interval '2 days' WHERE id = :i"), {"i": import_id}
        )
    context = build_sensor_context(
        instance=dagster_instance(), resources={"database": Database(), "landing": Landing(root=str(landing.base()))}
    )
    landing_sweep(context)
    assert not landing.import_dir(import_id).exists()
    # A retry now says what to do.
    run_import(import_id)
    row = get_import(engine, team_id, import_id)
    assert row["status"] == "failed" and "upload the file again" in render_import(row)["error"]
