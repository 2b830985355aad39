"""What every command shares: one-line errors, and the import options as flags, generated from
their one declaration (schemas/import_options.py), so `roster import`, `roster imports create`
and `roster contacts imports create` spell them the same way and read them with the one parser."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from schemas.import_options import OPTIONS, Door, ImportOptions, declared

err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
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


def _cli_flag(name: str, description: str, door: Door) -> inspect.Parameter:
    """One option as a typer flag: true/false as --x/--no-x, ids repeatable, JSON also as @FILE."""
    text = description.removeprefix("Roster: ")
    text = text[:1].upper() + text[1:]
    flags = [door.flag, *(a for a in door.aliases if a.startswith("--"))]
    if door.kind == "flag":
        kind: Any = bool | None
        option = typer.Option(f"{door.flag}/--no-{door.flag[2:]}", help=text)
    elif door.kind == "ids":
        kind, option = list[str] | None, typer.Option(*flags, help=f"{text} Repeatable.")
    else:
        kind = str | None
        option = typer.Option(*flags, help=f"{text} Or @FILE." if door.kind == "json" else text)
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=Annotated[kind, option])


def with_import_options(command: Callable[..., T]) -> Callable[..., T]:
    """Give a typer command every import option as a flag. The command declares a parameter
    `options: ImportOptions` where the flags go; it receives them read by the options parser
    (only the flags given are set: `options.model_fields_set`), or the user gets a one-line error."""
    signature = inspect.signature(command, eval_str=True)
    params = []
    for param in signature.parameters.values():
        if param.name == "options":
            params += [_cli_flag(name, field.description or "", door) for name, field, door in declared()]
        else:
            params.append(param)

    @functools.wraps(command)
    def run(**kwargs: Any) -> T:
        given = {name: kwargs.pop(name, None) for name in OPTIONS}
        return command(options=import_options(given), **kwargs)

    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]  # what typer reads
    return run


def import_options(flags: dict[str, Any]) -> ImportOptions:
    """ImportOptions from the flags' values (left-out flags left out), or a one-line error naming
    the flag that is wrong."""
    from schemas.import_options import OptionsError, parse_options

    json_options = {name for name, _, door in declared() if door.kind == "json"}
    raw = {name: read_at_file(v, name.replace("_", " ")) if name in json_options else v for name, v in flags.items()}
    try:
        return parse_options({k: v for k, v in raw.items() if v is not None})
    except OptionsError as e:
        message = str(e)
        for name, _, door in declared():
            message = message.replace(f"`{name}`", door.flag).replace(f"{name} is", f"{door.flag} is", 1)
        fail(message)
        raise  # fail() exits; this line only tells type checkers so


# How an outcome (roster/importing/outcome.py) looks on a terminal: green, amber, red.
OUTCOME_STYLE = {
    "completed": "green",
    "completed_with_failures": "yellow",
    "dry_run": "cyan",
    "nothing_imported": "red",
    "guard_tripped": "red",
    "failed": "red",
    "cancelled": "red",
    "reverted": "yellow",
}
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Exit with status 2 when any row failed (the import completed or not).")
]


def print_summary(console: Console, outcome: str | None, summary: str | None, import_id: str) -> None:
    """The import's one-line summary, coloured by its outcome, and what to do next."""
    if not summary:
        return
    console.print(f"[{OUTCOME_STYLE.get(outcome or '', 'white')}]{summary}[/]", highlight=False)
    if outcome == "dry_run":
        console.print(
            f"start it for real: [bold]roster imports start {import_id}[/bold] (or POST /contacts/imports/{import_id}/start)"
        )


def check_strict(strict: bool, failed: int, summary: str | None) -> None:
    """--strict: a non-zero exit (2) when rows failed."""
    if strict and failed:
        fail(f"{failed:,} rows failed (--strict): {summary or ''}".rstrip(": "), code=2)
