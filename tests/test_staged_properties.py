"""Staging writes each row's properties as JSON text and an id for the contact (roster/store/staging.py):
PostgreSQL must read that JSON to exactly the jsonb the merge used to build itself, with
jsonb_strip_nulls(jsonb_build_object(key, value, ..., key, number::numeric)), whatever the values."""

from __future__ import annotations

import uuid

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster.store import staging
from schemas import rules
from schemas.rows import PropertyField

PROPS = [
    PropertyField('k "quoted" \\ ü', "string", "c0", "p0"),
    PropertyField("n", "number", "c1", "p1"),
    PropertyField("b", "boolean", "c2", "p2"),
    PropertyField("z", "string", "c3", "p3"),
]
# Every form NUMBER_PATTERN lets through, and amounts as rules.plain_number writes them.
NUMBERS = ["0", "-0", "+0", "007", "-007", "+.5", ".5", "-.5", "5.", "-5.", "5.e3", "5.E-3", "00.5", "0.0", "000", "1e5"]
NUMBERS += ["1E+05", "1e-005", "-1.2300e2", "123456789012345678901234567890.123456789", "0.", "1.10", "-0.000", "1234.50"]
STRINGS = ["plain", 'a "quote"', "back\\slash", "new\nline", "cr\r\nlf", "tab\t", "ctl\x01\x1f", "del\x7f", "ünï 😀"]
STRINGS += ["\u2028", "{}", "null", "true", " spaced ", "'", ",", "\\u0041", "\x01quote-char"]


def _old_jsonb(conn: sa.Connection, row: dict[str, str | None]) -> str:
    sql = (
        "SELECT jsonb_strip_nulls(jsonb_build_object(CAST(:k0 AS text), CAST(:p0 AS text), 'n', CAST(:p1 AS numeric), "
        "'b', CAST(:p2 AS text), 'z', CAST(:p3 AS text)))::text"
    )
    return str(conn.execute(sa.text(sql), {"k0": PROPS[0].key, **row}).scalar_one())


def _check(engine: sa.Engine, rows: list[dict[str, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema={p.staged: pl.String for p in PROPS})
    texts = frame.select(staging.properties_json(frame, PROPS)).to_series().to_list()
    with engine.connect() as conn:
        for row, text in zip(rows, texts, strict=True):
            new = conn.execute(sa.text("SELECT CAST(:j AS jsonb)::text"), {"j": text}).scalar_one()
            assert new == _old_jsonb(conn, row), (row, text)  # as text: a number's scale counts ("1.10")


@pytest.mark.parametrize("blanks", [True, False], ids=["with blank cells", "no blank cell"])
def test_the_staged_json_reads_as_the_merge_built_it(engine, blanks):
    rows: list[dict[str, str | None]] = []
    for i, number in enumerate(NUMBERS):
        assert rules.is_number(number), number
        for j, text in enumerate(STRINGS):
            blank = blanks and (i + j) % 3 == 0
            rows.append(
                {
                    "p0": None if blank else text,
                    "p1": None if blanks and j % 4 == 1 else number,
                    "p2": "true",
                    "p3": STRINGS[-1 - j],
                }
            )
    if blanks:
        rows.append({"p0": None, "p1": None, "p2": None, "p3": None})
    _check(engine, rows)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # the engine only reads
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1)),
            st.one_of(
                st.none(), st.from_regex(r"[+-]?([0-9]{1,8}\.?[0-9]{0,8}|\.[0-9]{1,8})([eE][+-]?[0-9]{1,3})?", fullmatch=True)
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_any_text_and_number_read_as_the_merge_built_them(engine, cells):
    _check(engine, [{"p0": text, "p1": number, "p2": None, "p3": text} for text, number in cells])


def test_no_properties_stage_an_empty_object():
    frame = pl.DataFrame({"x": [1, 2]})
    assert frame.select("x", staging.properties_json(frame, [])).get_column("properties").to_list() == ["{}", "{}"]


def test_new_ids_are_random_version_4_uuids():
    ids = staging.new_ids(10_000).to_list()
    assert len(set(ids)) == 10_000
    for text in ids[:100]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert staging.new_ids(0).to_list() == []
