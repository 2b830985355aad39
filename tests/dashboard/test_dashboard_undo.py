"""The import page's Cancel and Revert buttons in a real Chromium: each asks for a confirmation
(dismissed: nothing happens), then POSTs with the page's CSRF token."""

from __future__ import annotations

import time

import httpx
import sqlalchemy as sa

from tests.dashboard.conftest import sign_in


def _contacts(engine, team_id: int) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.text("SELECT email FROM contacts WHERE team_id = :t"), {"t": team_id}).scalars())


def _completed_import(server: str, key: str, body: bytes) -> str:
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        import_id = http.post("/contacts/imports", files={"file": ("people.csv", body, "text/csv")}).json()["id"]
        deadline = time.monotonic() + 240
        while http.get(f"/contacts/imports/{import_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the import did not complete"
            time.sleep(0.3)
    return import_id


def test_revert_button_asks_then_undoes_the_import(server, page, make_team_key, engine):
    _, team_id, key = make_team_key()
    import_id = _completed_import(server, key, b"email,first_name\nann@x.io,Ann\nbob@x.io,Bob\n")
    assert _contacts(engine, team_id) == ["ann@x.io", "bob@x.io"]
    sign_in(page, server, key)
    page.goto(server + f"/dashboard/imports/{import_id}")
    assert page.get_by_role("button", name="Cancel import").count() == 0

    page.once("dialog", lambda d: d.dismiss())
    page.get_by_role("button", name="Revert import").click()
    page.wait_for_timeout(500)  # a dismissed confirmation must not have posted anything
    assert _contacts(engine, team_id) == ["ann@x.io", "bob@x.io"]

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Revert import").click()
    page.locator("#reverted").wait_for()
    assert "2 contacts it created deleted" in page.locator("#reverted").inner_text()
    assert _contacts(engine, team_id) == []
    assert page.get_by_role("button", name="Revert import").count() == 0
    assert page.locator("#status").inner_text() == "Reverted"


def test_cancel_button_on_a_queued_import(server, page, make_team_key, engine, tmp_path):
    from roster.importing.service import ImportService
    from schemas.import_options import ImportOptions

    _, team_id, key = make_team_key()
    path = tmp_path / "queued.csv"
    path.write_text("email\nq@x.io\n")
    # Recorded, not submitted: no sensor runs here, so it stays queued.
    import_id = ImportService(engine).create(team_id, path, path.name, ImportOptions(), "test")
    sign_in(page, server, key)
    page.goto(server + f"/dashboard/imports/{import_id}")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Cancel import").click()
    page.locator("#cancelled").wait_for()
    assert "nothing was imported" in page.locator("#cancelled").inner_text()
    assert page.locator("#status").inner_text() == "Cancelled"
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, cancelled_at FROM contact_imports WHERE id = :i"), {"i": import_id}).one()
    assert row.status == "failed" and row.cancelled_at is not None
    # Without the page's CSRF token the same POST is refused.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    forged = httpx.post(server + f"/dashboard/imports/{import_id}/revert", data={"csrf": "forged"}, cookies=cookies)
    assert forged.status_code in (302, 303, 401, 403)
