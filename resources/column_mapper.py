"""The column mapper: decides which CSV column feeds which contact field or property.

An explicit column map always wins. Without one, the headers `email`, `first_name` and
`last_name` are used, and a column whose values are email addresses is the email column whatever
its header. Every decision is recorded with where it came from, for the run's metadata.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from dagster import ConfigurableResource

from schemas.column_map import CORE_FIELDS, ColumnMap, ColumnMapError
from schemas.rows import EMAIL_PATTERN

_EMAIL = re.compile(EMAIL_PATTERN)


@dataclass
class Resolution:
    column_map: ColumnMap
    decisions: list[dict] = field(default_factory=list)  # {"column", "target", "source", "reason"}


def _email_column_by_values(headers: list[str], samples: dict[str, list[str]]) -> str | None:
    best, best_share = None, 0.0
    for h in headers:
        values = [v.strip() for v in samples.get(h, []) if v and v.strip()]
        if values:
            share = sum(bool(_EMAIL.match(v)) for v in values) / len(values)
            if share > best_share:
                best, best_share = h, share
    return best if best_share >= 0.8 else None


class ColumnMapper(ConfigurableResource):
    def resolve(
        self,
        headers: list[str],
        samples: dict[str, list[str]],
        existing: dict[str, str],
        explicit: ColumnMap | None,
    ) -> Resolution:
        if explicit is not None:
            explicit.check_against(headers)
            decisions = [{"column": c, "target": "mapped", "source": "column_map", "reason": "given in the column map"}
                         for c in explicit.columns()]
            return Resolution(explicit, decisions)
        by_name = {h.strip().lower(): h for h in headers}
        found = {f: by_name[f] for f in CORE_FIELDS if f in by_name}
        decisions = [{"column": h, "target": f, "source": "header", "reason": f"the header is {f!r}"} for f, h in found.items()]
        if "email" not in found:
            column = _email_column_by_values(headers, samples)
            if column is None:
                raise ColumnMapError("missing required email column: no header is 'email' and no column holds email addresses")
            found["email"] = column
            decisions.append({"column": column, "target": "email", "source": "values", "reason": "its values are email addresses"})
        return Resolution(ColumnMap(**found), decisions)


def reconcile_property_types(column_map: ColumnMap, existing: dict[str, str]) -> ColumnMap:
    """An existing property keeps its type. A map that leaves the type out takes it; a map that
    names another type is refused, since the values would not fit what the property holds."""
    properties = {}
    for key, spec in column_map.properties.items():
        if key in existing and "type" not in spec.model_fields_set:
            spec = spec.model_copy(update={"type": existing[key]})
        elif key in existing and existing[key] != spec.type:
            raise ColumnMapError(
                f"property {key!r} exists as a {existing[key]}, but the column map gives it type {spec.type!r}"
            )
        properties[key] = spec
    return column_map.model_copy(update={"properties": properties})
