"""The column map (Resend's shape, plus `invert` on unsubscribed) and the import's options."""
from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROPERTY_KEY = re.compile(r"^[A-Za-z0-9_]{1,50}$")
PropertyType = Literal["string", "number", "boolean"]
CORE_FIELDS = ("email", "first_name", "last_name")


class ColumnMapError(ValueError):
    """The column map cannot be used; the message says why."""


class PropertyColumn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str
    type: PropertyType = "string"


class UnsubscribedColumn(BaseModel):
    """Where the file's column means the opposite ("accepts marketing"), `invert` flips it."""

    model_config = ConfigDict(extra="forbid")
    column: str
    invert: bool = False


class ColumnMap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: str | UnsubscribedColumn | None = None
    properties: dict[str, PropertyColumn] = Field(default_factory=dict)

    @field_validator("properties")
    @classmethod
    def _keys_are_identifiers(cls, value: dict[str, PropertyColumn]) -> dict[str, PropertyColumn]:
        for key in value:
            if not PROPERTY_KEY.match(key):
                raise ValueError(
                    f"property key {key!r} is invalid: use 1 to 50 letters, digits or underscores"
                )
        return value

    @property
    def unsubscribed_column(self) -> UnsubscribedColumn | None:
        u = self.unsubscribed
        return UnsubscribedColumn(column=u) if isinstance(u, str) else u

    def columns(self) -> list[str]:
        """Every header the map names."""
        named = [getattr(self, f) for f in CORE_FIELDS]
        if self.unsubscribed_column:
            named.append(self.unsubscribed_column.column)
        named += [p.column for p in self.properties.values()]
        return [c for c in named if c]

    def check_against(self, headers: list[str]) -> None:
        """Refuse a map the file cannot satisfy, before anything is written."""
        missing = [c for c in self.columns() if c not in headers]
        if missing:
            raise ColumnMapError(
                f"the column map names {', '.join(map(repr, missing))}, which the file does not have "
                f"(its headers: {', '.join(map(repr, headers[:20]))}{', ...' if len(headers) > 20 else ''})"
            )
        if not self.email:
            raise ColumnMapError("missing required email column: the file has no email column and the column map names none")

    def to_api(self) -> dict:
        return self.model_dump(exclude_none=True, exclude_defaults=False)


def parse_column_map(value: str | dict | ColumnMap | None) -> ColumnMap | None:
    """Accept the map as JSON text (the API's form field, the CLI's flag) or as a dict."""
    if value is None or value == "" or isinstance(value, ColumnMap):
        return value or None
    try:
        data = json.loads(value) if isinstance(value, str) else value
        if data is None:
            return None
        return ColumnMap.model_validate(data)
    except json.JSONDecodeError as e:
        raise ColumnMapError(f"column_map is not valid JSON: {e.msg}") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ColumnMapError(f"column_map is invalid at {where or 'top level'}: {first['msg']}") from None


class ImportOptions(BaseModel):
    """What an import was asked to do; stored with the import, overridable from run config."""

    column_map: ColumnMap | None = None
    on_conflict: Literal["upsert", "skip"] = "upsert"
    segments: list[str] = Field(default_factory=list)  # segment ids
    topics: list[dict] = Field(default_factory=list)  # {"id", "subscription"}
    auto_map: bool = False
    auto_create_properties: bool = False
    # Consent is never reversed by accident: without this, a contact who unsubscribed stays
    # unsubscribed, and a topic opt-out stays out, whatever the file says (the rows are counted).
    resubscribe: bool = False
