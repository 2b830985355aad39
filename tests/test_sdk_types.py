"""The SDK's types, as a user's type checker sees them (roster ships py.typed): mypy, with the
project's configuration, on a program that uses the SDK rightly (no error) and one that uses it
wrongly (an error on each wrong line, and on no other). In-process (mypy.api), on the cache
`make types` leaves, so it belongs to the fast layer."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]

RIGHT = """
from typing import Literal

from roster import AsyncRoster, Roster

client = Roster(api_key="k")
created = client.contacts.imports.create(
    file="contacts.csv", on_conflict="skip", topics=[{"id": "t", "subscription": "opt_out"}, {"id": "u"}]
)
done = client.contacts.imports.wait(created.id)
status: Literal["queued", "in_progress", "completed", "failed"] = done.status
print(created.id, done.counts.created, [c.email for c in client.contacts.list(limit=10)])
client.topics.create("news", default_subscription="opt_out")
client.contact_properties.create("seats", type="number")
client.contacts.imports.list(status="in_progress")


async def main() -> None:
    async with AsyncRoster(api_key="k") as a:
        imp = await a.contacts.imports.create(file=b"email\\n", on_conflict="upsert", dry_run=True)
        print((await a.contacts.imports.get(imp.id)).status)
        print([s.name for s in await a.segments.list()])
        print((await a.contacts.imports.wait(imp.id)).outcome)
"""

# Each line marked `# wrong` must have an error, and no other line may.
WRONG = """
from roster import AsyncRoster, Roster

client = Roster(api_key="k")
client.contacts.imports.create(file="contacts.csv", on_conflict="overwrite")  # wrong
client.contacts.imports.create(file="contacts.csv", topics=[{"id": "t", "subscription": "yes"}])  # wrong
client.contacts.imports.create(file="contacts.csv", dry_run="yes")  # wrong
client.contacts.imports.list(status="running")  # wrong
client.topics.create("news", default_subscription="subscribed")  # wrong
client.contact_properties.create("seats", type="date")  # wrong
count: int = client.contacts.imports.get("id").status  # wrong


async def main() -> None:
    a = AsyncRoster(api_key="k")
    print(a.contacts.imports.get("id").status)  # wrong
    print((await a.contacts.imports.get("id")).status)
"""


def _mypy(tmp_path: Path, source: str) -> tuple[int, list[str]]:
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(source))
    # The options `make types` uses, so that both share one cache; only the program's errors count.
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-error-summary", str(program)])
    assert status in (0, 1), f"mypy could not run: {out}{err}"
    return status, [line for line in out.splitlines() if ": error:" in line and "program.py" in line]


def test_the_sdk_used_rightly_type_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the project's mypy cache, which `make types` warms
    status, errors = _mypy(tmp_path, RIGHT)
    assert (status, errors) == (0, []), "\n".join(errors)


def test_the_sdk_used_wrongly_does_not(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    status, errors = _mypy(tmp_path, WRONG)
    lines = textwrap.dedent(WRONG).splitlines()
    wrong = {n for n, line in enumerate(lines, 1) if line.endswith("# wrong")}
    flagged = {int(m.group(1)) for e in errors if (m := re.search(r"program\.py:(\d+):", e))}
    assert status == 1 and flagged == wrong, "\n".join(errors)
    assert any("overwrite" in e and "on_conflict" in e for e in errors), "\n".join(errors)
