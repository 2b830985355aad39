"""An API write to a contact and an import touching it end as one or the other in full, never a
mix (FAULTS defect 6: PATCH rewrote `properties` from a read made before the import's merge).

The two writes touch different fields here (the import: first_name and country; the PATCH:
last_name and plan), so both serial orders end the same way: with all four."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.api.conftest import csv_bytes, wait_done

IMPORT_MAP = '{"email": "email", "first_name": "first_name", "properties": {"country": {"column": "country"}}}'


def _waiting(dsn: str, like: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
                "AND query ILIKE %s",
                (like,),
            ).fetchone()[0]
            > 0
        )


def _until(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def seeded(http):
    for key in ("country", "plan"):
        assert http.post("/contact-properties", json={"key": key, "type": "string"}).status_code == 201
    return http


def test_patch_waiting_behind_an_import_applies_on_top_of_it(seeded, database):
    """Deterministic: the contact's row is locked, the import's merge queues on it, then a PATCH
    queues behind the merge. Released, the merge commits first; the PATCH must not write back the
    properties it could have read before the merge."""
    http = seeded
    dsn = database.replace("postgresql+psycopg://", "postgresql://")
    cid = http.post(
        "/contacts", json={"email": "v@example.com", "first_name": "V1", "properties": {"country": "DE", "plan": "free"}}
    ).json()["id"]
    holder = psycopg.connect(dsn)
    holder.execute("SELECT id FROM contacts WHERE id = %s FOR UPDATE", (cid,))
    patched: dict = {}
    try:
        data = csv_bytes(["email", "first_name", "country"], [["v@example.com", "V2", "ZZ"]])
        imp = http.post("/contacts/imports", files={"file": ("c.csv", data, "text/csv")}, data={"column_map": IMPORT_MAP})
        assert imp.status_code == 201, imp.text
        _until(lambda: _waiting(dsn, "%INSERT INTO contacts%"), timeout=120)

        def patch():
            patched["r"] = http.patch(f"/contacts/{cid}", json={"last_name": "PATCHED", "properties": {"plan": "patched"}})

        thread = threading.Thread(target=patch)
        thread.start()
        _until(lambda: _waiting(dsn, "%UPDATE contacts%"))
    finally:
        holder.rollback()
        holder.close()
    thread.join(60)
    assert patched["r"].status_code == 200, patched["r"].text
    assert wait_done(http, imp.json()["id"])["status"] == "completed"
    got = http.get(f"/contacts/{cid}").json()
    assert (got["first_name"], got["last_name"]) == ("V2", "PATCHED")
    assert {k: v["value"] for k, v in got["properties"].items()} == {"country": "ZZ", "plan": "patched"}
