"""Exports from other tools: their bookkeeping columns (ids, logged IPs, offsets, internal
timestamps, ratings) are left out with a reason; the contact's own columns are mapped; a column of
country codes becomes the country (issue 21)."""

from __future__ import annotations

import pytest

from roster.mapping.models import ExistingProperty
from roster.mapping.offline import suggest_offline
from roster.mapping.system_columns import system_column, tools_of
from tests import exports


def by_column(headers, rows, existing=()):
    return {s.column: s for s in suggest_offline(headers, exports.samples(headers, rows), list(existing))}


def test_a_mailchimp_export_keeps_the_contact_and_leaves_out_the_bookkeeping():
    got = by_column(exports.MAILCHIMP_HEADERS, exports.mailchimp_rows(50))
    ignored = {c for c, s in got.items() if s.target == "ignore"}
    assert ignored == set(exports.MAILCHIMP_HEADERS) - exports.MAILCHIMP_KEPT
    for c in ignored:
        assert "Mailchimp" in got[c].reason and "left out" in got[c].reason, got[c]
    assert got["Email Address"].target == "email"
    assert (got["First Name"].target, got["Last Name"].target) == ("first_name", "last_name")
    assert (got["CC"].target, got["CC"].property_key, got["CC"].property_type) == ("property", "country", "string")
    assert "country codes" in got["CC"].reason


def test_a_hubspot_export_keeps_the_contact_and_leaves_out_the_bookkeeping():
    got = by_column(exports.HUBSPOT_HEADERS, exports.hubspot_rows(50), [ExistingProperty("company", "string")])
    ignored = {c for c, s in got.items() if s.target == "ignore"}
    assert ignored == exports.HUBSPOT_IGNORED
    assert all("HubSpot" in got[c].reason for c in ignored)
    assert got["Email"].target == "email"
    assert got["Company Name"].property_key == "company" and not got["Company Name"].is_new_property
    # The country column is the country; no second `country` from the IP's country code.
    assert got["Country/Region"].property_key.startswith("country")


@pytest.mark.parametrize(
    "header, tool",
    [
        ("LEID", "Mailchimp"),
        ("CONFIRM_IP", "Mailchimp"),
        ("Record ID", "HubSpot"),
        ("Last Activity Date", "HubSpot"),
        ("Klaviyo ID", "Klaviyo"),
        ("Profile Created On", "Klaviyo"),
        ("ADDED_TIME", "Brevo"),
        ("CONTACT ID", "Brevo"),
        ("Date Created", "ActiveCampaign"),
        ("CONTACT_ID", "SendGrid"),
        ("CREATED_AT", "SendGrid"),
        ("SystemModstamp", "Salesforce"),
        ("CreatedById", "Salesforce"),
        ("Created At", "Constant Contact"),
        ("IP Address", "an email tool"),
    ],
)
def test_each_tools_bookkeeping_is_known(header, tool):
    found = system_column(header)
    assert found is not None and tool in found.tools
    s = suggest_offline(["Email", header], {"Email": ["a@x.io"], header: ["x"]}, [])[1]
    assert s.target == "ignore" and tool in s.reason


def test_ambiguous_names_are_bookkeeping_only_in_that_tools_export():
    # A bare "Id" or "TIMEZONE" may be the team's own data; in a Salesforce/Mailchimp export it is not.
    assert system_column("Id") is None and system_column("TIMEZONE") is None
    assert tools_of(["Id", "Email", "CreatedDate", "SystemModstamp"]) == {"Salesforce"}
    sf = suggest_offline(
        ["Id", "Email", "CreatedDate", "SystemModstamp"],
        {"Id": ["0035g00000AbCdEAAZ"], "Email": ["a@x.io"], "CreatedDate": ["2024-01-01"], "SystemModstamp": ["x"]},
        [],
    )
    assert [s.target for s in sf] == ["ignore", "email", "ignore", "ignore"]
    plain = suggest_offline(["Email", "Id"], {"Email": ["a@x.io"], "Id": ["1"]}, [])
    assert plain[1].target == "property"


def test_a_team_property_of_that_exact_name_still_takes_the_column():
    s = suggest_offline(
        ["Email", "MEMBER_RATING"], {"Email": ["a@x.io"], "MEMBER_RATING": ["3"]}, [ExistingProperty("member_rating", "number")]
    )[1]
    assert (s.target, s.property_key) == ("property", "member_rating")


def test_roster_error_column_of_a_failed_rows_download_is_left_out():
    s = suggest_offline(["Email", "roster_error"], {"Email": ["a@x.io"], "roster_error": ["row 3: invalid email"]}, [])[1]
    assert s.target == "ignore" and "failed-rows" in s.reason


def test_country_codes_do_not_take_country_when_the_file_has_a_country_column():
    got = suggest_offline(
        ["Email", "CC", "Country"],
        {"Email": ["a@x.io"] * 3, "CC": ["FR", "DE", "ES"], "Country": ["France", "Germany", "Spain"]},
        [],
    )
    assert got[2].property_key == "country" and got[1].property_key == "cc"
