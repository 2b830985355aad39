"""The column map: which column feeds which field (Resend's shape, plus `invert` on unsubscribed).

Every key of a map is optional. The standard fields a map leaves out are taken, as Resend takes
them, from the headers named exactly `email`, `first_name`, `last_name` and `unsubscribed`
(`with_standard_columns`); so `{}`, a map of only `properties`, or `{"email": "email"}` still
import the file's `first_name` and `last_name` columns. `firstName` and `lastName` (the camelCase
that Resend's CLI, MCP server and Node SDK take) are accepted for `first_name` and `last_name`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.rules import CORE_FIELDS, PROPERTY_KEY, PROPERTY_KEY_RULE, STANDARD_FIELDS  # noqa: F401 (STANDARD_FIELDS: Resend's default columns)
from schemas.rules import PropertyType as PropertyType  # declared with the rules; re-exported

CAMEL_CASE = {"firstName": "first_name", "lastName": "last_name"}


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

    @model_validator(mode="before")
    @classmethod
    def _camel_case(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(k in data for k in CAMEL_CASE):
            return data
        data = dict(data)
        for camel, snake in CAMEL_CASE.items():
            if camel in data:
                if data.get(snake) is not None:
                    raise ValueError(f"give {camel!r} or {snake!r}, not both")
                data[snake] = data.pop(camel)
        return data

    @field_validator("properties")
    @classmethod
    def _keys_are_identifiers(cls, value: dict[str, PropertyColumn]) -> dict[str, PropertyColumn]:
        for key in value:
            if not PROPERTY_KEY.match(key):
                raise ValueError(f"property key {key!r} is invalid: {PROPERTY_KEY_RULE}")
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
        """Refuse a map naming a header the file lacks, before anything is written. (Whether an
        email column is found is decided once the map is completed: see ColumnMapper.resolve.)"""
        missing = [c for c in self.columns() if c not in headers]
        if missing:
            raise ColumnMapError(
                f"the column map names {', '.join(map(repr, missing))}, which the file does not have "
                f"(its headers: {', '.join(map(repr, headers[:20]))}{', ...' if len(headers) > 20 else ''})"
            )

    def with_standard_columns(self, headers: list[str]) -> ColumnMap:
        """Resend's rule: each standard field the map leaves out comes from the header named
        exactly like it (case-sensitive), unless the map already uses that header elsewhere."""
        used = set(self.columns())
        fill = {
            f: f
            for f in STANDARD_FIELDS
            if (self.unsubscribed if f == "unsubscribed" else getattr(self, f)) is None and f in headers and f not in used
        }
        return self.model_copy(update=fill) if fill else self

    def standard_fields(self) -> list[str]:
        """The standard fields this map fills."""
        return [f for f in STANDARD_FIELDS if (self.unsubscribed if f == "unsubscribed" else getattr(self, f))]

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=False)


def parse_column_map(value: str | dict[str, Any] | ColumnMap | None) -> ColumnMap | None:
    """Accept the map as JSON text (the API's form field, the CLI's flag) or as a dict."""
    if value is None or value == "" or isinstance(value, ColumnMap):
        return value if isinstance(value, ColumnMap) else None
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
