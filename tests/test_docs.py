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


# -- the configuration table and the Settings class ----------------------------------------------
# Read by the SDK (roster/client), a client library that reads none of the server's settings.
SDK_VARIABLES = {"ROSTER_API_KEY", "ROSTER_API_URL"}
# The tests' hooks, read where they act (not settings an operator sets).
TEST_HOOKS = {"ROSTER_CRASH_AT", "ROSTER_FAULT_DIR", "ROSTER_LIFELINE"}
UNITS = {"GiB": 1024**3, "MiB": 1024**2, "s": 1}


def _configuration_table() -> dict[str, str]:
    """{variable: its documented default}, from the README's configuration table."""
    section = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(", ")] if len(names) > 1 else [cells[1]]
        assert len(defaults) == len(names), f"one default per variable: {line}"
        table.update(zip(names, defaults, strict=True))
    return table


def _documented_value(text: str):
    """A documented default as a value: `1`/on: True, 2 GiB: 2**31, 2,000: 2000; else the text."""
    text = text.strip("`")
    if text in ("1", "on") or text in ("0", "off"):
        return text in ("1", "on")
    number = re.fullmatch(r"([\d,.]+)(?: (GiB|MiB|s))?", text)
    if number:
        return float(number.group(1).replace(",", "")) * UNITS.get(number.group(2), 1)
    return text


def _matches(default, documented: str) -> bool:
    value = _documented_value(documented)
    if default in (None, ""):  # nothing set: the table says in words what happens
        return isinstance(value, str) and value != ""
    if isinstance(default, bool):
        return value is default
    if isinstance(default, int | float):
        return not isinstance(value, bool) and value == default
    if isinstance(default, Path):
        return Path(str(value)) == default
    return value == default


def test_every_setting_is_in_the_configuration_table_with_its_default():
    from roster.runtime.settings import Settings

    table = _configuration_table()
    fields = {variable: Settings.model_fields[name] for variable, name in Settings.variables().items()}
    assert len(fields) > 30
    missing = sorted(set(fields) - set(table))
    assert missing == [], "settings the README's configuration table does not document"
    wrong = {v: (table[v], f.default) for v, f in fields.items() if not _matches(f.default, table[v])}
    assert wrong == {}, "(documented, Settings' default) differ"
    undocumented = sorted(v for v, f in fields.items() if not f.description)
    assert undocumented == [], "every field says what it does (its description)"


def test_the_configuration_table_documents_only_what_exists():
    from roster.runtime.settings import Settings

    unknown = sorted(set(_configuration_table()) - set(Settings.variables()) - SDK_VARIABLES)
    assert unknown == []
    sdk = (ROOT / "roster" / "client" / "_http.py").read_text()
    assert all(f'os.environ.get("{v}")' in sdk for v in SDK_VARIABLES)


def test_settings_are_read_only_through_the_settings_object():
    """No module reads a Roster setting from the environment itself (writes, for a child process's
    environment, are fine): roster/runtime/settings.py does, the SDK and the tests' hooks aside."""
    from roster.runtime.settings import Settings

    names = set(Settings.variables()) | SDK_VARIABLES | TEST_HOOKS
    gets = re.compile(r"""(?:os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']""")
    items = re.compile(r"""os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\](?!\s*=[^=])""")  # not a write
    allowed = {"roster/runtime/settings.py": names, "roster/client/_http.py": SDK_VARIABLES}
    allowed |= {"roster/runtime/faults.py": TEST_HOOKS, "roster/runtime/lifeline.py": TEST_HOOKS}
    offenders = []
    for top in CODE:
        for path in (ROOT / top).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            text = path.read_text()
            for name in gets.findall(text) + items.findall(text):
                if name in names and name not in allowed.get(rel, set()):
                    offenders.append(f"{rel}: {name}")
    assert offenders == []
