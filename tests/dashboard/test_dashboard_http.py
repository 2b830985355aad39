"""The dashboard over plain HTTP against the real server process (no browser): sessions, team
scoping, the list's order, pages and filter, and the review's refusals."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
import sqlalchemy as sa


@pytest.fixture
def signed_in(server, make_team_key):
    """(client with a session cookie, team id, key)."""
    _, team_id, key = make_team_key()
    client = httpx.Client(base_url=server, timeout=30)
    r = client.post("/dashboard/sign-in", data={"api_key": key})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/imports"
    yield client, team_id, key
    client.close()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_the_session_cookie_is_httponly_lax_and_never_the_key(server, make_team_key):
    _, _, key = make_team_key()
    r = httpx.post(server + "/dashboard/sign-in", data={"api_key": key})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert key not in cookie and key[3:12] not in cookie


def test_a_tampered_or_missing_session_is_sent_to_sign_in(server, signed_in):
    client, _, _ = signed_in
    assert client.get("/dashboard/imports").status_code == 200
    value = client.cookies["roster_session"]
    forged = httpx.Client(base_url=server, cookies={"roster_session": value[:-2] + "xx"})
    r = forged.get("/dashboard/imports")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/sign-in"
    assert httpx.get(server + "/dashboard/imports/" + str(uuid.uuid4()) + "/status.json").status_code == 401


def test_deleting_the_key_ends_its_sessions(signed_in, engine):
    client, team_id, _ = signed_in
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM api_keys WHERE team_id = :t"), {"t": team_id})
    assert client.get("/dashboard/imports").status_code == 303


def test_the_list_is_newest_first_paginated_and_filtered(signed_in, engine, tmp_path):
    from roster.importing.service import ImportService
    from schemas.import_options import parse_options

    client, team_id, _ = signed_in
    service = ImportService(engine)
    (tmp_path / "f.csv").write_text("email\na@example.com\n")
    ids = [service.create(team_id, tmp_path / "f.csv", f"list-{i:02d}.csv", parse_options({}), "test") for i in range(22)]
    failed = service.record_failed(team_id, "schedule", "crm-export", "the CRM answered 500")

    first = client.get("/dashboard/imports").text
    names = re.findall(r">(list-\d\d\.csv|crm-export)<", first)
    assert names[0] == "crm-export" and names[1:] == [f"list-{i:02d}.csv" for i in range(21, 2, -1)]
    assert 'rel="next"' in first and 'data-running="yes"' in first  # queued ones: it refreshes itself
    second = client.get("/dashboard/imports", params={"page_number": 2}).text
    assert re.findall(r">(list-\d\d\.csv)<", second) == ["list-02.csv", "list-01.csv", "list-00.csv"]
    only_failed = client.get("/dashboard/imports", params={"status": "failed"}).text
    assert re.findall(r">(list-\d\d\.csv|crm-export)<", only_failed) == ["crm-export"]
    partial = client.get("/dashboard/imports", params={"partial": 1, "status": "failed"}).text
    assert "<html" not in partial and "crm-export" in partial
    page = client.get(f"/dashboard/imports/{failed}").text
    assert "the CRM answered 500" in page or "Failed" in page
    assert client.get(f"/dashboard/imports/{ids[0]}/status.json").json()["status"] == "queued"


def test_a_review_without_an_email_column_is_sent_back_with_nothing_imported(signed_in, engine):
    client, team_id, _ = signed_in
    page = client.get("/dashboard/imports/new").text
    r = client.post(
        "/dashboard/imports/upload",
        headers={"accept": "application/json", "x-csrf-token": _csrf(page)},
        files={"file": ("people.csv", b"mail,name\na@example.com,Ann\n", "text/csv")},
    )
    assert r.status_code == 200, r.text
    review_url = r.json()["review_url"]
    review = client.get(review_url).text
    assert 'value="email" selected' in review
    form = {
        "csrf": _csrf(review),
        "target_0": "ignore",
        "include_0": "on",
        "target_1": "first_name",
        "include_1": "on",
        "on_conflict": "upsert",
    }
    sent_back = client.post(review_url, data=form)
    assert sent_back.status_code == 422 and "email address" in sent_back.text
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contact_imports WHERE team_id = :t"), {"t": team_id}).scalar() == 0
    # Without the form's token nothing starts either.
    assert client.post(review_url, data={**form, "csrf": "forged", "target_0": "email"}).status_code == 303
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contact_imports WHERE team_id = :t"), {"t": team_id}).scalar() == 0


def test_another_teams_upload_cannot_be_reviewed(server, signed_in, make_team_key):
    client, _, _ = signed_in
    page = client.get("/dashboard/imports/new").text
    r = client.post(
        "/dashboard/imports/upload",
        headers={"accept": "application/json", "x-csrf-token": _csrf(page)},
        files={"file": ("people.csv", b"email\na@example.com\n", "text/csv")},
    )
    review_url = r.json()["review_url"]
    _, _, other_key = make_team_key()
    other = httpx.Client(base_url=server)
    other.post("/dashboard/sign-in", data={"api_key": other_key})
    assert other.get(review_url).status_code == 404


def test_an_upload_that_is_not_a_csv_is_refused_on_the_upload_page(signed_in):
    client, _, _ = signed_in
    page = client.get("/dashboard/imports/new").text
    r = client.post(
        "/dashboard/imports/upload",
        headers={"accept": "application/json", "x-csrf-token": _csrf(page)},
        files={"file": ("photo.csv", bytes(range(256)) * 40, "text/csv")},
    )
    assert r.status_code == 422 and r.json()["error"]
