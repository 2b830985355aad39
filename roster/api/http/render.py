"""The objects as the API shows them."""

from __future__ import annotations

from typing import Any

from roster.importing.render import pg_timestamp


def contact(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "contact",
        "id": str(r["id"]),
        "email": r["email"],
        "first_name": r["first_name"],
        "last_name": r["last_name"],
        "created_at": pg_timestamp(r["created_at"]),
        "unsubscribed": bool(r["unsubscribed"]),  # NULL (never given) reads as false
        "properties": property_values(r["properties"]),
    }


def property_type(value: object) -> str:
    """A stored value's type. Values are checked against their property's type when written
    (API and imports alike) and stored as JSON of that type, so the value tells the type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def property_values(props: dict[str, Any] | None) -> dict[str, Any]:
    """Resend's shape, which its SDKs type and its CLI prints: {"plan": {"value": "pro", "type": "string"}}."""
    return {k: {"value": v, "type": property_type(v)} for k, v in (props or {}).items()}


def contact_topic(r: dict[str, Any]) -> dict[str, Any]:
    """A topic as GET /contacts/{id}/topics lists it: with this contact's subscription. A topic
    without a description has none here (Resend's SDKs type it optional), not null."""
    out = {"id": str(r["id"]), "name": r["name"], "subscription": r["subscription"]}
    if r["description"] is not None:
        out["description"] = r["description"]
    return out


def contact_property(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "contact_property",
        "id": str(r["id"]),
        "key": r["key"],
        "type": r["type"],
        "fallback_value": r["fallback_value"],
        "created_at": pg_timestamp(r["created_at"]),
    }


def segment(r: dict[str, Any]) -> dict[str, Any]:
    return {"object": "segment", "id": str(r["id"]), "name": r["name"], "created_at": pg_timestamp(r["created_at"])}


def topic(r: dict[str, Any]) -> dict[str, Any]:
    """Without `description` when it has none (optional in Resend's SDK types, not nullable)."""
    out = {"object": "topic", "id": str(r["id"]), "name": r["name"]}
    if r["description"] is not None:
        out["description"] = r["description"]
    return {
        **out,
        "default_subscription": r["default_subscription"],
        "visibility": r["visibility"],
        "created_at": pg_timestamp(r["created_at"]),
    }
