"""The objects as the API shows them."""
from __future__ import annotations

from roster.imports import pg_timestamp


def contact(r: dict) -> dict:
    return {
        "object": "contact",
        "id": str(r["id"]),
        "email": r["email"],
        "first_name": r["first_name"],
        "last_name": r["last_name"],
        "created_at": pg_timestamp(r["created_at"]),
        "unsubscribed": bool(r["unsubscribed"]),  # NULL (never given) reads as false
        "properties": r["properties"] or {},
    }


def contact_property(r: dict) -> dict:
    return {
        "object": "contact_property",
        "id": str(r["id"]),
        "key": r["key"],
        "type": r["type"],
        "fallback_value": r["fallback_value"],
        "created_at": pg_timestamp(r["created_at"]),
    }


def segment(r: dict) -> dict:
    return {"object": "segment", "id": str(r["id"]), "name": r["name"], "created_at": pg_timestamp(r["created_at"])}


def topic(r: dict) -> dict:
    return {
        "object": "topic",
        "id": str(r["id"]),
        "name": r["name"],
        "description": r["description"],
        "default_subscription": r["default_subscription"],
        "created_at": pg_timestamp(r["created_at"]),
    }
