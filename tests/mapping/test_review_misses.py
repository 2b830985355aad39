"""The kinds of header the offline engine used to miss, which people fixed by hand on the review
screen: abbreviated name headers, camelCase compounds, an existing property named in other words,
amounts with currency signs, and consent columns whose polarity is unclear."""

from __future__ import annotations

import polars as pl
import pytest

from roster.mapping.models import ExistingProperty
from roster.mapping.offline import suggest_offline
from schemas.column_map import parse_column_map
from schemas.rows import ROW, validate
from schemas.rules import plain_number

EXISTING = [ExistingProperty("company", "string"), ExistingProperty("ltv", "number")]


def one(header: str, values: list[str], existing=EXISTING):
    return suggest_offline(["Email", header], {"Email": ["a@x.io", "b@x.io"], header: values}, existing)[1]


@pytest.mark.parametrize(
    "header,target",
    [
        ("FirstNm", "first_name"),
        ("Frst Name", "first_name"),
        ("First_N", "first_name"),
        ("F. Name", "first_name"),
        ("fn", "first_name"),
        ("L_Name", "last_name"),
        ("Last Nm", "last_name"),
        ("NAME_LAST", "last_name"),
        ("ln", "last_name"),
        ("custLastName", "last_name"),
    ],
)
def test_abbreviated_name_headers(header, target):
    s = one(header, ["Ann", "Lee", "Kim"])
    assert s.target == target and s.confidence >= 0.9, s


def test_two_letters_are_a_name_part_only_over_names():
    assert one("fn", ["12", "40", "7"]).target == "property"


@pytest.mark.parametrize(
    "header,key",
    [
        ("customerLifetimeValue", "ltv"),
        ("Lifetime Value", "ltv"),
        ("CLV", "ltv"),
        ("Business", "company"),
        ("Workplace", "company"),
        ("employerName", "company"),
    ],
)
def test_an_existing_property_in_other_words(header, key):
    values = ["$1,234.50", "$99.00"] if key == "ltv" else ["Acme", "Initech"]
    s = one(header, values)
    assert (s.target, s.property_key, s.is_new_property) == ("property", key, False), s


@pytest.mark.parametrize(
    "values", [["$1,234.50", "$99.00"], ["1.234,50 €", "12,00 €"], ["USD 1,200.00", "USD 3.50"], ["CHF 1'234.50", "CHF 12.00"]]
)
def test_currency_amounts_are_numbers(values):
    s = one("Total Spent", values)
    assert s.property_type == "number" and "amounts" in s.reason


@pytest.mark.parametrize(
    "text,number",
    [
        ("$1,234.50", "1234.50"),
        ("1.234,50 €", "1234.50"),
        ("EUR 12,00", "12.00"),
        ("-$5.00", "-5.00"),
        ("1 234,5", "1234.5"),
        ("12.5", "12.5"),
        ("1,234", "1234"),
        ("0,99", "0.99"),
        ("1.234.56", None),
        ("12,5%", None),
        ("2024-01-01", None),
        ("abc", None),
        ("$", None),
    ],
)
def test_plain_number(text, number):
    assert plain_number(text) == number


def test_an_import_reads_amounts_into_a_number_property():
    cmap = parse_column_map({"email": "Email", "properties": {"ltv": {"column": "Spent", "type": "number"}}})
    frame = pl.DataFrame({ROW: [1, 2, 3], "Email": ["a@x.io", "b@x.io", "c@x.io"], "Spent": ["$1,234.50", "12", "lots"]})
    out = validate(frame, cmap, ["Email", "Spent"], 1 << 20)
    assert out.rows.get_column("p0").to_list() == ["1234.50", "12"]
    assert [f["row"] for f in out.failures] == [3] and "'lots'" in out.failures[0]["reason"]


@pytest.mark.parametrize(
    "header,values,confidence",
    [
        ("Consent", ["yes", "no"], 0.8),
        ("GDPR", ["yes", "no"], 0.8),
        ("Marketing", ["true", "false"], 0.8),
        ("Can Email", ["yes", "no"], 0.9),
        ("Newsletter", ["yes", "no"], 0.9),
    ],
)
def test_consent_columns_read_as_opt_in_and_unclear_ones_flagged(header, values, confidence):
    s = one(header, values)
    assert (s.target, s.invert, s.confidence) == ("unsubscribed", True, confidence), s
    if confidence < 0.9:
        assert "check" in s.reason


def test_consent_values_say_the_polarity():
    s = one("Email Permission", ["granted", "denied", "granted"])
    assert (s.target, s.invert) == ("unsubscribed", True)
    assert one("Do Not Email", ["yes", "no"]).invert is False
