"""Row validation: a pandera schema (polars backend) built from the import's column map.

A batch of raw rows is first put in canonical columns (trimmed, blanks as null), then validated.
Rows that fail get a reason in a person's words; the rest are typed and go on to staging.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from roster.csvfiles.reader import ROW
from roster.settings import file_limits, size_text
from schemas.column_map import ColumnMap

# The same rule as the raw-SQL floor: something@something.tld, no spaces, one @.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Longer is no address anyone can send to (RFC 5321 allows 254), and it keeps lower(email) well
# inside what the unique index can hold (2,704 bytes), so such a row fails alone, not the merge.
EMAIL_MAX_LENGTH = 320
# A number PostgreSQL's numeric takes whatever its digits: the exponent and the length are bounded,
# so no cell can overflow the cast in the merge.
NUMBER_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$"
NUMBER_MAX_LENGTH = 100
# Every yes/no word the column-mapping engine (roster/mapping/values.py) reads as a boolean, with
# and without accents, so a column it maps to a boolean imports. Compared after trim + lower-case.
# Subscription statuses count as booleans too: true = receives email ("subscribed"), so a status
# column maps to unsubscribed with invert.
TRUE_WORDS = ["true", "yes", "1", "y", "t",
              "ja", "j", "oui", "si", "sí", "sim", "s", "verdadero", "vrai", "wahr", "verdadeiro",
              "on", "x", "checked", "enabled", "はい", "有", "○", "◯", "済",
              "subscribed", "opted_in", "opted in", "opt_in", "opt-in", "opt in", "optin", "double_opt_in",
              "double opt-in", "abonniert", "angemeldet", "abonné", "abonne", "inscrit", "suscrito", "inscrito",
              "購読中"]
FALSE_WORDS = ["false", "no", "0", "n", "f",
               "nein", "non", "não", "nao", "falso", "faux", "falsch", "off", "unchecked", "disabled",
               "いいえ", "無", "×", "未",
               "unsubscribed", "never_subscribed", "never subscribed", "never-subscribed", "not_subscribed",
               "not subscribed", "non_subscribed", "opted_out", "opted out", "opt_out", "opt-out", "opt out",
               "optout", "suppressed", "cleaned", "blocklisted", "blacklisted", "abgemeldet", "désabonné",
               "desabonne", "désinscrit", "desinscrit", "dado_de_baja", "dado de baja", "baja", "desuscrito",
               "descadastrado", "配信停止", "解除"]
OVERSIZE = "__oversize"


@dataclass(frozen=True)
class PropertyField:
    """A mapped property: staged in column `staged` (p0, p1, ...), never under a name from the file."""

    key: str
    type: str
    column: str
    staged: str


def property_fields(column_map: ColumnMap) -> list[PropertyField]:
    return [
        PropertyField(key, spec.type, spec.column, f"p{i}")
        for i, (key, spec) in enumerate(sorted(column_map.properties.items()))
    ]


def _cell(column: str) -> pl.Expr:
    value = pl.col(column).str.strip_chars()
    return pl.when(value == "").then(None).otherwise(value)


def canonical(frame: pl.DataFrame, column_map: ColumnMap, headers: list[str]) -> pl.DataFrame:
    """The batch in the columns the schema checks; blank cells become null."""
    none = pl.lit(None, dtype=pl.String)
    exprs = [pl.col(ROW), _cell(column_map.email).alias("email")]
    for name in ("first_name", "last_name"):
        column = getattr(column_map, name)
        exprs.append(_cell(column).alias(name) if column else none.alias(name))
    unsub = column_map.unsubscribed_column
    exprs.append(_cell(unsub.column).str.to_lowercase().alias("unsubscribed") if unsub else none.alias("unsubscribed"))
    for p in property_fields(column_map):
        cell = _cell(p.column)
        exprs.append((cell.str.to_lowercase() if p.type == "boolean" else cell).alias(p.staged))
    limit = file_limits().max_field_bytes
    exprs.append(pl.any_horizontal([pl.col(h).str.len_bytes() > limit for h in headers]).fill_null(False).alias(OVERSIZE))
    return frame.select(exprs)


def _boolean_check(name: str) -> pa.Check:
    return pa.Check.isin(TRUE_WORDS + FALSE_WORDS, name=name)


def row_schema(column_map: ColumnMap) -> pa.DataFrameSchema:
    columns = {
        "email": pa.Column(pl.String, nullable=False, checks=[
            pa.Check.str_matches(EMAIL_PATTERN, name="email"),
            pa.Check.str_length(max_value=EMAIL_MAX_LENGTH),
        ]),
        "first_name": pa.Column(pl.String, nullable=True),
        "last_name": pa.Column(pl.String, nullable=True),
        "unsubscribed": pa.Column(pl.String, nullable=True, checks=_boolean_check("unsubscribed")),
        OVERSIZE: pa.Column(pl.Boolean, checks=pa.Check.eq(False, name="oversize")),
    }
    for p in property_fields(column_map):
        checks = []
        if p.type == "number":
            checks.append(pa.Check.str_matches(NUMBER_PATTERN, name=f"number:{p.staged}"))
            checks.append(pa.Check.str_length(max_value=NUMBER_MAX_LENGTH))
        elif p.type == "boolean":
            checks.append(_boolean_check(f"boolean:{p.staged}"))
        columns[p.staged] = pa.Column(pl.String, nullable=True, checks=checks)
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name="contact_rows")


def _reason(column: str, check: str, value, column_map: ColumnMap) -> str:
    by_staged = {p.staged: p for p in property_fields(column_map)}
    if column == "email":
        if value is None:
            return "missing email"
        if check.startswith("str_length"):
            return f"the email is longer than {EMAIL_MAX_LENGTH} characters"
        return f"invalid email {value!r}"
    if column == "unsubscribed":
        return f"unsubscribed must be true/false, yes/no or 1/0, got {value!r}"
    if column == OVERSIZE:
        return f"a field is larger than {size_text(file_limits().max_field_bytes)}"
    if column in by_staged:
        p = by_staged[column]
        if check.startswith("str_length"):
            return f"property {p.key!r} (column {p.column!r}) must be a number of at most {NUMBER_MAX_LENGTH} characters"
        return f"property {p.key!r} (column {p.column!r}) must be a {p.type}, got {value!r}"
    return f"{column}: failed {check}"


@dataclass
class ValidatedBatch:
    rows: pl.DataFrame  # canonical, typed columns for staging
    failures: list[dict]  # {"row", "reason", "email"}


def validate(frame: pl.DataFrame, column_map: ColumnMap, headers: list[str]) -> ValidatedBatch:
    rows = canonical(frame, column_map, headers)
    failures: dict[int, dict] = {}
    try:
        row_schema(column_map).validate(rows, lazy=True)
    except pa.errors.SchemaErrors as e:
        cases = e.failure_cases.filter(pl.col("index").is_not_null())
        row_numbers = rows.get_column(ROW)
        emails = rows.get_column("email")
        for case in cases.iter_rows(named=True):
            index = case["index"]
            row = int(row_numbers[index])
            if row not in failures:  # the first reason is enough for a person to fix the row
                value = case["failure_case"]
                failures[row] = {
                    "row": row,
                    "email": emails[index],
                    "reason": _reason(case["column"], case["check"], value, column_map),
                }
    good = rows.filter(~pl.col(ROW).is_in(list(failures))) if failures else rows
    invert = bool(column_map.unsubscribed_column and column_map.unsubscribed_column.invert)
    typed = [
        pl.when(pl.col("unsubscribed").is_null()).then(None)
        .otherwise(pl.col("unsubscribed").is_in(TRUE_WORDS) != invert)
        .alias("unsubscribed"),
    ]
    for p in property_fields(column_map):
        if p.type == "boolean":
            typed.append(
                pl.when(pl.col(p.staged).is_null()).then(None)
                .otherwise(pl.when(pl.col(p.staged).is_in(TRUE_WORDS)).then(pl.lit("true")).otherwise(pl.lit("false")))
                .alias(p.staged)
            )
    good = good.with_columns(typed).drop(OVERSIZE)
    return ValidatedBatch(good, sorted(failures.values(), key=lambda f: f["row"]))
