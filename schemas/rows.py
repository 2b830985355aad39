"""Row validation: a pandera schema (polars backend) built from the import's column map.

A batch of raw rows is first put in canonical columns (trimmed, blanks as null), then validated.
Rows that fail get a reason in a person's words; the rest are typed and go on to staging.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any, cast

import pandera.polars as pa
import polars as pl

from schemas import rules
from schemas.column_map import ColumnMap


def _pandera_strategies_without_hypothesis() -> None:
    """pandera's first validation imports its data-synthesis module, which imports hypothesis
    when it is installed (`schema.example()`; Roster never asks for data). Only the test tools
    bring hypothesis into an install, where importing it was 50 ms of CPU in every import's
    validation: the module is loaded as pandera loads it where hypothesis is absent (its own
    fallback; the checks are registered the same). A process that has imported hypothesis
    already (the test suite) keeps pandera's strategies as they were."""
    if "hypothesis" in sys.modules or "pandera.strategies.base_strategies" in sys.modules:
        return
    sys.modules["hypothesis"] = None  # type: ignore[assignment]  # `import hypothesis` fails, as where it is absent
    try:
        importlib.import_module("pandera.strategies.base_strategies")
    finally:
        del sys.modules["hypothesis"]


_pandera_strategies_without_hypothesis()

# The row-number column of a batch (data rows count from 1 after the header).
ROW = "__row"
OVERSIZE = "__oversize"
# What a boolean cell becomes before its check: the words rules.as_boolean reads, spelled once.
TRUE, FALSE = "true", "false"


@dataclass(frozen=True)
class PropertyField:
    """A mapped property: staged in column `staged` (p0, p1, ...), never under a name from the file."""

    key: str
    type: str
    column: str
    staged: str


def property_fields(column_map: ColumnMap) -> list[PropertyField]:
    return [
        PropertyField(key, spec.type, spec.column, f"p{i}") for i, (key, spec) in enumerate(sorted(column_map.properties.items()))
    ]


def _cell(column: str) -> pl.Expr:
    # Not when(value == "").then(None).otherwise(value): polars computed the strip twice for that,
    # and the nine cells of the bench's file took 0.6 s per million rows instead of 0.3 s.
    return pl.col(column).str.strip_chars().replace("", None)


def _booleans(frame: pl.DataFrame, column: str) -> pl.Expr:
    """The cell as "true"/"false" when rules.as_boolean reads it, else as it was (then it fails its
    check, with its own value in the reason). The rule runs once per distinct value of the batch."""
    seen = frame.get_column(column).drop_nulls().str.strip_chars().unique().to_list()
    words = {v: (TRUE if b else FALSE) for v in seen if (b := rules.as_boolean(v)) is not None}
    return _cell(column).replace(words) if words else _cell(column)


def _numbers(frame: pl.DataFrame, column: str) -> pl.Expr:
    """The cell as a plain number when it is an amount rules.plain_number reads ("$1,234.50",
    "1.234,50 €"), else as it was (a plain number passes, anything else fails its check with its
    own value in the reason). Once per distinct value of the batch that is not already a plain
    number: those are told apart in polars, with the pattern the schema checks, since nearly every
    value of a number column is distinct and a Python call for each cost about 2 s per million rows."""
    seen = frame.get_column(column).drop_nulls().str.strip_chars().unique()
    plain = seen.str.contains(rules.NUMBER_PATTERN) & (seen.str.len_chars() <= rules.NUMBER_MAX_LENGTH)
    amounts = {v: n for v in seen.filter(~plain).to_list() if (n := rules.plain_number(v)) is not None}
    return _cell(column).replace(amounts) if amounts else _cell(column)


def canonical(frame: pl.DataFrame, column_map: ColumnMap, headers: list[str], max_field_bytes: int) -> pl.DataFrame:
    """The batch in the columns the schema checks; blank cells become null."""
    none = pl.lit(None, dtype=pl.String)
    exprs = [pl.col(ROW), _cell(cast(str, column_map.email)).alias("email")]  # resolved before staging
    for name in ("first_name", "last_name"):
        column = getattr(column_map, name)
        exprs.append(_cell(column).alias(name) if column else none.alias(name))
    unsub = column_map.unsubscribed_column
    exprs.append(_booleans(frame, unsub.column).alias("unsubscribed") if unsub else none.alias("unsubscribed"))
    for p in property_fields(column_map):
        read = {"boolean": _booleans, "number": _numbers}.get(p.type)
        exprs.append((read(frame, p.column) if read else _cell(p.column)).alias(p.staged))
    exprs.append(
        pl.any_horizontal([pl.col(h).str.len_bytes() > max_field_bytes for h in headers]).fill_null(False).alias(OVERSIZE)
    )
    return frame.select(exprs)


