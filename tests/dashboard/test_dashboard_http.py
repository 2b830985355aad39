"""The dashboard over plain HTTP against the real server process (no browser): sessions, team
scoping, the list's order, pages and filter, and the review's refusals."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
import sqlalchemy as sa

from tests.dashboard.conftest import http_sign_in


@pytest.fixture
def signed_in(server, make_team_key):
    """(client with a session cookie, team id, key)."""
    _, team_id, key = make_team_key()
    client = httpx.Client(base_url=server, timeout=30)
    r = http_sign_in(client, key)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/imports"
    yield client, team_id, key
    client.close()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_the_session_cookie_is_httponly_lax_and_never_the_key(server, make_team_key):
    _, _, key = make_team_key()
    with httpx.Client(base_url=server) as client:
        r = http_sign_in(client, key)
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("roster_session="))
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
    http_sign_in(other, other_key)
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


# -- issue 19: no door reaches another team's data ---------------------------------------------------
def _form_token(html: str) -> str:
    return _csrf(html)


def test_sign_in_needs_this_dashboard_s_form_login_csrf(server, make_team_key):
    """A page elsewhere auto-posting the attacker's key to /dashboard/sign-in signed the victim
    into the attacker's team. Now sign-in needs the form's token, bound to the pre-session cookie
    the sign-in page set in this browser, and an Origin (or Referer) of this server."""
    _, _, key = make_team_key()
    with httpx.Client(base_url=server) as victim:
        # The attacker's page: no pre-session cookie, no token (or its own token, from its own visit).
        with httpx.Client(base_url=server) as attacker:
            attacker_token = _form_token(attacker.get("/dashboard/sign-in").text)
        for data, headers in (
            ({"api_key": key}, {"origin": "https://evil.example"}),
            ({"api_key": key}, {}),
            ({"api_key": key, "csrf": attacker_token}, {}),
        ):
            r = victim.post("/dashboard/sign-in", data=data, headers=headers)
            assert r.status_code == 403 and "roster_session" not in victim.cookies, r.text[:300]
        # The victim's own form, posted from another site (its Origin, or its Referer) is refused too.
        token = _form_token(victim.get("/dashboard/sign-in").text)
        for headers in ({"origin": "https://evil.example"}, {"referer": "https://evil.example/page"}, {"origin": "null"}):
            r = victim.post("/dashboard/sign-in", data={"api_key": key, "csrf": token}, headers=headers)
            assert r.status_code == 403 and "roster_session" not in victim.cookies
        r = victim.post("/dashboard/sign-in", data={"api_key": key, "csrf": token}, headers={"origin": server})
        assert r.status_code == 303 and "roster_session" in victim.cookies


def test_sign_out_is_csrf_checked_and_ends_the_session_on_the_server(server, signed_in):
    """Sign-out had no CSRF check, and a copied cookie stayed valid after it."""
    client, _, _ = signed_in
    copied = client.cookies["roster_session"]
    token = _csrf(client.get("/dashboard/imports").text)
    # A forged sign-out (no token, or another site's) does nothing.
    assert client.post("/dashboard/sign-out").status_code == 403
    assert client.post("/dashboard/sign-out", data={"csrf": token}, headers={"origin": "https://evil.example"}).status_code == 403
    assert client.get("/dashboard/imports").status_code == 200
    r = client.post("/dashboard/sign-out", data={"csrf": token}, headers={"origin": server})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/sign-in"
    with httpx.Client(base_url=server, cookies={"roster_session": copied}) as thief:
        r = thief.get("/dashboard/imports")
        assert r.status_code == 303 and r.headers["location"] == "/dashboard/sign-in"
        assert thief.get("/dashboard/imports/" + str(uuid.uuid4()) + "/status.json").status_code == 401


def test_every_dashboard_response_forbids_framing_and_inline_scripts(server, signed_in):
    client, _, _ = signed_in
    answers = [
        client.get("/dashboard/imports"),
        client.get("/dashboard/imports/new"),
        client.get("/dashboard/imports/" + str(uuid.uuid4())),  # not found
        client.get("/dashboard/static/dashboard.js"),
        client.get("/dashboard/imports/" + str(uuid.uuid4()) + "/status.json"),
        httpx.get(server + "/dashboard/sign-in"),
        httpx.get(server + "/dashboard/imports"),  # a redirect to sign in
    ]
    for r in answers:
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, (r.url, csp)
        assert "unsafe-inline" not in csp.replace("style-src-attr 'unsafe-inline'", ""), csp
        assert r.headers.get("x-frame-options") == "DENY" and r.headers.get("x-content-type-options") == "nosniff"
    assert "content-security-policy" not in httpx.get(server + "/openapi.json").headers  # the API's JSON: not a page


def test_wrong_keys_from_an_address_never_lock_out_its_signed_in_browsers(database, make_team_key):
    """11 bad keys from one address gave its signed-in dashboard sessions 429 for a minute."""
    import random

    from roster.api.app import create_app
    from tests.api.conftest import serve
    from tests.dashboard.conftest import http_sign_in

    # An address of its own (all of 127/8 is this machine): the lockout lives in the shared
    # database for a minute and must not reach the other tests' 127.0.0.1.
    source = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"

    def from_there(url: str) -> httpx.Client:
        return httpx.Client(base_url=url, timeout=30, transport=httpx.HTTPTransport(local_address=source))

    _, _, key = make_team_key()
    with serve(create_app(rate_limit=1000, bad_key_limit=3)) as url, from_there(url) as browser, from_there(url) as other:
        assert http_sign_in(browser, key).status_code == 303
        codes = [other.get("/contacts/imports", headers={"authorization": f"Bearer re_bogus{i}"}).status_code for i in range(6)]
        assert codes[-1] == 429, codes  # the address is locked out for keys it has not proven
        assert other.get("/dashboard/imports").status_code == 429  # and so is a browser without a session
        for _ in range(5):
            r = browser.get("/dashboard/imports")
            assert r.status_code == 200, r.text[:200]
        assert browser.get("/dashboard/static/dashboard.css").status_code == 200


def test_a_dashboard_upload_cut_before_its_closing_boundary_is_refused(signed_in):
    """The dashboard's upload is the API's parser: a body without its closing boundary is refused
    (no draft, nothing to review), as are the API's slow or endless uploads (408)."""
    client, _, _ = signed_in
    token = _csrf(client.get("/dashboard/imports/new").text)
    head = (
        b'--xyzzy\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + token.encode() + b"\r\n"
        b'--xyzzy\r\nContent-Disposition: form-data; name="file"; filename="people.csv"\r\n\r\nemail\na@example.com\n'
    )
    headers = {"accept": "application/json", "content-type": "multipart/form-data; boundary=xyzzy"}
    r = client.post("/dashboard/imports/upload", content=head, headers=headers)
    assert r.status_code == 400 and "closing boundary" in r.json()["error"]
    r = client.post("/dashboard/imports/upload", content=head + b"\r\n--xyzzy--\r\n", headers=headers)
    assert r.status_code == 200 and r.json()["review_url"]


