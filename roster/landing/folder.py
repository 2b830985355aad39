"""The landing store: where uploaded files wait for their import, and its scratch space.

What it keeps, and for how long (uploads hold personal data):
- landing/<import id>/upload: the file as uploaded, until its import ends. A completed import's
  is deleted at once (discard(), from the import's last step, just before it is marked completed:
  whoever sees `completed` finds no file); a failed import's is kept
  ROSTER_KEEP_UPLOADS_HOURS (default 24) so that `roster imports run ID` can retry it, then
  swept (roster/importing/retention.py, run hourly by the daemon's `landing_sweep` sensor).
Plain Python; the Dagster resource that configures it is resources/landing_store.py.
- landing/<import id>/work/: decompressed or transcoded copies, removed when each run ends.
- landing/.incoming/: uploads being received, removed when the request ends; leftovers of a
  crashed server process are swept after a day.

ROSTER_LANDING=postgres keeps the upload in PostgreSQL as well, for workers on
other machines that share only the database (deploy/README.md): roster/landing/postgres.py.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import BinaryIO

from roster.runtime.settings import get_settings

CHUNK = 1 << 20
INCOMING = ".incoming"


class FileTooLarge(Exception):
    pass


class LandingStore:
    """A directory per import: the file as uploaded, and `work/` for decompressed or transcoded copies."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else None  # default: $ROSTER_DATA_DIR/landing

    def base(self) -> Path:
        return self.root or get_settings().landing_dir

    def import_dir(self, import_id: str) -> Path:
        return self.base() / str(import_id)

    def workdir(self, import_id: str) -> Path:
        return self.import_dir(import_id) / "work"

    def save_stream(self, import_id: str, stream: BinaryIO, filename: str, max_bytes: int | None = None) -> Path:
        """Stream a file into the store, never holding it whole; over max_bytes raises FileTooLarge."""
        target = self.upload_path(import_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with target.open("wb") as out:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    out.close()
                    self.remove(import_id)
                    raise FileTooLarge(f"the file is larger than {max_bytes} bytes")
                out.write(chunk)
        (target.parent / "filename").write_text(filename)
        return target

    def adopt(self, import_id: str, path: Path, filename: str) -> Path:
        """Take a file already on the store's filesystem (a fetch spooled it) as the import's upload:
        moved, not copied."""
        target = self.upload_path(import_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        (target.parent / "filename").write_text(filename)
        return target

    def upload_path(self, import_id: str) -> Path:
        return self.import_dir(import_id) / "upload"

    def local_file(self, import_id: str, recorded: Path) -> Path:
        """The upload as a file on this machine, for a run to open: here, where it was landed."""
        return Path(recorded)

    def save_path(self, import_id: str, path: Path) -> Path:
        if Path(path).resolve() == self.upload_path(import_id).resolve():
            return Path(path)  # landed already (a sync source streams straight here)
        with Path(path).open("rb") as f:
            return self.save_stream(import_id, f, Path(path).name)

    def clean_work(self, import_id: str) -> None:
        shutil.rmtree(self.workdir(import_id), ignore_errors=True)

    def remove(self, import_id: str) -> None:
        shutil.rmtree(self.import_dir(import_id), ignore_errors=True)

    def discard(self, import_id: str) -> None:
        """The import is over: its upload and scratch files go (personal data is not kept longer
        than the import needs it)."""
        self.remove(import_id)

    # -- retention ---------------------------------------------------------------------------------
    def landed(self) -> list[tuple[str, float]]:
        """(import id, last modified) of every import folder in the store."""
        base = self.base()
        if not base.is_dir():
            return []
        out = []
        for entry in os.scandir(base):
            if entry.is_dir(follow_symlinks=False) and entry.name != INCOMING:
                try:
                    out.append((entry.name, entry.stat(follow_symlinks=False).st_mtime))
                except FileNotFoundError:  # removed meanwhile
                    continue
        return out

    def sweep_incoming(self, older_than_seconds: float) -> int:
        """Remove spooled uploads left behind by a server process that died mid-request."""
        incoming = self.base() / INCOMING
        if not incoming.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than_seconds
        for entry in os.scandir(incoming):
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
            except (FileNotFoundError, IsADirectoryError):
                continue
        return removed
