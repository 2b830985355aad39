"""What every command shares: one-line errors, and the import options, spelled the same way in
`roster import`, `roster imports create` and `roster contacts imports create`, and read by the one
options parser (schemas/import_options.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)

ColumnMapOpt = Annotated[
    str | None,
    typer.Option(
        "--column-map",
        help='JSON column map, or @FILE; snake_case or camelCase keys ({"email": "Email", "firstName": "First Name"}).',
    ),
]
OnConflictOpt = Annotated[str | None, typer.Option("--on-conflict", help="upsert (default) or skip an existing contact.")]
SegmentOpt = Annotated[
    list[str] | None, typer.Option("--segment", "--segment-id", help="A segment id to add the contacts to (repeatable).")
]
TopicsOpt = Annotated[
    str | None,
    typer.Option("--topics", help='Topic subscriptions, a JSON array: [{"id": "<topic id>", "subscription": "opt_in"}].'),
]
AutoMapOpt = Annotated[
    bool | None,
    typer.Option(
        "--auto-map/--no-auto-map", help="Map the columns the column map leaves out (core fields, existing properties)."
    ),
]
AutoCreateOpt = Annotated[
    bool | None,
    typer.Option("--auto-create-properties/--no-auto-create-properties", help="Let automatic mapping create new properties."),
]
ModelMappingOpt = Annotated[
    bool | None,
    typer.Option(
        "--model-mapping/--no-model-mapping",
        help="Let the mapping model (OPENAI_API_KEY) see this file's headers and sample values; default: as the team, then the server, says (no).",
    ),
]
ResubscribeOpt = Annotated[
    bool | None,
    typer.Option(
        "--resubscribe/--no-resubscribe",
        help="Let this import turn unsubscribed contacts and topic opt-outs back on when the file says so (default: never).",
    ),
]


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, no traceback."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def read_at_file(value: str | None, what: str) -> str | None:
    """A flag's value, or the text of @FILE."""
    if value and value.startswith("@"):
        try:
            return Path(value[1:]).read_text()
        except OSError as e:
            fail(f"cannot read the {what}: {e}")
    return value


def option_values(
    column_map, on_conflict, segments, topics, auto_map, auto_create_properties, model_mapping, resubscribe
) -> dict:
    """The flags as the options parser reads them (left-out flags left out)."""
    raw = {
        "column_map": read_at_file(column_map, "column map"),
        "on_conflict": on_conflict,
        "segments": segments,
        "topics": read_at_file(topics, "topics"),
        "auto_map": auto_map,
        "auto_create_properties": auto_create_properties,
        "model_mapping": model_mapping,
        "resubscribe": resubscribe,
    }
    return {k: v for k, v in raw.items() if v is not None}


# How the parser's option names are spelled as flags, for its error messages.
FLAG_NAMES = {
    "column_map": "--column-map",
    "on_conflict": "--on-conflict",
    "segments": "--segment",
    "topics": "--topics",
    "auto_map": "--auto-map",
    "auto_create_properties": "--auto-create-properties",
    "model_mapping": "--model-mapping",
    "resubscribe": "--resubscribe",
}


def import_options(**flags):
    """ImportOptions from the flags, or a one-line error naming the flag that is wrong."""
    from schemas.import_options import OptionsError, parse_options

    try:
        return parse_options(option_values(**flags))
    except OptionsError as e:
        message = str(e)
        for name, flag in FLAG_NAMES.items():
            message = message.replace(f"`{name}`", flag).replace(f"{name} is", f"{flag} is", 1)
        fail(message)
