"""Auth, team isolation, the error shape, upload limits, refused files, idempotency, rate limits."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.api.conftest import csv_bytes, serve, wait_done

GOOD_CSV = csv_bytes(["email", "first_name"], [["a@example.com", "A"], ["b@example.com", "B"]])


def assert_error(resp: httpx.Response, status: int, name: str, contains: str = "") -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"statusCode", "name", "message"}, body
    assert body["statusCode"] == status and body["name"] == name, body
    assert contains in body["message"], body
    return body


def upload(http, data=GOOD_CSV, **form):
    return http.post("/contacts/imports", files={"file": ("c.csv", data, "text/csv")}, data=form)


def test_missing_and_invalid_keys(api_url):
    assert_error(httpx.get(f"{api_url}/contacts/imports"), 401, "missing_api_key")
    assert_error(httpx.post(f"{api_url}/contacts/imports", files={"file": ("c.csv", GOOD_CSV)}), 401, "missing_api_key")
    assert_error(httpx.get(f"{api_url}/segments", headers={"Authorization": "Bearer re_nope"}), 403, "invalid_api_key")


def test_other_teams_objects_are_404(api_url, http, make_key):
    created = upload(http).json()
    seg = http.post("/segments", json={"name": "mine"}).json()
    contact = http.post("/contacts", json={"email": "mine@example.com"}).json()
    other = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {make_key()}"})
    for path in (
        f"/contacts/imports/{created['id']}",
        f"/contacts/imports/{created['id']}/failures",
        f"/segments/{seg['id']}",
        f"/contacts/{contact['id']}",
        "/contacts/mine@example.com",
    ):
        assert_error(other.get(path), 404, "not_found")
    assert_error(other.delete(f"/segments/{seg['id']}"), 404, "not_found")
    assert other.get("/contacts/imports").json()["data"] == []
    # and the other team cannot import into our segment
    assert_error(upload(other, segments=f'[{{"id": "{seg["id"]}"}}]'), 422, "validation_error", "does not exist")
    wait_done(http, created["id"])


def test_error_shape_for_routes_methods_and_validation(api_url, http):
    assert_error(http.get("/nope"), 404, "not_found")
    assert_error(http.put("/segments"), 405, "method_not_allowed")
    assert_error(http.get("/contacts/imports", params={"limit": 1000}), 422, "validation_error", "limit")
    assert_error(http.get("/contacts/imports", params={"after": "x"}), 422, "validation_error")
    u = str(uuid.uuid4())
    assert_error(http.get("/segments", params={"after": u, "before": u}), 422, "validation_error")
    assert_error(http.post("/segments", json={}), 422, "missing_required_field", "name")
    assert_error(
        http.post("/segments", content=b"{not json", headers={"content-type": "application/json"}), 422, "validation_error"
    )
    # Resend's answer to an id that is not a UUID: 422 invalid_parameter, never a 404
    for path in (
        "/contacts/imports/not-a-uuid",
        "/segments/x",
        "/topics/1",
        "/contact-properties/abc",
        "/contacts/imports/not-a-uuid/failures",
        "/segments/x/contacts",
        "/contacts/not-an-email",
    ):
        assert_error(http.get(path), 422, "invalid_parameter", "must be a valid UUID")
    assert_error(http.delete("/segments/x"), 422, "invalid_parameter", "`id` must be a valid UUID")
    assert_error(http.patch("/topics/x", json={"name": "n"}), 422, "invalid_parameter")
    assert_error(http.get("/contacts", params={"segment_id": "x"}), 422, "invalid_parameter", "`segment_id`")
    assert_error(http.get(f"/contacts/imports/{uuid.uuid4()}"), 404, "not_found")


@pytest.mark.parametrize(
    "form,data,message",
    [
        ({}, csv_bytes(["name", "city"], [["Ann", "Oslo"]]), "missing required email column"),
        ({"column_map": '{"email": "E-mail"}'}, GOOD_CSV, "E-mail"),
        ({"column_map": '{"email": "email", "properties": {"bad key!": {"column": "first_name"}}}'}, GOOD_CSV, "bad key!"),
        ({"segments": f'[{{"id": "{uuid.uuid4()}"}}]'}, GOOD_CSV, "does not exist"),
        ({"on_conflict": "merge"}, GOOD_CSV, "on_conflict"),
        ({"column_map": "{nope"}, GOOD_CSV, "JSON"),
        ({}, b"", "empty"),
    ],
)
def test_refused_imports_are_422(http, form, data, message):
    body = assert_error(upload(http, data, **form), 422, "validation_error")
    assert message.lower() in body["message"].lower(), body
    assert http.get("/contacts/imports").json()["data"] == []


def test_missing_file_is_422(http):
    assert_error(
        http.post("/contacts/imports", data={"on_conflict": "upsert"}, files={"x": ("", b"")}),
        422,
        "missing_required_field",
        "file",
    )


def test_legacy_and_extra_fields_are_accepted(http, engine):
    import sqlalchemy as sa

    created = upload(http, on_error="continue", auto_map="true", auto_create_properties="false").json()
    with engine.connect() as conn:
        options = conn.execute(sa.text("SELECT options FROM contact_imports WHERE id = :i"), {"i": created["id"]}).scalar()
    assert options["auto_map"] is True and options["auto_create_properties"] is False
    assert wait_done(http, created["id"])["counts"]["created"] == 2


def test_upload_over_the_limit_is_413(http, monkeypatch):
    monkeypatch.setenv("ROSTER_MAX_UPLOAD_BYTES", "1000")
    big = csv_bytes(["email"], [[f"user{i}@example.com"] for i in range(200)])
    assert len(big) > 1000
    assert_error(upload(http, big), 413, "file_too_large")

    # streamed without a content-length too (chunked)
    def chunks():
        boundary = b"xyzzy"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'
        for i in range(0, len(big), 100):
            yield big[i : i + 100]
        yield b"\r\n--" + boundary + b"--\r\n"

    resp = http.post("/contacts/imports", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyzzy"})
    assert_error(resp, 413, "file_too_large")
    assert http.get("/contacts/imports").json()["data"] == []
    monkeypatch.setenv("ROSTER_MAX_UPLOAD_BYTES", str(len(GOOD_CSV)))
    assert upload(http).status_code == 201


BOUNDARY = b"xyzzy"
PART_HEAD = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n'


def _incoming() -> set:
    from roster.runtime.settings import get_settings

    return set((get_settings().landing_dir / ".incoming").glob("*.upload"))


def test_a_multipart_body_without_its_closing_boundary_is_refused(http):
    """Issue 19: a body cut before its closing boundary was imported as if complete."""
    before = _incoming()
    for cut in (b"", b"\r\n--" + BOUNDARY, b"\r\n--" + BOUNDARY + b"\r\n"):
        resp = http.post(
            "/contacts/imports",
            content=PART_HEAD + GOOD_CSV + cut,
            headers={"content-type": "multipart/form-data; boundary=xyzzy"},
        )
        assert_error(resp, 400, "validation_error", "ends before its closing boundary")
    assert http.get("/contacts/imports").json()["data"] == []
    assert _incoming() <= before
    whole = http.post(
        "/contacts/imports",
        content=PART_HEAD + GOOD_CSV + b"\r\n--" + BOUNDARY + b"--\r\n",
        headers={"content-type": "multipart/form-data; boundary=xyzzy"},
    )
    assert whole.status_code == 201, whole.text


def _drip(
    api_url: str, api_key: str, path: str, per_second: int, stop_after: float | None, bound: float = 180
) -> tuple[bytes, float]:
    """Send an upload at `per_second` bytes a second on a raw socket (stopping altogether after
    `stop_after` s, if given) until the server answers; (its answer, seconds it took)."""
    import select
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(api_url)
    body_length = 10 * 1024 * 1024
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\nAuthorization: Bearer {api_key}\r\n"
        f"Content-Type: multipart/form-data; boundary=xyzzy\r\nContent-Length: {body_length}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection((where.hostname, where.port)) as sock:
        sock.sendall(head + PART_HEAD + b"email\n")
        answer = b""
        while time.monotonic() - started < bound:
            readable, _, _ = select.select([sock], [], [], 1.0)
            if readable:
                data = sock.recv(65536)
                answer += data
                if not data or b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                    break
            elif stop_after is None or time.monotonic() - started < stop_after:
                try:
                    sock.sendall(b"a" * per_second)
                except OSError:  # the server closed the connection after answering
                    continue
    return answer, time.monotonic() - started


def test_an_upload_dripping_slower_than_the_minimum_rate_gets_408(api_url, api_key, monkeypatch):
    """Issue 19: an upload sent at 50 bytes/s was still open after 150 s. Now a body that brings
    fewer than ROSTER_UPLOAD_MIN_RATE bytes a second over its 30 s window is answered 408, and
    what it wrote is removed."""
    monkeypatch.delenv("ROSTER_UPLOAD_MIN_RATE", raising=False)
    monkeypatch.delenv("ROSTER_UPLOAD_TIMEOUT", raising=False)
    before = _incoming()
    answer, took = _drip(api_url, api_key, "/contacts/imports", per_second=50, stop_after=None)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"request_timeout" in answer and b"ROSTER_UPLOAD_MIN_RATE" in answer
    assert took >= 30  # the rate is judged over a whole window, never sooner
    assert _incoming() <= before


def test_an_upload_that_stops_or_outlasts_the_deadline_gets_408(api_url, api_key, monkeypatch):
    """A client that sends part of its body and then nothing, or that keeps sending past
    ROSTER_UPLOAD_TIMEOUT, holds the request no longer than the deadline."""
    monkeypatch.setenv("ROSTER_UPLOAD_TIMEOUT", "5")
    before = _incoming()
    answer, _ = _drip(api_url, api_key, "/contacts/imports", per_second=20_000, stop_after=2)
    assert answer.startswith(b"HTTP/1.1 408") and b"ROSTER_UPLOAD_TIMEOUT" in answer, answer[:300]
    answer, _ = _drip(api_url, api_key, "/contacts/imports", per_second=20_000, stop_after=None)
    assert answer.startswith(b"HTTP/1.1 408") and b"ROSTER_UPLOAD_TIMEOUT" in answer, answer[:300]
    assert _incoming() <= before


def test_idempotency(http):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = http.post("/contacts/imports", files={"file": ("c.csv", GOOD_CSV, "text/csv")}, headers=key)
    again = http.post("/contacts/imports", files={"file": ("c.csv", GOOD_CSV, "text/csv")}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = http.post("/contacts/imports", files={"file": ("c.csv", GOOD_CSV + b"c@example.com,C\r\n", "text/csv")}, headers=key)
    assert_error(other, 409, "invalid_idempotent_request")
    assert len(http.get("/contacts/imports").json()["data"]) == 1
    # JSON bodies too
    k2 = {"Idempotency-Key": "segment-1"}
    a = http.post("/segments", json={"name": "S"}, headers=k2).json()
    assert http.post("/segments", json={"name": "S"}, headers=k2).json()["id"] == a["id"]
    assert_error(http.post("/segments", json={"name": "T"}, headers=k2), 409, "invalid_idempotent_request")
    assert_error(
        http.post("/segments", json={"name": "S"}, headers={"Idempotency-Key": "x" * 257}), 400, "invalid_idempotency_key"
    )
    wait_done(http, first.json()["id"])


def test_rate_limit_headers_and_429(database, api_key):
    from roster.api.app import create_app

    with serve(create_app(rate_limit=2)) as url:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"})
        first = client.get("/segments")
        assert first.status_code == 200
        assert first.headers["ratelimit-limit"] == "2"
        assert first.headers["ratelimit-remaining"] == "1"
        assert "ratelimit-reset" in first.headers
        # 2 a second: 30 in a row are limited unless each took half a second (not even a busy machine)
        responses = [client.get("/segments") for _ in range(30)]
        limited = [r for r in responses if r.status_code == 429]
        assert limited, [r.status_code for r in responses]
        assert_error(limited[0], 429, "rate_limit_exceeded")
        assert int(limited[0].headers["retry-after"]) >= 1
        # an unknown key is looked up (its address still has budget) and refused, not limited
        other = httpx.get(f"{url}/segments", headers={"Authorization": "Bearer re_other"})
        assert other.status_code == 403
        time.sleep(1.1)
        assert client.get("/segments").status_code == 200
        # the SDK waits out a 429 (honouring retry-after) and succeeds
        from roster.client import Roster

        sdk = Roster(api_key=api_key, base_url=url)
        results = [sdk.segments.list() for _ in range(5)]
        assert all(r.has_more is False for r in results)
