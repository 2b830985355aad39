"""The model engine with the real `openai` client against a local OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from roster.mapping import ExistingProperty
from roster.mapping.engine import suggest
from roster.mapping.openai_engine import OpenAISettings
from roster.mapping.shapes import describe_values, shape
from tests.mapping.fake_openai import FakeOpenAI, item

HEADERS = ["E-mail", "Vorname", "Nachname", "Newsletter", "PLZ", "Tarif"]
SAMPLES = {
    "E-mail": ["ada@example.com", "alan@acme.io", "grace@proton.me"],
    "Vorname": ["Ada", "Alan", "Grace"],
    "Nachname": ["Lovelace", "Turing", "Hopper"],
    "Newsletter": ["ja", "nein", "ja"],
    "PLZ": ["01234", "80331", "10115"],
    "Tarif": ["pro", "free", "pro"],
}
EXISTING = [ExistingProperty("plan", "string"), ExistingProperty("score", "number")]
GOOD = {
    "columns": [
        item("E-mail", "email", confidence=0.99),
        item("Vorname", "first_name"),
        item("Nachname", "last_name"),
        item("Newsletter", "unsubscribed", invert=True, reason="newsletter consent, inverted"),
        item("PLZ", "property", "postal_code", "string"),
        item("Tarif", "property", "plan", "string", reason="Tarif is the plan"),
    ]
}


@pytest.fixture
def fake(monkeypatch):
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("ROSTER_OPENAI_MODEL", "test-model")
        monkeypatch.delenv("ROSTER_MAPPING_SHARE_VALUES", raising=False)
        monkeypatch.delenv("ROSTER_MAPPING_ENGINE", raising=False)
        monkeypatch.setenv("ROSTER_MAPPING_TIMEOUT", "5")
        yield server


def by_column(outcome):
    return {s.column: s for s in outcome.suggestions}


def test_request_shape_and_a_good_answer_is_used(fake):
    fake.answer = lambda body: GOOD
    out = by_column(suggest(HEADERS, SAMPLES, EXISTING))
    assert len(fake.requests) == 1  # one request per file
    req = fake.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "test-model"
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    schema = rf["json_schema"]["schema"]
    assert schema["required"] == ["columns"] and schema["additionalProperties"] is False
    items = schema["properties"]["columns"]["items"]
    assert items["additionalProperties"] is False
    assert set(items["required"]) == {"column", "target", "property_key", "property_type", "invert", "confidence", "reason"}
    assert items["properties"]["column"]["enum"] == HEADERS
    user = json.loads(body["messages"][-1]["content"])
    assert [c["column"] for c in user["columns"]] == HEADERS
    assert user["columns"][0]["sample_values"] == SAMPLES["E-mail"]
    assert user["existing_properties"] == [{"key": "plan", "type": "string"}, {"key": "score", "type": "number"}]

    assert {s.engine for s in out.values()} == {"openai"}
    assert out["E-mail"].target == "email" and out["E-mail"].confidence == 0.99
    assert out["Newsletter"].target == "unsubscribed" and out["Newsletter"].invert
    assert out["Tarif"].property_key == "plan" and not out["Tarif"].is_new_property
    assert out["PLZ"].property_key == "postal_code" and out["PLZ"].is_new_property
    assert out["Tarif"].reason == "Tarif is the plan"


def test_share_values_off_sends_shapes_never_values(fake, monkeypatch):
    monkeypatch.setenv("ROSTER_MAPPING_SHARE_VALUES", "0")
    fake.answer = lambda body: GOOD
    suggest(HEADERS, SAMPLES, EXISTING)
    raw = json.dumps(fake.requests[0]["body"], ensure_ascii=False)
    user = fake.requests[0]["body"]["messages"][-1]["content"]
    for values in SAMPLES.values():
        for v in values:
            assert json.dumps(v, ensure_ascii=False) not in raw, v  # not as a JSON string anywhere
            assert json.dumps(v, ensure_ascii=False) not in user, v  # nor inside the JSON-encoded message
            if len(v) >= 5:
                assert v not in raw, v
    for h in HEADERS:
        assert h in raw
    cols = {c["column"]: c for c in json.loads(fake.requests[0]["body"]["messages"][-1]["content"])["columns"]}
    assert "sample_values" not in cols["E-mail"]
    assert cols["E-mail"]["value_shapes"] == ["email-like x3"]
    assert "digits(5) leading zero" in cols["PLZ"]["value_shapes"]
    assert cols["Newsletter"]["value_shapes"] == ["yes/no x3"]


def test_hallucinated_and_malformed_items_are_dropped_and_filled_offline(fake):
    fake.answer = lambda body: {
        "columns": [
            item("E-mail", "email"),
            item("Phone Number", "property", "phone", "string"),  # no such header
            item("Vorname", "email", confidence=0.5),  # duplicate target (and not emails)
            item("Nachname", "property", "last name!", "string"),  # invalid key
            item("Tarif", "property", "plan", "number"),  # plan exists as a string
            item("PLZ", "property", "zip", "number"),  # "01234" is not a quantity... but digits: allowed
            item("Newsletter", "property", "newsletter", "date"),  # impossible type
        ]
    }
    outcome = suggest(HEADERS, SAMPLES, EXISTING)
    out = by_column(outcome)
    assert [s.column for s in outcome.suggestions] == HEADERS
    assert out["E-mail"].engine == "openai" and out["E-mail"].target == "email"
    assert out["Vorname"].engine == "offline" and out["Vorname"].target == "first_name"
    assert out["Nachname"].engine == "offline" and out["Nachname"].target == "last_name"
    assert out["Tarif"].engine == "offline" and out["Tarif"].property_key == "plan"
    assert out["Newsletter"].engine == "offline" and out["Newsletter"].target == "unsubscribed" and out["Newsletter"].invert
    dropped = " ".join(outcome.notes)
    for why in ("no such header", "invalid property key", "exists as a string", "impossible property type"):
        assert why in dropped


def test_number_type_for_text_values_is_dropped(fake):
    fake.answer = lambda body: {"columns": [item("Tarif", "property", "tier", "number"), item("E-mail", "email")]}
    out = by_column(suggest(HEADERS, SAMPLES, EXISTING))
    assert out["Tarif"].engine == "offline" and out["Tarif"].property_type == "string"


def test_duplicate_targets_keep_the_most_confident(fake):
    fake.answer = lambda body: {
        "columns": [
            item("Vorname", "property", "plan", "string", confidence=0.4),
            item("Tarif", "property", "plan", "string", confidence=0.95),
            item("E-mail", "email"),
        ]
    }
    outcome = suggest(HEADERS, SAMPLES, EXISTING)
    out = by_column(outcome)
    assert out["Tarif"].engine == "openai" and out["Tarif"].property_key == "plan"
    assert out["Vorname"].engine == "offline" and out["Vorname"].target == "first_name"
    assert "duplicate target property:plan" in " ".join(outcome.notes)


@pytest.mark.parametrize("answer", ["not json at all", {"cols": []}, None])
def test_malformed_answer_or_server_error_falls_back_to_offline(fake, answer):
    fake.answer = lambda body: answer
    outcome = suggest(HEADERS, SAMPLES, EXISTING)
    assert len(fake.requests) == 1  # no retries
    assert {s.engine for s in outcome.suggestions} == {"offline"}
    assert by_column(outcome)["E-mail"].target == "email"
    assert outcome.notes and "offline engine answered instead" in outcome.notes[0]


def test_timeout_falls_back_to_offline(fake, monkeypatch):
    import time

    fake.delay = 3
    fake.answer = lambda body: GOOD
    start = time.monotonic()
    outcome = suggest(HEADERS, SAMPLES, EXISTING, openai_settings=OpenAISettings.from_env(timeout=0.5))
    assert time.monotonic() - start < 2.5
    assert {s.engine for s in outcome.suggestions} == {"offline"}
    assert "did not answer within 0.5s" in outcome.notes[0]


def test_no_key_means_offline_and_no_request(fake, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.answer = lambda body: GOOD
    outcome = suggest(HEADERS, SAMPLES, EXISTING)
    assert fake.requests == []
    assert {s.engine for s in outcome.suggestions} == {"offline"}


def test_engine_offline_never_asks(fake):
    outcome = suggest(HEADERS, SAMPLES, EXISTING, engine="offline")
    assert fake.requests == [] and {s.engine for s in outcome.suggestions} == {"offline"}


def test_left_out_columns_are_filled_offline_without_taking_the_models_fields(fake):
    # The model puts PLZ on "plan"; the offline engine wanted "plan" for Tarif, so Tarif must not take it.
    fake.answer = lambda body: {"columns": [item("E-mail", "email"), item("PLZ", "property", "plan", "string")]}
    out = by_column(suggest(HEADERS, SAMPLES, EXISTING))
    assert out["PLZ"].engine == "openai" and out["PLZ"].property_key == "plan"
    assert out["Tarif"].engine == "offline" and out["Tarif"].target == "ignore"
    targets = [s.property_key for s in out.values() if s.target == "property"]
    assert len(targets) == len(set(targets))


def test_memory_wins_over_the_model(fake):
    remembered = {"email": "E-mail", "properties": {"tier": {"column": "Tarif", "type": "string"}}}
    outcome = suggest(HEADERS, SAMPLES, EXISTING, remembered=remembered)
    out = by_column(outcome)
    assert fake.requests == []
    assert {s.engine for s in out.values()} == {"memory"}
    assert out["Tarif"].property_key == "tier" and out["Vorname"].target == "ignore"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("ada@example.com", "email-like"),
        ("01234", "digits(5) leading zero"),
        ("80331", "digits(5)"),
        ("Yes", "yes/no"),
        ("nein", "yes/no"),
        ("1", "0/1"),
        ("SUBSCRIBED", "subscribed/unsubscribed status"),
        ("2024-01-31", "date"),
        ("+49 30 1234567", "phone-like"),
        ("Lovelace", "text(8)"),
        ("Ada Lovelace", "text 2 words(12)"),
        ("DE", "two capital letters"),
        ("12.5", "decimal number"),
    ],
)
def test_shapes(value, expected):
    assert shape(value) == expected


def test_describe_values_counts_shapes():
    assert describe_values(["a@b.io", "c@d.io", "", "q"]) == ["email-like x2", "text(1)"]


def test_a_new_property_for_an_export_tools_bookkeeping_stays_left_out(fake):
    headers = ["Email Address", "LEID", "OPTIN_IP", "MEMBER_RATING"]
    samples = {"Email Address": ["a@x.io", "b@x.io"], "LEID": ["1", "2"], "OPTIN_IP": ["1.2.3.4"], "MEMBER_RATING": ["3"]}
    fake.answer = lambda body: {
        "columns": [
            item("Email Address", "email", confidence=0.99),
            item("LEID", "property", "leid", "string"),
            item("OPTIN_IP", "property", "optin_ip", "string"),
            item("MEMBER_RATING", "property", "score", "number"),  # an existing property: the model's call stands
        ]
    }
    out = by_column(suggest(headers, samples, EXISTING))
    assert out["LEID"].target == "ignore" and out["OPTIN_IP"].target == "ignore" and "Mailchimp" in out["LEID"].reason
    assert out["MEMBER_RATING"].engine == "openai" and out["MEMBER_RATING"].property_key == "score"
