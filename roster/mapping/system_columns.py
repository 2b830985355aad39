"""Columns an export adds about its own records: the tool's ids, the IP addresses it logged, the
time-zone offsets and locations it guessed, its internal timestamps and ratings. They describe the
old tool's bookkeeping, not the contact, so the engines suggest leaving them out (with a reason a
person can overrule on the review screen) instead of making each one a new property.

Headers are compared squashed ("OPTIN_IP", "Optin IP" and "optinIp" are one header). A few names
are only the tool's own when the file is plainly that tool's export (Mailchimp's TIMEZONE or
LATITUDE, Salesforce's bare `Id`): those count only when two of the tool's unambiguous columns are
in the same file.

Also here: Roster's own error column in a failed-rows download (`roster_error`), which a re-upload
of that file ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

from .normalize import squash

# The one column Roster adds to a failed-rows download (roster/importing/failed_rows.py).
ERROR_COLUMN = "roster_error"

# Columns that any email tool may add, named after no tool in particular.
GENERIC = "an email tool"

KINDS = {
    "id": "its own record id",
    "ip": "an IP address it logged at sign-up or confirmation",
    "offset": "a time-zone offset it derived from the IP address",
    "geo": "a location it guessed from the IP address",
    "zone": "a time zone it guessed from the IP address",
    "timestamp": "one of its internal timestamps",
    "rating": "its own engagement rating",
    "owner": "one of its users (the record's owner)",
    "system": "one of its internal fields",
}

# tool -> kind -> headers that name that kind of column in the tool's exports, whatever file they are in.
ALWAYS: dict[str, dict[str, list[str]]] = {
    "Mailchimp": {
        "id": ["LEID", "EUID", "Unique Email ID", "Web ID"],
        "ip": ["OPTIN_IP", "CONFIRM_IP"],
        "offset": ["GMTOFF", "DSTOFF"],
        "timestamp": ["OPTIN_TIME", "CONFIRM_TIME", "LAST_CHANGED"],
        "rating": ["MEMBER_RATING"],
    },
    "HubSpot": {
        "id": ["Record ID", "Associated Company ID", "Associated Company IDs", "Associated Deal IDs", "HubSpot ID"],
        "timestamp": [
            "Create Date",
            "Last Activity Date",
            "Last Modified Date",
            "Last Contacted",
            "Last Engagement Date",
            "Became a Lead Date",
            "Became a Subscriber Date",
            "Time of Last Session",
            "Time of First Session",
            "First Conversion Date",
            "Recent Conversion Date",
        ],
        "geo": ["IP Country", "IP Country Code", "IP City", "IP State/Region", "IP State Code", "IP Timezone"],
    },
    "Klaviyo": {
        "id": ["Klaviyo ID", "Profile ID"],
        "timestamp": [
            "Profile Created On",
            "Date Added",
            "Last Open",
            "Last Click",
            "Last Active",
            "Email Marketing Consent Timestamp",
            "SMS Consent Timestamp",
        ],
        "rating": ["Predicted Customer Lifetime Value", "Churn Risk Prediction"],
    },
    "Brevo": {
        "id": ["CONTACT ID"],
        "timestamp": ["ADDED_TIME", "MODIFIED_TIME", "LAST_CHANGED_TIME"],
    },
    "ActiveCampaign": {
        "id": ["Subscriber ID", "Contact Id"],
        "timestamp": ["Date Created", "Date Updated", "Last Engagement"],
        "rating": ["Contact Score", "Engagement Score"],
    },
    "SendGrid": {
        "id": ["CONTACT_ID"],
        "timestamp": ["CREATED_AT", "UPDATED_AT"],
    },
    "Salesforce": {
        "id": ["CreatedById", "LastModifiedById", "MasterRecordId"],
        "timestamp": [
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
            "LastActivityDate",
            "LastViewedDate",
            "LastReferencedDate",
            "LastCURequestDate",
            "LastCUUpdateDate",
        ],
        "system": ["IsDeleted", "PhotoUrl", "Jigsaw", "JigsawContactId"],
    },
    "Constant Contact": {
        "timestamp": ["Created At", "Updated At", "Email Permission Status Updated At"],
        "system": ["Email Update Source", "Source Name"],
    },
    GENERIC: {
        "ip": ["IP Address", "IP", "Signup IP", "Confirmation IP", "IPv4", "IPv6"],
        "offset": ["GMT Offset", "UTC Offset", "DST Offset"],
    },
}

# tool -> kind -> headers that are the tool's own only in a file that is plainly its export.
IN_ITS_EXPORT: dict[str, dict[str, list[str]]] = {
    "Mailchimp": {"geo": ["LATITUDE", "LONGITUDE"], "zone": ["TIMEZONE"]},
    "Salesforce": {"id": ["Id", "OwnerId", "AccountId", "ReportsToId", "IndividualId"]},
}


@dataclass(frozen=True)
class SystemColumn:
    tools: tuple[str, ...]  # the tools whose exports have this column (several use "Contact ID")
    kind: str

    def reason(self, header: str) -> str:
        whose = " or ".join(f"{tool}'s" for tool in self.tools)
        return (
            f"'{header}' is {whose} bookkeeping ({KINDS[self.kind]}), not something about the contact: "
            f"left out; choose a target to import it anyway"
        )


def _table(source: dict[str, dict[str, list[str]]]) -> dict[str, SystemColumn]:
    out: dict[str, SystemColumn] = {}
    for tool, kinds in source.items():
        for kind, headers in kinds.items():
            for h in headers:
                seen = out.get(squash(h))
                out[squash(h)] = SystemColumn((*seen.tools, tool) if seen else (tool,), seen.kind if seen else kind)
    return out


_ALWAYS = _table(ALWAYS)
_IN_EXPORT = _table(IN_ITS_EXPORT)


def tools_of(headers: list[str]) -> set[str]:
    """The tools a file is plainly an export of: two or more of their unambiguous columns."""
    found: dict[str, int] = {}
    for h in {squash(h) for h in headers}:
        for tool in _ALWAYS[h].tools if h in _ALWAYS else ():
            found[tool] = found.get(tool, 0) + 1
    return {tool for tool, n in found.items() if n >= 2 and tool != GENERIC}


def system_column(header: str, tools: set[str] | frozenset[str] = frozenset()) -> SystemColumn | None:
    """What kind of tool column `header` is, or None for a column about the contact."""
    key = squash(header)
    hit = _ALWAYS.get(key)
    if hit:
        return hit
    hit = _IN_EXPORT.get(key)
    return hit if hit and set(hit.tools) & set(tools) else None


def is_error_column(header: str) -> bool:
    return header.strip().lower() == ERROR_COLUMN
