"""The README tells the truth about the commands and the settings: every `roster` command and every
ROSTER_* setting the code reads appears in it."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from roster.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CODE = ("roster", "schemas", "resources", "assets", "pipelines")


def _commands(group, prefix: str = "") -> list[str]:
    out = []
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}".strip()
        out += _commands(command, path) if getattr(command, "commands", None) else [path]
    return out


def test_every_command_is_in_the_readme():
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 10
    missing = [c for c in commands if f"roster {c}" not in README]
    assert missing == []


def test_every_setting_is_in_the_readme():
    names = set()
    for top in CODE:
        for path in (ROOT / top).rglob("*.py"):
            names |= set(re.findall(r"\bROSTER_[A-Z0-9_]+\b", path.read_text()))
    names -= {"ROSTER_CRASH_AT", "ROSTER_FAULT_DIR", "ROSTER_LIFELINE"}  # the tests' and roster serve's own
    missing = sorted(n for n in names if n not in README)
    assert missing == []
