"""The review page is fast for a large upload because the upload's head is read once (issue 21:
5.5 s to render, the file's head read twice); a queued import says what it waits for; the
reading phase has an ETA."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from roster.dashboard import drafts, routes, view
from roster.importing.service import ImportService
from schemas.import_options import parse_options
from tests import exports
from tests.dashboard.conftest import http_sign_in


def _signed_in(server: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=server, timeout=120)
    assert http_sign_in(client, key).status_code == 303
    return client


def test_the_review_reads_the_upload_once(engine, make_team_key, tmp_path, monkeypatch):
    _, team_id, _ = make_team_key()
    landing = ImportService(engine).landing
    (landing.base() / ".incoming").mkdir(parents=True, exist_ok=True)
    spooled = exports.mailchimp_csv(landing.base() / ".incoming" / "spooled-test.csv", 2000)
    draft = drafts.adopt(landing, team_id, spooled, "audience.csv")
    reads = []
    real_preview = drafts.preview
    monkeypatch.setattr(drafts, "preview", lambda d, rows=drafts.PREVIEW_ROWS: reads.append(rows) or real_preview(d, rows))

    def no_second_read(*a, **k):
        raise AssertionError("the suggestion read the file again")

    monkeypatch.setattr("roster.mapping.service.read_file_sample", no_second_read)
    who = routes.Session(team_id, "t", "k", "c")
    drafts.read_head(draft)  # the upload
    first = routes._review_context(who, draft)  # the review page, twice (a reload)
    again = routes._review_context(who, drafts.find(landing, team_id, draft.id))
    assert reads == [drafts.CHECK_ROWS]
    assert first["checks"]["rows"] == 1000 and [r["choice"] for r in first["rows"]] == [r["choice"] for r in again["rows"]]
    drafts.discard(draft)


def test_the_review_of_a_200k_row_upload_takes_under_a_second(server, make_team_key, tmp_path):
    _, _, key = make_team_key()
    path = exports.mailchimp_csv(tmp_path / "big.csv", 200_000)
    assert path.stat().st_size > 40_000_000
    client = _signed_in(server, key)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/imports/new").text).group(1)
    with path.open("rb") as f:
        r = client.post(
            "/dashboard/imports/upload",
            headers={"accept": "application/json", "x-csrf-token": csrf},
            files={"file": ("big.csv", f, "text/csv")},
        )
    assert r.status_code == 200, r.text
    url = r.json()["review_url"]
    times = []
    for _ in range(3):
        page = client.get(url)
        assert page.status_code == 200 and "LEID" in page.text
        times.append(float(re.search(r"app;dur=([\d.]+)", page.headers["server-timing"]).group(1)))
    # Issue 21 measured 5.5 s; the page now works from the head kept at upload. Generous for a
    # loaded machine: the best of three under a second.
    assert min(times) < 1000, times
    client.close()


def test_a_queued_import_says_what_it_waits_for(server, make_team_key, engine, tmp_path):
    _, team_id, key = make_team_key()
    service = ImportService(engine)
    (tmp_path / "first.csv").write_text("email\na@example.com\n")
    (tmp_path / "second.csv").write_text("email\nb@example.com\n")
    first = service.create(team_id, tmp_path / "first.csv", "first.csv", parse_options({}), "test")
    second = service.create(team_id, tmp_path / "second.csv", "second.csv", parse_options({}), "test")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE contact_imports SET status = 'in_progress', started_at = now() WHERE id = :i"), {"i": first})
    client = _signed_in(server, key)
    status = client.get(f"/dashboard/imports/{second}/status.json").json()
    assert status["progress"]["phase"].startswith("Queued: waiting for your import “first.csv” to finish")
    assert status["queue_position"] == 2
    html = client.get(f"/dashboard/imports/{second}").text
    assert "number 2 in your team&#39;s queue" in html or "number 2 in your team's queue" in html
    client.close()


def test_the_reading_phase_has_an_eta_from_the_real_start():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    row = {"started_at": now - timedelta(seconds=60)}
    assert view.eta(row, 50_000, 200_000, now) == "about 3 min left"
    assert view.eta(row, 190_000, 200_000, now) == "less than a minute left"
    assert view.eta(row, 500, 200_000, now) is None  # no pace yet
    assert view.eta({"started_at": None}, 50_000, 200_000, now) is None
    assert view.queue_words([]).startswith("Queued: waiting for a free run")


def test_counts_move_while_rows_are_read(server, make_team_key, engine, tmp_path):
    _, team_id, key = make_team_key()
    path = exports.mailchimp_csv(tmp_path / "audience.csv", 20_000)
    import_id = ImportService(engine).create(team_id, path, "audience.csv", parse_options({}), "test")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE contact_imports SET status = 'in_progress', phase = 'staging', rows_read = 5000, "
                "started_at = now() - interval '20 seconds' WHERE id = :i"
            ),
            {"i": import_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO contact_import_failures (import_id, row_number, email, reason, data) "
                "SELECT :i, g, 'x', 'invalid email', '{}'::jsonb FROM generate_series(1, 3) g"
            ),
            {"i": import_id},
        )
    client = _signed_in(server, key)
    status = client.get(f"/dashboard/imports/{import_id}/status.json").json()
    assert status["counts"]["total"] == 5000 and status["counts"]["failed"] == 3
    phase = status["progress"]["phase"]
    assert phase.startswith("Reading rows: 5,000 of about 20,") and "min left" in phase, phase
    assert phase.endswith("4,997 valid, 3 failed so far"), phase
    client.close()
