"""One set of data rules: whatever a mapping engine calls an email, a number or a yes/no value,
the row validator imports (schemas/rules.py is the only place either learns it from)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from roster.mapping.values import is_email, is_number, parse_bool, parse_subscription_status
from schemas import rules
from schemas.column_map import ColumnMap
from schemas.rows import ROW, validate

MAP = ColumnMap.model_validate(
    {
        "email": "email",
        "unsubscribed": "flag",
        "properties": {"n": {"column": "n", "type": "number"}, "b": {"column": "b", "type": "boolean"}},
    }
)
HEADERS = ["email", "flag", "n", "b"]


def _failures(email="a@b.co", flag="", n="", b="") -> list[str]:
    frame = pl.DataFrame(
        {ROW: [1], "email": [email], "flag": [flag], "n": [n], "b": [b]},
        schema={ROW: pl.Int64, "email": pl.String, "flag": pl.String, "n": pl.String, "b": pl.String},
    )
    return [f["reason"] for f in validate(frame, MAP, HEADERS, 1 << 20).failures]


WORDS = sorted(rules.YES_WORDS | rules.NO_WORDS | rules.SUBSCRIBED_WORDS | rules.UNSUBSCRIBED_WORDS)
# As exports spell them: case, accents, spaces and dashes for underscores, a trailing stop.
SPELLINGS = (
    [w.upper() for w in WORDS]
    + [w.replace("_", " ") for w in WORDS]
    + [w.replace("_", "-") for w in WORDS]
    + ["Sí", "NÃO", "Désabonné", "Opt-In.", "double opt-in", "Never Subscribed", " yes ", "ＹＥＳ"]
)


def test_every_boolean_word_the_engines_read_imports_as_the_same_boolean():
    for word in WORDS + SPELLINGS:
        meant = parse_bool(word)
        meant = meant if meant is not None else parse_subscription_status(word)
        assert meant is not None, word
        assert _failures(flag=word, b=word) == [], word
        assert rules.as_boolean(word) is meant


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcAZ09._+-@ éß", min_size=1, max_size=40))
def test_what_the_engines_call_an_email_imports(value):
    if is_email(value.strip()):
        assert _failures(email=value) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.+-eE ", min_size=1, max_size=30))
def test_what_the_engines_call_a_number_imports(value):
    if is_number(value.strip()):
        assert _failures(n=value) == []


def test_the_api_and_the_importer_take_the_same_emails():
    for value in ["a@b.co", "x" * 320 + "@b.co", "no-at-sign", "a@b", "a b@c.de", "ΑΣ@look.example"]:
        assert (rules.email_problem(value) is None) == (_failures(email=value) == [])
