"""The mapping review: the engine's suggestions as rows a person can change, and the rows they
sent back as the column map the import API takes. Nothing here maps a column by itself: the
suggestions come from roster/mapping, and the map goes to the import service like any other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roster.mapping.service import SuggestionObject
from roster.mapping.system_columns import is_error_column
from schemas.rules import PROPERTY_KEY, PROPERTY_KEY_RULE, PROPERTY_TYPES, STANDARD_FIELDS, is_email

SINGLE = STANDARD_FIELDS
TYPES = PROPERTY_TYPES
# Below this a suggestion that writes a contact field or an existing property is shown as needing
# a look (Flatfile calls above 0.9 "strong"): a wrong one overwrites data the team has.
CONFIDENT = 0.9
# Below this any suggestion is shown as needing a look: the engine is guessing (an empty column,
# email addresses in a second column, a field another column took).
UNSURE = 0.6


def needs_review(choice: str, confidence: float) -> bool:
    """Whether the engine is really unsure: a new property named after its header is what it
    says, and a left-out column is left out, so "check" is kept for the suggestions that could
    write the wrong field."""
    if choice == "ignore":
        return False
    return confidence < UNSURE or (choice != "new" and confidence < CONFIDENT)


def choice_of(s: SuggestionObject, existing: dict[str, str]) -> str:
    """The select's value for a suggestion: a field, `property:<key>`, `new` or `ignore`."""
    if s["target"] == "property":
        return f"property:{s['property_key']}" if s["property_key"] in existing else "new"
    return s["target"]


def rows_for(
    suggestions: list[SuggestionObject], samples: dict[str, list[str]], existing: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per column, for the template; `samples` are each column's distinct values."""
    out = []
    for i, s in enumerate(suggestions):
        choice = choice_of(s, existing)
        out.append(
            {
                "index": i,
                "column": s["column"],
                "samples": [v for v in samples.get(s["column"], []) if v][:3],
                "choice": choice,
                "suggested": choice,
                "confidence": s["confidence"],
                "percent": round(100 * float(s["confidence"])),
                "reason": s["reason"],
                "engine": s["engine"],
                "new_key": s["property_key"] if choice == "new" else "",
                "new_type": s.get("property_type") or "string",
                "invert": bool(s.get("invert")),
                "needs_review": needs_review(choice, float(s["confidence"])),
            }
        )
    return out


def column_map_from_form(
    form: Mapping[str, str], headers: list[str], existing: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """(column map, problems) from the review form: `target_<i>`, `new_key_<i>`, `new_type_<i>`,
    `invert_<i>` and `include_<i>` for the i-th header (an unticked include is a rejected row)."""
    cmap: dict[str, Any] = {"properties": {}}
    problems: list[str] = []
    used: dict[str, str] = {}
    for i, header in enumerate(headers):
        choice = (form.get(f"target_{i}") or "ignore").strip()
        if form.get(f"include_{i}") not in ("on", "true", "1") or choice == "ignore":
            continue
        if choice in SINGLE:
            if choice in used:
                problems.append(f"{choice} is chosen for both {used[choice]!r} and {header!r}: pick one")
                continue
            used[choice] = header
            cmap[choice] = (
                {"column": header, "invert": form.get(f"invert_{i}") in ("on", "true", "1")}
                if choice == "unsubscribed"
                else header
            )
            continue
        if choice.startswith("property:"):
            key, ptype = choice.split(":", 1)[1], None
            if key not in existing:
                problems.append(f"{header!r}: the property {key!r} does not exist (any more)")
                continue
            ptype = existing[key]
        elif choice == "new":
            key = (form.get(f"new_key_{i}") or "").strip()
            ptype = form.get(f"new_type_{i}") or "string"
            if not PROPERTY_KEY.match(key):
                problems.append(f"{header!r}: the new property's name {key!r} is invalid: {PROPERTY_KEY_RULE}")
                continue
            if ptype not in TYPES:
                problems.append(f"{header!r}: the type must be one of {', '.join(TYPES)}")
                continue
            if key in existing and existing[key] != ptype:
                problems.append(f"{header!r}: a property {key!r} exists already, as a {existing[key]}")
                continue
        else:
            problems.append(f"{header!r}: {choice!r} is not a target")
            continue
        if key in cmap["properties"]:
            problems.append(
                f"the property {key!r} is chosen for two columns: {cmap['properties'][key]['column']!r} and {header!r}"
            )
            continue
        cmap["properties"][key] = {"column": header, "type": ptype}
    if "email" not in cmap:
        problems.append("choose the column that holds the email address: every contact needs one")
    if not cmap["properties"]:
        del cmap["properties"]
    return cmap, problems


def email_checks(headers: list[str], rows: list[list[str]], column: str | None) -> dict[str, Any] | None:
    """What the first rows say about the email column before anything starts: how many have no
    email, an invalid one, or one seen earlier in the file (the import keeps the last of those)."""
    if column not in headers:
        return None
    i = headers.index(column)
    values = [r[i].strip() if i < len(r) else "" for r in rows]
    seen: set[str] = set()
    duplicates = 0
    for v in values:
        if v and is_email(v):
            duplicates += v.lower() in seen
            seen.add(v.lower())
    return {
        "column": column,
        "rows": len(values),
        "missing": sum(1 for v in values if not v),
        "invalid": sum(1 for v in values if v and not is_email(v)),
        "duplicates": duplicates,
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the import will do with the columns, as chosen: fields, existing and new properties,
    and the columns left out."""
    kept = [r for r in rows if r["include"] and r["choice"] != "ignore"]
    return {
        "fields": [r for r in kept if r["choice"] in SINGLE],
        "existing": [r for r in kept if r["choice"].startswith("property:")],
        "new": [r for r in kept if r["choice"] == "new"],
        "ignored": [r for r in rows if r not in kept],
        "check": [r for r in kept if r["needs_review"]],
    }


def own_headers(headers: list[str]) -> list[str]:
    """The file's headers without Roster's error column (a failed-rows download re-uploaded)."""
    return [h for h in headers if not is_error_column(h)]


def refusal(head: dict[str, Any], filename: str) -> str | None:
    """Why an upload cannot be imported, said on the upload step before any review: no rows, or no
    email address anywhere in the rows read (every contact needs one). None when it can."""
    name = f"“{filename[:200]}”"
    if not head["rows"]:
        return f"{name} has a header row but no rows of contacts: there is nothing to import."
    if not any(is_email(v.strip()) for r in head["rows"] for v in r):
        columns = ", ".join(head["headers"][:12]) + (", …" if len(head["headers"]) > 12 else "")
        return (
            f"No column of {name} holds email addresses (in its first {len(head['rows']):,} rows), and every contact "
            f"needs one. Its columns: {columns}."
        )
    return None
