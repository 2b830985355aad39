"""An upload over HTTP with ROSTER_LANDING=postgres: streamed into the database, then imported."""

from __future__ import annotations

import sqlalchemy as sa

from tests.api.conftest import csv_bytes, wait_done


def test_an_upload_lands_in_postgres_and_imports(http, engine, monkeypatch):
    from roster.runtime.settings import get_settings
    from roster.store import landed_files

    monkeypatch.setenv("ROSTER_LANDING", "postgres")
    stored = []  # the run may be another process (ROSTER_LAUNCH=inline): only the API's side is watched here
    write_ = landed_files.write
    monkeypatch.setattr(landed_files, "write", lambda e, i, chunks: stored.append(write_(e, i, chunks)) or stored[-1])
    data = csv_bytes(["email", "first_name"], [[f"pg{i}@example.com", "A"] for i in range(2000)])
    landing = get_settings().landing_dir
    before = set(landing.iterdir()) if landing.is_dir() else set()
    resp = http.post("/contacts/imports", files={"file": ("pg.csv", data, "text/csv")}, data={"column_map": '{"email": "email"}'})
    assert resp.status_code == 201, resp.text
    import_id = resp.json()["id"]
    body = wait_done(http, import_id)
    assert body["status"] == "completed" and body["counts"]["created"] == 2000, body
    assert stored == [len(data)], "the API streamed the upload into the database"
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM landed_files WHERE import_id = :i"), {"i": import_id}).scalar()
    assert left == 0, "a completed import's upload is deleted from the database"
    assert {p for p in landing.iterdir() if p.name != ".incoming"} <= before, "nothing of it stays in the folder"
