"""The landing store: where uploaded files wait for their import, and its scratch space."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

from dagster import ConfigurableResource

from roster.settings import get_settings

CHUNK = 1 << 20


class FileTooLarge(Exception):
    pass


class LandingStore(ConfigurableResource):
    """A directory per import: the file as uploaded, and `work/` for decompressed or transcoded copies."""

    root: str | None = None  # default: $ROSTER_DATA_DIR/landing

    def base(self) -> Path:
        return Path(self.root) if self.root else get_settings().landing_dir

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

    def upload_path(self, import_id: str) -> Path:
        return self.import_dir(import_id) / "upload"

    def save_path(self, import_id: str, path: Path) -> Path:
        if Path(path).resolve() == self.upload_path(import_id).resolve():
            return Path(path)  # landed already (a sync source streams straight here)
        with Path(path).open("rb") as f:
            return self.save_stream(import_id, f, Path(path).name)

    def clean_work(self, import_id: str) -> None:
        shutil.rmtree(self.workdir(import_id), ignore_errors=True)

    def remove(self, import_id: str) -> None:
        shutil.rmtree(self.import_dir(import_id), ignore_errors=True)
