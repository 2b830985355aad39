"""What an import is asked to do: every option declared once, and the one parser every door uses.

ImportOptions below is the one declaration of the import options. Each field carries its
description and a `Door`: how the doors spell it (the CLI flag, the camelCase name of the MCP
tool and of Resend's Node SDK, and how a text field carries it). Every door takes its parameters
from here: the CLI flags (roster/cli/common.py), the REST upload form in the OpenAPI document
(roster/api/routers/imports.py), the MCP tool (roster/mcp_server/server.py), the Dagster
launchpad's config (assets/import_file.py); the SDK keeps explicit keyword arguments, for
typing, and tests/test_import_options_doors.py checks every door offers every option.

Form fields (the API), CLI flags, YAML (CRM syncs), a sidecar JSON (the drop folder), the Dagster
launchpad's config and MCP arguments all arrive as a mapping of names to values, spelled their
own way: snake_case or camelCase keys, JSON text or parsed JSON, "true" or True, segments as ids
or as {"id": ...}. parse_options() reads any of them into the same ImportOptions, so the same
meaning gives the same options everywhere, with the same error messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, TypedDict, get_args

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from schemas.column_map import ColumnMap, ColumnMapError, parse_column_map

# The choices, named for the doors that type them (the SDK's signature).
OnConflict = Literal["upsert", "skip"]
Subscription = Literal["opt_in", "opt_out"]


class TopicSubscription(TypedDict):
    """One of `topics`: {"id": "<topic id>", "subscription": "opt_in" | "opt_out"} (default opt_in)."""

    id: str
    subscription: NotRequired[Subscription]


@dataclass(frozen=True)
class Door:
    """How the doors spell one option. `kind` says how text carries its value: `json` (JSON
    text), `choice` (one of the field's words), `ids` (a list of ids), `flag` (true or false),
    `text` (a word or a number, as text)."""

    flag: str  # the CLI flag; a `flag` option also gets --no-...
    camel: str  # the MCP tool's argument, and a key every door accepts
    kind: Literal["json", "choice", "ids", "flag", "text"]
    aliases: tuple[str, ...] = ()  # more spellings accepted: CLI flags (--x) and keys


class ImportOptions(BaseModel):
    """What an import was asked to do; stored with the import (`stored()`)."""

    column_map: Annotated[
        ColumnMap | None,
        Field(
            description='JSON: {"email": "<header>", "first_name": ..., "last_name": ..., "unsubscribed": ..., '
            '"properties": {"<key>": {"column": "<header>", "type": "string|number|boolean"}}}; '
            "snake_case or camelCase keys. Fields it leaves out come from the headers named exactly "
            "email, first_name, last_name, unsubscribed."
        ),
        Door("--column-map", "columnMap", "json"),
    ] = None
    on_conflict: Annotated[
        OnConflict,
        Field(description="upsert (the default) updates an existing contact; skip leaves it as it is."),
        Door("--on-conflict", "onConflict", "choice"),
    ] = "upsert"
    segments: Annotated[
        list[str],
        Field(description="Segment ids to add the imported contacts to."),
        Door("--segment", "segmentIds", "ids", aliases=("--segment-id", "segmentId")),
    ] = Field(default_factory=list)
    topics: Annotated[
        list[dict[str, Any]],
        Field(
            description='Topic subscriptions for the imported contacts, JSON: [{"id": "<topic id>", "subscription": "opt_in|opt_out"}].'
        ),
        Door("--topics", "topics", "json"),
    ] = Field(default_factory=list)
    auto_map: Annotated[
        bool,
        Field(
            description="Roster: map the columns the column map leaves out (without a column map: every column, "
            "not only the headers named email, first_name, last_name, unsubscribed)."
        ),
        Door("--auto-map", "autoMap", "flag"),
    ] = False
    auto_create_properties: Annotated[
        bool,
        Field(description="Roster: automatic mapping may create new contact properties."),
        Door("--auto-create-properties", "autoCreateProperties", "flag"),
    ] = False
    # None: as the team (teams.model_mapping), else the server (ROSTER_MAPPING_MODEL_OPT_IN), decides.
    model_mapping: Annotated[
        bool | None,
        Field(
            description="Roster: the mapping model (when the server has one) may see this file's headers and sample "
            "values. Left out: as the team, else the server, says (default: no)."
        ),
        Door("--model-mapping", "modelMapping", "flag"),
    ] = None
    # Consent is never reversed by accident: without this, a contact who unsubscribed stays
    # unsubscribed, and a topic opt-out stays out, whatever the file says (the rows are counted).
    resubscribe: Annotated[
        bool,
        Field(
            description="Roster: this import may turn unsubscribed contacts and topic opt-outs back on when the "
            "file says so (default: never; such rows are counted)."
        ),
        Door("--resubscribe", "resubscribe", "flag"),
    ] = False
    dry_run: Annotated[
        bool,
        Field(
            description="Roster: read, validate and map every row and count what the import would do (created, "
            "updated, skipped, failed), writing nothing; start it for real afterwards with "
            "POST /contacts/imports/{id}/start."
        ),
        Door("--dry-run", "dryRun", "flag"),
    ] = False
    max_failed_rows: Annotated[
        int | str | None,
        Field(
            description='Roster: past this many failed rows (a count, or a share of the rows written "5%"), the '
            "import fails with nothing written."
        ),
        Door("--max-failed-rows", "maxFailedRows", "text"),
    ] = None

    def stored(self) -> dict[str, Any]:
        """As the import row keeps it: what was given, nothing more."""
        return self.model_dump(mode="json", exclude_unset=True)

    def failure_limit(self, rows: int) -> int | None:
        """The most rows that may fail, of `rows` read, before the import fails; None: no limit."""
        limit = self.max_failed_rows
        if limit is None:
            return None
        if isinstance(limit, str):  # "5%", checked by parse_options
            return int(float(limit[:-1]) * rows / 100)
        return limit


def door(field: FieldInfo) -> Door:
    return next(m for m in field.metadata if isinstance(m, Door))


def declared() -> Iterator[tuple[str, FieldInfo, Door]]:
    """(name, field, door) of every option, in declaration order: what each door generates from."""
    for name, field in ImportOptions.model_fields.items():
        yield name, field, door(field)


# Every option, as ImportOptions names it; the doors offer each of them.
OPTIONS = tuple(ImportOptions.model_fields)
FLAGS = tuple(name for name, _, d in declared() if d.kind == "flag")
# Other spellings of the options' names (Resend's camelCase), to the option's name.
_CAMEL = {
    spelling: name
    for name, _, d in declared()
    for spelling in (d.camel, *d.aliases)
    if spelling != name and not spelling.startswith("-")
}

# Accepted from Resend's callers and ignored: Roster always goes on past a bad row.
_IGNORED = ("on_error", "onError")


class OptionsError(ValueError):
    """The options cannot be used; the message says which and why."""


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


def _topics(value: Any) -> list[dict[str, Any]]:
    value = _json("topics", value)
    if value is None:
        return []
    out = []
    for tp in value if isinstance(value, list) else [None]:
        if not isinstance(tp, dict) or not isinstance(tp.get("id"), str):
            raise OptionsError('`topics` must be a list of {"id": "<topic id>", "subscription": "opt_in|opt_out"}')
        sub = tp.get("subscription", "opt_in")
        if sub not in get_args(Subscription):
            raise OptionsError("a topic's `subscription` must be opt_in or opt_out")
        out.append({"id": tp["id"], "subscription": sub})
    return out


def _failure_limit(value: Any) -> int | str:
    """A count of rows (100) or a share of them ("5%")."""
    text = str(value).strip()
    problem = f'`max_failed_rows` must be a number of rows (e.g. 100) or a share of them (e.g. "5%"), not {text!r}'
    if isinstance(value, bool):
        raise OptionsError(problem)
    try:
        if text.endswith("%"):
            share = float(text[:-1])
            if not 0 <= share <= 100:
                raise OptionsError(problem)
            return f"{share:g}%"
        count = int(text)
    except ValueError:
        raise OptionsError(problem) from None
    if count < 0:
        raise OptionsError(problem)
    return count


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
        elif door(ImportOptions.model_fields[name]).kind == "choice":
            words = get_args(ImportOptions.model_fields[name].annotation)
            if value not in words:
                raise OptionsError(f"`{name}` must be {' or '.join(words)}")
            values[name] = value
        elif name == "segments":
            values[name] = _segments(value)
        elif name == "topics":
            values[name] = _topics(value)
        elif name == "max_failed_rows":
            values[name] = _failure_limit(value)
        else:
            flag = _flag(name, value)
            if flag is not None:
                values[name] = flag
    return ImportOptions(**values)
