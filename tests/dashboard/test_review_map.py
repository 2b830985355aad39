"""The review form read back as a column map, and the session cookie, without a server."""

from __future__ import annotations

import time

import pytest

from roster.dashboard import review, sessions

HEADERS = ["Mail", "Vorname", "Firma", "Opt-in", "Notes"]


def test_the_reviewed_rows_become_the_import_apis_column_map():
    form = {
        "target_0": "email",
        "include_0": "on",
        "target_1": "first_name",
        "include_1": "on",
        "target_2": "property:company",
        "include_2": "on",
        "target_3": "unsubscribed",
        "include_3": "on",
        "invert_3": "on",
        "target_4": "new",
        "new_key_4": "notes",
        "new_type_4": "string",
    }
    cmap, problems = review.column_map_from_form(form, HEADERS, {"company": "string"})
    assert problems == []
    assert cmap == {
        "email": "Mail",
        "first_name": "Vorname",
        "unsubscribed": {"column": "Opt-in", "invert": True},
        "properties": {"company": {"column": "Firma", "type": "string"}},
    }  # Notes: not included


def test_the_review_says_what_is_wrong():
    form = {
        "target_0": "first_name",
        "include_0": "on",
        "target_1": "first_name",
        "include_1": "on",
        "target_2": "new",
        "include_2": "on",
        "new_key_2": "bad key!",
        "target_3": "new",
        "include_3": "on",
        "new_key_3": "company",
        "new_type_3": "number",
    }
    _, problems = review.column_map_from_form(form, HEADERS, {"company": "string"})
    text = " | ".join(problems)
    assert "first_name is chosen for both" in text and "'bad key!' is invalid" in text
    assert "exists already, as a string" in text and "email address" in text


def test_rows_for_marks_weak_suggestions_and_new_properties():
    suggestions = [
        {
            "column": "Mail",
            "target": "email",
            "property_key": None,
            "property_type": None,
            "invert": False,
            "confidence": 0.99,
            "reason": "r",
            "engine": "offline",
        },
        {
            "column": "LTV",
            "target": "property",
            "property_key": "ltv",
            "property_type": "number",
            "invert": False,
            "confidence": 0.6,
            "reason": "r",
            "engine": "offline",
        },
    ]
    rows = review.rows_for(suggestions, {"Mail": ["a@x.io", ""]}, {})
    assert rows[0]["choice"] == "email" and not rows[0]["needs_review"] and rows[0]["samples"] == ["a@x.io"]
    # A new property named after its header is what it says: not "check" (issue 21: 18 of 21
    # Mailchimp columns were flagged, so the flag meant little).
    assert rows[1]["choice"] == "new" and rows[1]["new_key"] == "ltv" and not rows[1]["needs_review"]


@pytest.mark.parametrize(
    "choice, confidence, check",
    [
        ("email", 0.99, False),
        ("email", 0.85, True),  # a contact field from values alone: could overwrite the wrong field
        ("property:company", 0.8, True),  # an existing property by a similar spelling
        ("property:company", 0.97, False),
        ("new", 0.6, False),
        ("new", 0.4, True),  # an empty column: the engine is guessing
        ("ignore", 0.3, False),
    ],
)
def test_check_only_where_the_engine_is_unsure(choice, confidence, check):
    assert review.needs_review(choice, confidence) is check


def test_a_summary_counts_what_the_import_will_do():
    rows = [
        {"choice": "email", "include": True, "needs_review": False},
        {"choice": "new", "include": True, "needs_review": False},
        {"choice": "new", "include": False, "needs_review": False},
        {"choice": "property:plan", "include": True, "needs_review": True},
        {"choice": "ignore", "include": True, "needs_review": False},
    ]
    got = {k: len(v) for k, v in review.summary(rows).items()}
    assert got == {"fields": 1, "existing": 1, "new": 1, "ignored": 2, "check": 1}


def test_an_upload_with_no_rows_or_no_email_is_refused_with_its_reason():
    assert "no rows of contacts" in review.refusal({"headers": ["email"], "rows": []}, "x.csv")
    no_email = review.refusal({"headers": ["Name", "Phone"], "rows": [["Ann", "+1 555"]]}, "x.csv")
    assert "No column" in no_email and "Name, Phone" in no_email
    assert review.refusal({"headers": ["Contact"], "rows": [["ann@example.com"]]}, "x.csv") is None


def test_a_session_cookie_is_signed_and_expires(tmp_path, monkeypatch):
    monkeypatch.setenv("ROSTER_SESSION_SECRET", "s3cret")
    value = sessions.issue("key-id", 7)
    assert sessions.read(value)["t"] == 7
    assert sessions.read(value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert sessions.read(value, now=time.time() + sessions.LIFETIME_SECONDS + 1) is None
    assert sessions.csrf_ok(value, sessions.csrf_token(value)) and not sessions.csrf_ok(value, "x")
    monkeypatch.setenv("ROSTER_SESSION_SECRET", "another")
    assert sessions.read(value) is None


def test_email_checks_count_blank_invalid_and_repeated_addresses():
    rows = [["a@x.io", "1"], ["", "2"], ["nope", "3"], ["A@x.io", "4"], ["b@x.io"]]
    assert review.email_checks(["Mail", "n"], rows, "Mail") == {
        "column": "Mail",
        "rows": 5,
        "missing": 1,
        "invalid": 1,
        "duplicates": 1,
    }
    assert review.email_checks(["Mail"], rows, None) is None
