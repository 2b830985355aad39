"""`roster mapping suggest FILE`: suggested column map as JSON, or an interactive review.

The review shows a table of suggestions and reads commands, from the terminal or, when standard
input is not a terminal, one per line from it (or from --answers FILE):

    a                 accept the mapping as shown
    r N               reject suggestion N (the column is left out)
    c N TARGET        change suggestion N: email, first_name, last_name, unsubscribed,
                      unsubscribed! (values mean the opposite), ignore, property:KEY[:TYPE]
    q                 quit without accepting

An accepted mapping is remembered for the team and these headers (preferred next time), and can
then be imported at once: the same code as `roster import FILE --column-map <reviewed map>`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from roster.cli.common import fail
from schemas.rules import PROPERTY_KEY, PROPERTY_KEY_RULE, PROPERTY_TYPES, STANDARD_FIELDS

if TYPE_CHECKING:  # the mapping code is imported when a command runs, not when the CLI starts
    from roster.mapping.models import ExistingProperty, Suggestion

mapping_app = typer.Typer(no_args_is_help=True, help="Column mapping: suggest, review, remember.")
SINGLE_USE = STANDARD_FIELDS  # each at most once in a map
HELP = (
    "[bold]a[/bold] accept all · [bold]r N[/bold] reject N · [bold]c N TARGET[/bold] change N "
    "(email, first_name, last_name, unsubscribed, unsubscribed!, ignore, property:KEY[:TYPE]) · [bold]q[/bold] quit"
)


def _load_existing(path: Path) -> list[ExistingProperty]:
    from roster.mapping.__main__ import load_existing

    try:
        return load_existing(path)
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"cannot read the existing properties from {path}: {e}")


def _describe(s: Suggestion) -> str:
    if s.target == "property":
        return f"property {s.property_key} ({s.property_type}{', new' if s.is_new_property else ''})"
    if s.target == "unsubscribed" and s.invert:
        return "unsubscribed (inverted)"
    return s.target


def _table(suggestions: list[Suggestion]) -> Table:
    table = Table(title="Suggested column mapping", show_lines=False)
    for name, kw in (
        ("#", {"justify": "right"}),
        ("column", {}),
        ("→ target", {}),
        ("conf.", {"justify": "right"}),
        ("engine", {}),
        ("reason", {"overflow": "fold"}),
    ):
        table.add_column(name, **kw)  # type: ignore[arg-type]  # each a keyword of add_column
    for i, s in enumerate(suggestions, 1):
        style = "dim" if s.target == "ignore" else ("yellow" if s.confidence < 0.5 else None)
        table.add_row(str(i), s.column, _describe(s), f"{s.confidence:.2f}", s.engine, s.reason, style=style)
    return table


def _answers(answers: Path | None, out: Console) -> Iterator[str]:
    """Commands from --answers, else the terminal, else standard input, one per line; EOF ends."""
    if answers is not None:
        lines = answers.read_text(encoding="utf-8").splitlines()
        for line in lines:
            out.print(f"> {line}", highlight=False)
            yield line
        return
    if sys.stdin.isatty():
        from rich.prompt import Prompt

        while True:
            try:
                yield Prompt.ask(">", console=out)
            except (EOFError, KeyboardInterrupt):
                return
    for line in sys.stdin:
        out.print(f"> {line.rstrip()}", highlight=False)
        yield line.rstrip("\n")


def _change(suggestions: list[Suggestion], n: int, spec: str, existing: dict[str, str]) -> str:
    """Apply `c N TARGET`; returns what happened, for the person."""
    s = suggestions[n]
    spec = spec.strip()
    kw: dict[str, Any] = dict(
        property_key=None,
        property_type=None,
        is_new_property=False,
        invert=False,
        confidence=1.0,
        engine="review",
        reason="set in review",
    )
    if spec in (*STANDARD_FIELDS, "unsubscribed!", "ignore"):
        target = "unsubscribed" if spec == "unsubscribed!" else spec
        new = replace(s, target=target, **{**kw, "invert": spec == "unsubscribed!"})
        slot = target if target in SINGLE_USE else None
    elif spec.startswith("property:"):
        parts = spec.split(":")
        key = parts[1] if len(parts) > 1 else ""
        if not PROPERTY_KEY.match(key):
            return f"[red]invalid property key {key!r}[/red]: {PROPERTY_KEY_RULE}"
        ptype = parts[2] if len(parts) > 2 else (existing.get(key) or s.property_type or "string")
        if ptype not in PROPERTY_TYPES:
            return f"[red]invalid type {ptype!r}[/red]: string, number or boolean"
        if key in existing and existing[key] != ptype:
            return f"[red]property {key!r} exists as a {existing[key]}[/red]"
        new = replace(
            s, target="property", **{**kw, "property_key": key, "property_type": ptype, "is_new_property": key not in existing}
        )
        slot = "property:" + key
    else:
        return f"[red]unknown target {spec!r}[/red]"
    note = ""
    if slot:
        for i, other in enumerate(suggestions):
            other_slot = (
                other.target
                if other.target in SINGLE_USE
                else ("property:" + other.property_key if other.target == "property" and other.property_key else None)
            )
            if i != n and other_slot == slot:
                suggestions[i] = replace(
                    other,
                    target="ignore",
                    property_key=None,
                    property_type=None,
                    is_new_property=False,
                    invert=False,
                    engine="review",
                    reason=f"left out in review: column {s.column!r} took {slot}",
                )
                note = f"; {other.column!r} no longer maps there"
    suggestions[n] = new
    return f"{s.column!r} → {_describe(new)}{note}"


def review(
    suggestions: list[Suggestion], existing: dict[str, str], lines: Iterator[str], out: Console
) -> list[Suggestion] | None:
    """The reviewed suggestions, or None when the person quits (or the answers run out)."""
    suggestions = list(suggestions)
    out.print(_table(suggestions))
    out.print(HELP)
    for line in lines:
        words = line.split(maxsplit=2)
        if not words:
            continue
        cmd = words[0].lower()
        if cmd in ("a", "accept", "y", "yes"):
            from roster.mapping import to_column_map

            if "email" not in to_column_map(suggestions):
                out.print("[red]no column is mapped to email[/red]: change one with c N email")
                continue
            return suggestions
        if cmd in ("q", "quit", "exit"):
            return None
        try:
            n = int(words[1]) - 1 if len(words) > 1 else -1
        except ValueError:
            n = -1
        if cmd in ("r", "reject", "c", "change") and not 0 <= n < len(suggestions):
            out.print(f"[red]give a suggestion number from 1 to {len(suggestions)}[/red]")
            continue
        if cmd in ("r", "reject"):
            s = suggestions[n]
            suggestions[n] = replace(
                s,
                target="ignore",
                property_key=None,
                property_type=None,
                is_new_property=False,
                invert=False,
                confidence=1.0,
                engine="review",
                reason="rejected in review",
            )
            out.print(f"{s.column!r} is left out")
        elif cmd in ("c", "change") and len(words) == 3:
            out.print(_change(suggestions, n, words[2], existing))
        else:
            out.print(HELP)
            continue
        out.print(_table(suggestions))
    return None


def _confirm(question: str, answers: Iterator[str], out: Console) -> bool:
    out.print(f"{question} \\[y/N]")
    for line in answers:
        return line.strip().lower() in ("y", "yes", "i", "import")
    return False


@mapping_app.command("suggest")
def suggest_cmd(
    file: Path,
    existing_properties: Annotated[
        Path | None,
        typer.Option(
            "--existing-properties", help='JSON list of the team\'s properties [{"key", "type"}]; else read from the database.'
        ),
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", help="The team (default: default); its properties and remembered mappings.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {column_map, suggestions} as JSON, no review.")] = False,
    answers: Annotated[
        Path | None, typer.Option("--answers", help="Review commands, one per line, instead of the terminal.")
    ] = None,
    do_import: Annotated[
        bool | None,
        typer.Option("--import/--no-import", help="After the review, import the file with the reviewed map (else asked)."),
    ] = None,
    on_conflict: Annotated[str, typer.Option("--on-conflict", help="For the import: upsert or skip.")] = "upsert",
    engine_name: Annotated[
        str | None,
        typer.Option(
            "--engine", help="auto (the model when OPENAI_API_KEY is set and someone opted in), openai (opts in), or offline."
        ),
    ] = None,
    model_mapping: Annotated[
        bool | None,
        typer.Option(
            "--model-mapping/--no-model-mapping",
            help="Let the model (OPENAI_API_KEY) see the file's headers and sample values; else as the team, then the server, says (default: no).",
        ),
    ] = None,
) -> None:
    """Suggest where each column of FILE goes; review the suggestions, then import."""
    import os

    from roster.csvfiles import FileRefused
    from roster.mapping.service import suggest_for_file

    if not file.is_file():
        fail(f"no such file: {file}")
    if engine_name:
        if engine_name not in ("auto", "openai", "offline"):
            fail(f"--engine must be auto, openai or offline, not {engine_name!r}")
        os.environ["ROSTER_MAPPING_ENGINE"] = engine_name
    existing = _load_existing(existing_properties) if existing_properties else None
    # The database is needed for the team's properties, its remembered mappings, and the review's import.
    db = None
    team_id = None
    if team is not None or existing is None or not as_json:
        from roster.runtime.database import get_engine
        from roster.store import teams

        db = get_engine()
        team = team or "default"
        team_id = teams.ensure(db, team)
    try:
        if model_mapping is None and engine_name == "openai":
            model_mapping = True  # asking for the model by name is consent
        result = suggest_for_file(db, team_id, file, existing, with_headers=True, model_mapping=model_mapping)
    except FileRefused as e:
        fail(f"the file was refused: {e}")
    headers, notes = result.pop("headers"), result.pop("notes")
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return

    from roster.mapping import ExistingProperty, Suggestion

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    for note in notes:
        out.print(f"[dim]{note}[/dim]")
    props = existing if existing is not None else []
    if existing is None:
        from roster.mapping.service import team_properties

        props = team_properties(db, team_id)  # type: ignore[arg-type]  # both set: not --json
    existing_types = {p.key: p.type for p in props if isinstance(p, ExistingProperty)}
    suggestions = [Suggestion(**s) for s in result["suggestions"]]
    answer_lines = _answers(answers, out)  # one stream: the review, then the import question
    reviewed = review(suggestions, existing_types, answer_lines, out)
    if reviewed is None:
        out.print("nothing accepted, nothing imported")
        raise typer.Exit(1)
    from roster.mapping import to_column_map
    from roster.mapping.memory import remember

    cmap = to_column_map(reviewed)
    remember(db, team_id, headers, cmap, source="review")  # type: ignore[arg-type]  # both set: not --json
    out.print("accepted column map (remembered for these headers):")
    print(json.dumps(cmap, ensure_ascii=False))
    if do_import is None:
        do_import = _confirm(f"Import {file.name} now with this map?", answer_lines, out)
    if not do_import:
        out.print("not imported; to import it later:")
        print(f"roster import {file} --team {team} --column-map '{json.dumps(cmap, ensure_ascii=False)}'")
        return
    from roster.cli.imports import import_command

    import_command(file=file, column_map=json.dumps(cmap), on_conflict=on_conflict, team=team)
