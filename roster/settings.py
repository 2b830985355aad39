"""Where Roster keeps things, read from the environment once per call (tests change it)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# A field larger than this fails its row: it is documented, and it bounds the parser's memory.
MAX_FIELD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    batch_rows: int

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.data_dir / "dagster")


def get_settings() -> Settings:
    return Settings(
        data_dir=Path(os.environ.get("ROSTER_DATA_DIR", ".roster")).absolute(),
        database_url=os.environ.get("DATABASE_URL") or None,
        batch_rows=int(os.environ.get("ROSTER_BATCH_ROWS", "50000")),
    )
