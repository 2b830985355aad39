"""Over the API, a file's headers and values reach the mapping model only with consent: the
caller's `model_mapping`, else the team's setting. A configured key alone is not consent, nor is
`auto_map` (FAULTS/issue 12: the values went to OpenAI although nobody asked)."""

from __future__ import annotations

import pytest

from tests.api.conftest import csv_bytes, wait_done
from tests.mapping.fake_openai import FakeOpenAI, item

# No header is named `email`: Resend would refuse this file, so Roster's mapping decides.
HEADER = ["E-Mail-Adresse", "Vorname", "Stadt"]
CONTENT = csv_bytes(HEADER, [["ann@example.com", "Ann", "Berlin"]])


@pytest.fixture
def fake_model(monkeypatch):
    with FakeOpenAI() as fake:
        fake.answer = lambda body: {
            "columns": [item("E-Mail-Adresse", "email"), item("Vorname", "first_name"), item("Stadt", "ignore")]
        }
        # The API runs in this process and inline imports in its children: both read these.
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.delenv("ROSTER_MAPPING_ENGINE", raising=False)
        monkeypatch.delenv("ROSTER_MAPPING_MODEL_OPT_IN", raising=False)
        yield fake


def _import(http, **fields) -> dict:
    r = http.post("/contacts/imports", files={"file": ("people.csv", CONTENT, "text/csv")}, data=fields)
    assert r.status_code == 201, r.text
    done = wait_done(http, r.json()["id"])
    assert done["status"] == "completed" and done["counts"]["created"] + done["counts"]["updated"] == 1, done
    return done


def _suggest(http, **fields) -> dict:
    r = http.post("/contacts/imports/column-map", files={"file": ("people.csv", CONTENT, "text/csv")}, data=fields)
    assert r.status_code == 200, r.text
    return r.json()


def test_no_consent_no_request(http, fake_model):
    _import(http)
    _import(http, auto_map="true")
    body = _suggest(http)
    assert {s["engine"] for s in body["suggestions"]} == {"offline"}
    assert any("model_mapping" in n for n in body["notes"])
    assert fake_model.requests == []


def test_the_callers_consent(http, fake_model):
    _import(http, model_mapping="true")
    assert len(fake_model.requests) == 1
    sent = str(fake_model.requests[0]["body"])
    assert "E-Mail-Adresse" in sent
    body = _suggest(http, model_mapping="true")
    assert len(fake_model.requests) == 2 and body["suggestions"][0]["engine"] == "openai"
    assert (
        http.post(
            "/contacts/imports", files={"file": ("p.csv", CONTENT, "text/csv")}, data={"model_mapping": "perhaps"}
        ).status_code
        == 422
    )


def test_the_teams_consent_and_the_callers_no(http, fake_model, engine):
    import sqlalchemy as sa

    from roster.mapping.consent import set_team_opt_in

    seg = http.post("/segments", json={"name": "probe"}).json()
    with engine.connect() as conn:
        team_id = conn.execute(sa.text("SELECT team_id FROM segments WHERE id = :i"), {"i": seg["id"]}).scalar_one()
    set_team_opt_in(engine, team_id, True)
    _suggest(http)
    assert len(fake_model.requests) == 1
    _suggest(http, model_mapping="false")
    _import(http, model_mapping="false")
    assert len(fake_model.requests) == 1
