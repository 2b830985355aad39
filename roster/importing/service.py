"""The import service: the one way every door creates, reads and starts an import.

The REST API, `roster import` and `roster imports ...`, the dashboard, the drop-folder sensor, the
CRM-sync schedules and the Dagster launchpad all call this (the MCP server and the client CLI
call it through the API). Options arrive already parsed (schemas/import_options.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, BinaryIO, Literal, overload

from sqlalchemy.engine import Engine

from roster.importing import failed_rows
from roster.importing.checks import check_file
from roster.importing.render import render_import
from roster.landing import LandingStore, landing_store
from roster.mapping.resolve import ColumnMapper
from roster.runtime.settings import get_settings, keep_uploads_hours
from roster.store import imports, teams
from schemas.import_object import ContactImportObject
from schemas.import_options import ImportOptions, parse_options

# start_dry_run: keep the dry run's own failure guard.
KEEP = object()
SOURCES = ("api", "cli", "sensor", "schedule", "ui", "dashboard", "test")


class CannotStart(Exception):
    """A dry run that cannot be started: the HTTP status and error name the API answers with."""

    def __init__(self, status: int, name: str, message: str):
        super().__init__(message)
        self.status, self.name = status, name


@dataclass
class ImportService:
    engine: Engine
    landing: LandingStore = field(default_factory=landing_store)
    mapper: ColumnMapper = field(default_factory=ColumnMapper)

    # -- teams ---------------------------------------------------------------------------------
    @overload
    def team(self, name: str, create: Literal[True]) -> int: ...
    @overload
    def team(self, name: str, create: bool = False) -> int | None: ...
    def team(self, name: str, create: bool = False) -> int | None:
        """A team's id by name; None if there is none (reading never creates a team)."""
        return teams.ensure(self.engine, name) if create else teams.find(self.engine, name)

    # -- creating --------------------------------------------------------------------------------
    def create(
        self,
        team_id: int,
        file: Path | BinaryIO,
        filename: str,
        options: ImportOptions,
        source: str,
        *,
        check: bool = True,
        launched: bool = False,
        import_id: str | None = None,
        max_bytes: int | None = None,
        dry_run_of: str | None = None,
    ) -> str:
        """Land the file, check it (unless `check` is off: a sensor's file is checked by its run),
        and record a queued import. Returns the import's id. Raises ImportRefused (nothing kept).

        `launched`: the caller runs it itself (the CLI), so the queued-imports sensor leaves it alone.
        `import_id`: a sensor or schedule derives it from what it saw, so a repeated tick cannot
        create the same import twice."""
        import_id = import_id or str(uuid.uuid4())
        if isinstance(file, (str, Path)):
            path = self.landing.save_path(import_id, Path(file))
        else:
            path = self.landing.save_stream(import_id, file, filename, max_bytes)
        try:
            if check:
                check_file(self.engine, self.mapper, team_id, path, options, self.landing.workdir(import_id))
            imports.create(self.engine, import_id, team_id, source, filename, str(path), options.stored(), launched, dry_run_of)
        except BaseException:  # refused, or the server could not read or write it: no import, no file
            self.landing.remove(import_id)
            raise
        finally:
            self.landing.clean_work(import_id)
        return import_id

    def start_dry_run(
        self, team_id: int, dry_run_id: str, source: str, launched: bool = False, max_failed_rows: object = KEEP
    ) -> str:
        """A new import of a completed dry run's file, with its options and the column map it
        decided (so the import does what the dry run counted, without uploading again). Returns
        the new import's id; the dry run's upload goes (the new import has its own copy). Raises
        CannotStart: not a completed dry run (409), started already (409), its file gone (410).

        `max_failed_rows`, when given, replaces the dry run's failure guard (None: no guard): the
        dashboard checks without one and asks for it beside Start, with the counts in view.
        Raises OptionsError when it is not a count or a share."""
        row = self.row(team_id, dry_run_id)
        if row is None:
            raise CannotStart(404, "not_found", "Contact import not found")
        stored = dict(row["options"] or {})
        if not stored.get("dry_run"):
            raise CannotStart(409, "invalid_state", f"import {dry_run_id} is not a dry run: only a dry run can be started")
        if row["status"] != "completed":
            raise CannotStart(
                409, "invalid_state", f"the dry run {dry_run_id} is {row['status']}: only a completed one can be started"
            )
        if row.get("started_as"):
            raise CannotStart(
                409, "invalid_state", f"the dry run {dry_run_id} was started already, as import {row['started_as']}"
            )
        file = self.landing.local_file(dry_run_id, Path(row["file_path"]))
        if not file.is_file():
            raise CannotStart(
                410,
                "dry_run_expired",
                f"the dry run's file is no longer kept (a dry run keeps it {keep_uploads_hours():g} hours): upload it again",
            )
        stored.pop("dry_run")
        if max_failed_rows is not KEEP:
            stored.pop("max_failed_rows", None)
            if max_failed_rows is not None:
                stored["max_failed_rows"] = max_failed_rows
        stored.update(column_map=row["column_map"], auto_map=False)  # the map is decided, every column in it
        try:
            import_id = self.create(
                team_id,
                file,
                row["filename"] or file.name,
                parse_options(stored),
                source,
                check=False,
                launched=launched,
                dry_run_of=dry_run_id,
            )
        except imports.AlreadyStarted as e:
            raise CannotStart(409, "invalid_state", str(e)) from None
        self.landing.remove(dry_run_id)
        return import_id

    def record_failed(self, team_id: int, source: str, what: str, reason: str, import_id: str | None = None) -> str:
        """An import that could not even get its file (a sync source that failed): it shows as
        failed, with the reason, where people look for their imports."""
        import_id = import_id or str(uuid.uuid4())
        imports.record_failed(self.engine, import_id, team_id, source, what, reason)
        return import_id

    def exists(self, import_id: str) -> bool:
        return imports.exists(self.engine, import_id)

    # -- reading ---------------------------------------------------------------------------------
    def row(self, team_id: int, import_id: str) -> dict[str, Any] | None:
        """The team's import as stored (options, column map, file info, counts), or None."""
        return imports.get(self.engine, import_id, team_id)

    def get(self, team_id: int, import_id: str) -> ContactImportObject | None:
        """The team's import as the API shows it, or None."""
        row = self.row(team_id, import_id)
        return render_import(row) if row else None

    def failures_csv(self, team_id: int, import_id: str) -> Iterator[str]:
        """The failed rows as CSV, streamed (formula cells neutralised). The import must be the team's."""
        return failed_rows.csv_chunks(self.engine, import_id, team_id)

    def failures_page(self, team_id: int, import_id: str, limit: int, after: int | None) -> failed_rows.FailuresPage:
        return failed_rows.page(self.engine, import_id, team_id, limit, after)

    # -- starting --------------------------------------------------------------------------------
    def submit(self, import_id: str) -> None:
        """Get a queued import running in the background, as ROSTER_LAUNCH says:

        - `sensor` (the default): nothing here; recording the import notified PostgreSQL, and the
          Dagster daemon's launcher submits its run at once, under the run queue's limits
          (pipelines/launcher.py; the queued-imports sensor catches what it misses);
        - `inline`: a run now, in a process of its own (development, tests), still a Dagster run
          recorded in the instance: `python -m` the module the package declares as its `inline`
          runner (pyproject.toml, entry points `roster.runners`: pipelines/launch.py)."""
        if get_settings().launch == "inline":
            imports.mark_launched(self.engine, import_id)
            owner = imports.owner(self.engine, import_id) or {}
            tags = {"roster/team": owner.get("team", ""), "roster/source": owner.get("source", "")}
            # A process per run, as Dagster's own launcher does: in-process runs in threads of one
            # process share logging locks and can deadlock.
            (runner,) = entry_points(group="roster.runners", name="inline")
            subprocess.Popen(
                [sys.executable, "-m", runner.value, import_id, json.dumps(tags)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
