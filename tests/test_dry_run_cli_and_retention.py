"""`roster import --dry-run`, `roster imports start`, `--strict`, and how long a dry run keeps its
upload: until it is started, or ROSTER_KEEP_UPLOADS_HOURS after it completed."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from roster.importing.retention import sweep_uploads
from roster.landing import LandingStore
from tests.helpers import contacts, get_import, write_csv
from tests.test_cli_and_dagster import roster

CMAP = json.dumps({"email": "Email", "properties": {"seats": {"column": "Seats", "type": "number"}}})


@pytest.mark.slow  # `roster` as a subprocess
def test_roster_import_dry_run_then_start_with_strict(engine, team, tmp_path):
    name, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email", "Seats"], [["a@example.com", "1"], ["b@example.com", "many"]])
    p = roster("import", str(path), "--column-map", CMAP, "--team", name, "--dry-run", "--json")
    assert p.returncode == 0, p.stderr
    dry = json.loads(p.stdout)
    assert dry["outcome"] == "dry_run" and dry["counts"]["created"] == 1 and dry["properties_created"] == ["seats"]
    assert contacts(engine, team_id) == {}
    assert LandingStore().upload_path(dry["id"]).is_file(), "a dry run keeps its upload, to be started"

    p = roster("imports", "start", dry["id"], "--team", name, "--strict")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "completed, 1 of 2 rows failed" in " ".join(p.stdout.split()) and "(--strict)" in p.stderr
    assert set(contacts(engine, team_id)) == {"a@example.com"}
    started_as = get_import(engine, team_id, dry["id"])["started_as"]
    assert started_as and get_import(engine, team_id, str(started_as))["dry_run_of"] == uuid.UUID(dry["id"])
    assert not LandingStore().upload_path(dry["id"]).exists(), "the started import took its own copy"
    p = roster("imports", "start", dry["id"], "--team", name)
    assert p.returncode == 1 and "started already" in p.stderr

    p = roster("import", str(path), "--column-map", CMAP, "--team", name, "--max-failed-rows", "0")
    assert p.returncode == 1 and "1 of 2 rows failed, more than max_failed_rows allows (0)" in " ".join(p.stderr.split())


def test_a_dry_run_keeps_its_upload_until_started_or_expired(engine, team, tmp_path):
    _, team_id = team
    landing = LandingStore(root=str(tmp_path / "landing"))
    ids = {name: str(uuid.uuid4()) for name in ("waiting", "expired", "started", "real")}
    with engine.begin() as conn:
        for name, age in (("waiting", "1 hour"), ("expired", "25 hours"), ("started", "1 hour")):
            conn.execute(
                sa.text(
                    "INSERT INTO contact_imports (id, team_id, status, file_path, options, completed_at) "
                    f"VALUES (:i, :t, 'completed', 'x', '{{\"dry_run\": true}}', now() - interval '{age}')"
                ),
                {"i": ids[name], "t": team_id},
            )
        conn.execute(
            sa.text(
                "INSERT INTO contact_imports (id, team_id, status, file_path, dry_run_of) VALUES (:i, :t, 'queued', 'x', :d)"
            ),
            {"i": ids["real"], "t": team_id, "d": ids["started"]},
        )
    for import_id in ids.values():
        (landing.import_dir(import_id)).mkdir(parents=True)
        landing.upload_path(import_id).write_text("email\n")
    removed = sweep_uploads(engine, landing, keep_hours=24)["removed"]
    assert set(removed) == {ids["expired"], ids["started"]}
    assert landing.upload_path(ids["waiting"]).is_file() and landing.upload_path(ids["real"]).is_file()