def _boolean_check() -> pa.Check:
    return pa.Check.isin([TRUE, FALSE])


def row_schema(column_map: ColumnMap) -> pa.DataFrameSchema:
    columns = {
        "email": pa.Column(
            pl.String,
            nullable=False,
            checks=[
                pa.Check.str_matches(rules.EMAIL_PATTERN),
                pa.Check.str_length(max_value=rules.EMAIL_MAX_LENGTH),
            ],
        ),
        "first_name": pa.Column(pl.String, nullable=True),
        "last_name": pa.Column(pl.String, nullable=True),
        "unsubscribed": pa.Column(pl.String, nullable=True, checks=_boolean_check()),
        OVERSIZE: pa.Column(pl.Boolean, checks=pa.Check.eq(False)),
    }
    for p in property_fields(column_map):
        checks = []
        if p.type == "number":
            checks.append(pa.Check.str_matches(rules.NUMBER_PATTERN))
            checks.append(pa.Check.str_length(max_value=rules.NUMBER_MAX_LENGTH))
        elif p.type == "boolean":
            checks.append(_boolean_check())
        columns[p.staged] = pa.Column(pl.String, nullable=True, checks=checks)
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name="contact_rows")


def _size_text(n: int) -> str:
    return f"{n // 1048576} MiB" if n % 1048576 == 0 else f"{n:,} bytes"


def _reason(column: str, check: str, value: Any, by_staged: dict[str, PropertyField], max_field_bytes: int) -> str:
    if column == "email":
        return "missing email" if value is None else rules.email_problem(value) or f"invalid email {value!r}"
    if column == "unsubscribed":
        return f"unsubscribed must be true/false, yes/no or 1/0, got {value!r}"
    if column == OVERSIZE:
        return f"a field is larger than {_size_text(max_field_bytes)}"
    if column in by_staged:
        p = by_staged[column]
        if check.startswith("str_length"):
            return f"property {p.key!r} (column {p.column!r}) must be a number of at most {rules.NUMBER_MAX_LENGTH} characters"
        return f"property {p.key!r} (column {p.column!r}) must be a {p.type}, got {value!r}"
    return f"{column}: failed {check}"


@dataclass
class ValidatedBatch:
    rows: pl.DataFrame  # canonical, typed columns for staging
    failures: list[dict[str, Any]]  # {"row", "reason", "email"}


def validate(frame: pl.DataFrame, column_map: ColumnMap, headers: list[str], max_field_bytes: int) -> ValidatedBatch:
    rows = canonical(frame, column_map, headers, max_field_bytes)
    failures: dict[int, dict[str, Any]] = {}
    try:
        row_schema(column_map).validate(rows, lazy=True)
    except pa.errors.SchemaErrors as e:
        cases = e.failure_cases.filter(pl.col("index").is_not_null())
        row_numbers = rows.get_column(ROW)
        emails = rows.get_column("email")
        by_staged = {p.staged: p for p in property_fields(column_map)}  # once, not per failed row
        for case in cases.iter_rows(named=True):
            index = case["index"]
            row = int(row_numbers[index])
            if row not in failures:  # the first reason is enough for a person to fix the row
                value = case["failure_case"]
                failures[row] = {
                    "row": row,
                    "email": emails[index],
                    "reason": _reason(case["column"], case["check"], value, by_staged, max_field_bytes),
                }
    good = rows.filter(~pl.col(ROW).is_in(list(failures))) if failures else rows
    invert = bool(column_map.unsubscribed_column and column_map.unsubscribed_column.invert)
    # Booleans are "true"/"false" now: unsubscribed becomes a boolean (inverted for an opt-in
    # column), a boolean property stays text for the merge's ::boolean cast.
    typed = [((pl.col("unsubscribed") == TRUE) != invert).alias("unsubscribed")]
    good = good.with_columns(typed).drop(OVERSIZE)
    return ValidatedBatch(good, sorted(failures.values(), key=lambda f: f["row"]))
