"""What an import is asked to do, and the one parser every door uses to read it.

Form fields (the API), CLI flags, YAML (CRM syncs), a sidecar JSON (the drop folder), the Dagster
launchpad's config and MCP arguments all arrive as a mapping of names to values, spelled their
own way: snake_case or camelCase keys, JSON text or parsed JSON, "true" or True, segments as ids
or as {"id": ...}. parse_options() reads any of them into the same ImportOptions, so the same
meaning gives the same options everywhere, with the same error messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.column_map import ColumnMap, ColumnMapError, parse_column_map

# Every option, as ImportOptions names it; the doors offer each of them.
OPTIONS = (
    "column_map",
    "on_conflict",
    "segments",
    "topics",
    "auto_map",
    "auto_create_properties",
    "model_mapping",
    "resubscribe",
)
FLAGS = ("auto_map", "auto_create_properties", "model_mapping", "resubscribe")
_CAMEL = {
    "columnMap": "column_map",
    "onConflict": "on_conflict",
    "segmentIds": "segments",
    "segmentId": "segments",
    "autoMap": "auto_map",
    "autoCreateProperties": "auto_create_properties",
    "modelMapping": "model_mapping",
}
# Accepted from Resend's callers and ignored: Roster always goes on past a bad row.
_IGNORED = ("on_error", "onError")


class OptionsError(ValueError):
    """The options cannot be used; the message says which and why."""


class ImportOptions(BaseModel):
    """What an import was asked to do; stored with the import."""

    column_map: ColumnMap | None = None
    on_conflict: Literal["upsert", "skip"] = "upsert"
    segments: list[str] = Field(default_factory=list)  # segment ids
    topics: list[dict] = Field(default_factory=list)  # {"id", "subscription"}
    # Roster's: map the columns the column map leaves out (without a map: every column).
    auto_map: bool = False
    # Roster's: automatic mapping may create new properties.
    auto_create_properties: bool = False
    # May the mapping engines send this file's headers and sample values to the model? None: as the
    # team (teams.model_mapping), else the server (ROSTER_MAPPING_MODEL_OPT_IN), decides; default no.
    model_mapping: bool | None = None
    # Consent is never reversed by accident: without this, a contact who unsubscribed stays
    # unsubscribed, and a topic opt-out stays out, whatever the file says (the rows are counted).
    resubscribe: bool = False

    def stored(self) -> dict:
        """As the import row keeps it: what was given, nothing more."""
        return self.model_dump(mode="json", exclude_unset=True)


def _json(name: str, value: Any) -> Any:
    if isinstance(value, str):
        if value.strip() == "":
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise OptionsError(f"`{name}` is not valid JSON: {e.msg}") from None
    return value


def _flag(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise OptionsError(f"`{name}` must be true or false")


def _segments(value: Any) -> list[str]:
    value = _json("segments", value)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    out = []
    for s in value if isinstance(value, list) else [None]:
        sid = s.get("id") if isinstance(s, dict) else s
        if not isinstance(sid, str) or not sid:
            raise OptionsError('`segments` must be a list of segment ids, or of {"id": "<segment id>"}')
        out.append(sid)
    return out


def _topics(value: Any) -> list[dict]:
    value = _json("topics", value)
    if value is None:
        return []
    out = []
    for tp in value if isinstance(value, list) else [None]:
        if not isinstance(tp, dict) or not isinstance(tp.get("id"), str):
            raise OptionsError('`topics` must be a list of {"id": "<topic id>", "subscription": "opt_in|opt_out"}')
        sub = tp.get("subscription", "opt_in")
        if sub not in ("opt_in", "opt_out"):
            raise OptionsError("a topic's `subscription` must be opt_in or opt_out")
        out.append({"id": tp["id"], "subscription": sub})
    return out


def parse_options(raw: Mapping[str, Any] | None, base: ImportOptions | None = None) -> ImportOptions:
    """ImportOptions from any door's mapping; keys it leaves out (or leaves empty) keep `base`'s
    values (the stored options, for a launch that overrides some). Unknown keys are refused."""
    values: dict[str, Any] = base.model_dump(exclude_unset=True) if base else {}
    for key, value in (raw or {}).items():
        name = _CAMEL.get(key, key)
        if key in _IGNORED:
            continue
        if name not in OPTIONS:
            raise OptionsError(f"unknown option `{key}` (the options: {', '.join(OPTIONS)})")
        if value is None or (isinstance(value, str) and value.strip() == "" and name != "column_map"):
            continue
        if name == "column_map":
            try:
                parsed = parse_column_map(value if not isinstance(value, str) or value.strip() else None)
            except ColumnMapError as e:
                raise OptionsError(str(e)) from None
            if parsed is not None:
                values[name] = parsed
        elif name == "on_conflict":
            if value not in ("upsert", "skip"):
                raise OptionsError("`on_conflict` must be upsert or skip")
            values[name] = value
        elif name == "segments":
            values[name] = _segments(value)
        elif name == "topics":
            values[name] = _topics(value)
        else:
            flag = _flag(name, value)
            if flag is not None:
                values[name] = flag
    return ImportOptions(**values)