def test_a_dry_run_from_the_review_page_writes_nothing_and_starts_for_real(signed_in, engine):
    """ "Check every row first": the import page shows what it would do, then "Start the import"
    starts it for real, as a new import."""
    import time

    client, team_id, _ = signed_in
    page = client.get("/dashboard/imports/new").text
    r = client.post(
        "/dashboard/imports/upload",
        headers={"accept": "application/json", "x-csrf-token": _csrf(page)},
        files={"file": ("people.csv", b"email,name\na@example.com,Ann\nnope,Bob\n", "text/csv")},
    )
    review_url = r.json()["review_url"]
    review = client.get(review_url).text
    assert 'name="dry_run" value="true"' in review and 'name="max_failed_rows"' in review
    form = {"csrf": _csrf(review), "target_0": "email", "include_0": "on", "target_1": "first_name", "include_1": "on"}
    r = client.post(review_url, data={**form, "on_conflict": "upsert", "dry_run": "true"})
    assert r.status_code == 303, r.text
    dry_url = r.headers["location"]

    def finished(url: str) -> str:
        deadline = time.monotonic() + 120
        while 'data-status="queued"' in (html := client.get(url).text) or 'data-status="in_progress"' in html:
            assert time.monotonic() < deadline, "the import did not finish"
            time.sleep(0.3)
        return html

    html = finished(dry_url)
    assert 'class="status s-dry_run"' in html and "Dry run" in html
    assert "dry run, nothing written: would create 1, update 0, skip 0; 1 of 2 rows would fail" in html
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts WHERE team_id = :t"), {"t": team_id}).scalar() == 0
    r = client.post(dry_url + "/start", data={"csrf": _csrf(html)})
    assert r.status_code == 303 and r.headers["location"] != dry_url
    html = finished(r.headers["location"])
    assert 'class="status s-completed_with_failures"' in html and "Completed with failures" in html
    assert "completed, 1 of 2 rows failed (1 created, 0 updated, 0 skipped)" in html
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts WHERE team_id = :t"), {"t": team_id}).scalar() == 1
    assert "Started for real as" in client.get(dry_url).text
