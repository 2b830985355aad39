"""The landing store in PostgreSQL, and the setting that picks a landing store.

ROSTER_LANDING=folder (the default) keeps uploads in this machine's data directory
(roster/landing/folder.py); ROSTER_LANDING=postgres keeps them in the database as well, so that a run on
any machine that reaches the database reads its file (deploy/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import Engine

from roster.landing.folder import CHUNK, LandingStore
from roster.runtime.database import get_engine
from roster.runtime.settings import get_settings
from roster.store import landed_files


class PostgresLandingStore(LandingStore):
    """Uploads kept in PostgreSQL (roster/store/landed_files.py), so a run on any machine that
    reaches the database can read its file: the one thing every Roster machine already shares,
    backed up and secured with the contacts it feeds, and no object store to run.

    The local folder stays, as this machine's cache and scratch space: an upload is landed there
    (the checks read it), stored in the database, and the local copy goes when its checks are done
    (clean_work). A run copies it back from the database, a chunk at a time, into its own
    machine's folder (local_file). Removing an import's upload removes both."""

    def __init__(self, root: str | Path | None = None, engine: Engine | None = None):
        super().__init__(root)
        self._engine = engine

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = get_engine()
        return self._engine

    def _publish(self, import_id: str, path: Path) -> None:
        try:
            with Path(path).open("rb") as f:
                landed_files.write(self.engine(), import_id, iter(lambda: f.read(CHUNK), b""))
        except BaseException:
            super().remove(import_id)
            raise

    def save_stream(self, import_id: str, stream: BinaryIO, filename: str, max_bytes: int | None = None) -> Path:
        path = super().save_stream(import_id, stream, filename, max_bytes)
        self._publish(import_id, path)
        return path

    def adopt(self, import_id: str, path: Path, filename: str) -> Path:
        target = super().adopt(import_id, path, filename)
        self._publish(import_id, target)
        return target

    def save_path(self, import_id: str, path: Path) -> Path:
        if Path(path).resolve() == self.upload_path(import_id).resolve():
            self._publish(import_id, Path(path))
            return Path(path)
        return super().save_path(import_id, path)  # through save_stream, which publishes

    def local_file(self, import_id: str, recorded: Path) -> Path:
        """This machine's copy of the upload, fetched from the database if it has none (written
        to a temporary name first, so a crash never leaves half a file that looks whole)."""
        target = self.upload_path(import_id)
        if target.is_file():
            return target
        if not landed_files.exists(self.engine(), import_id):
            return Path(recorded)  # landed before the store moved to PostgreSQL
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name("upload.part")
        with partial.open("wb") as out:
            for chunk in landed_files.read(self.engine(), import_id):
                out.write(chunk)
        os.replace(partial, target)
        return target

    def clean_work(self, import_id: str) -> None:
        """Scratch files and this machine's copy go: the database keeps the upload."""
        super().clean_work(import_id)
        if landed_files.exists(self.engine(), import_id):
            super().remove(import_id)

    def remove(self, import_id: str) -> None:
        super().remove(import_id)
        landed_files.delete(self.engine(), import_id)

    def landed(self) -> list[tuple[str, float]]:
        newest: dict[str, float] = dict(super().landed())
        for import_id, when in landed_files.stored(self.engine()):
            newest[import_id] = max(when, newest.get(import_id, when))
        return list(newest.items())


def landing_store(root: str | Path | None = None) -> LandingStore:
    """The store ROSTER_LANDING names: `folder` (the default: this machine's data directory) or
    `postgres` (the database as well, for workers on several machines)."""
    if get_settings().landing == "postgres":
        return PostgresLandingStore(root)
    return LandingStore(root)
