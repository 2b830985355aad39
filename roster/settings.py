"""Where Roster keeps things, read from the environment once per call (tests change it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# A field larger than this fails its row: it is documented, and it bounds the parser's memory.
# (The default of ROSTER_MAX_FIELD_BYTES; read it through file_limits().)
MAX_FIELD_BYTES = 1024 * 1024

MIB = 1024 * 1024
GIB = 1024 * MIB


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


@dataclass(frozen=True)
class FileLimits:
    """What any one file may cost. Each is checked while the file streams, never after reading it whole."""

    max_decompressed_bytes: int  # a .gz inflates to at most this (a gzip bomb is refused)
    max_compression_ratio: int  # a .gz inflates to at most this many times its size (past 64 MiB out)
    max_header_bytes: int  # the header row's length: it is read whole, however long
    max_columns: int  # columns in the header row
    max_field_bytes: int  # one field; a larger one fails its row
    max_row_bytes: int  # one record (all its lines); a longer one fails its row

    @property
    def line_bytes(self) -> int:
        """The most the tolerant reader takes of one physical line: a row can be no longer."""
        return max(self.max_row_bytes, self.max_field_bytes)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, not {raw!r}")
    return value


def file_limits() -> FileLimits:
    return FileLimits(
        # 10x the default upload limit: CSV compresses 5-10x, so any honest 200 MB .csv.gz fits.
        max_decompressed_bytes=_env_int("ROSTER_MAX_DECOMPRESSED_BYTES", 2 * GIB),
        # A gzip bomb is deflate's best, about 1000:1; CSV compresses 3-20:1 (Apache POI allows 100:1 too).
        max_compression_ratio=_env_int("ROSTER_MAX_COMPRESSION_RATIO", 100),
        max_header_bytes=_env_int("ROSTER_MAX_HEADER_BYTES", MIB),
        max_columns=_env_int("ROSTER_MAX_COLUMNS", 2000),
        max_field_bytes=_env_int("ROSTER_MAX_FIELD_BYTES", MAX_FIELD_BYTES),
        max_row_bytes=_env_int("ROSTER_MAX_ROW_BYTES", 8 * MIB),
    )


def size_text(n: int) -> str:
    """A limit in a person's words: 1 MiB, or 1,500,000 bytes when it is no whole MiB."""
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n:,} bytes"


def keep_uploads_hours() -> float:
    """ROSTER_KEEP_UPLOADS_HOURS: how long a failed import's upload is kept for a retry (0: swept
    at the next sweep). A completed import's upload is deleted when it completes."""
    raw = os.environ.get("ROSTER_KEEP_UPLOADS_HOURS", "").strip()
    value = float(raw) if raw else 24.0
    if value < 0:
        raise ValueError(f"ROSTER_KEEP_UPLOADS_HOURS must be 0 or more, not {raw!r}")
    return value


def undo_retention_days() -> float:
    """ROSTER_UNDO_RETENTION_DAYS: how long what an import changed is kept for its revert (default
    30 days after its merge); then the retention sweep drops it and a revert is refused."""
    raw = os.environ.get("ROSTER_UNDO_RETENTION_DAYS", "").strip()
    value = float(raw) if raw else 30.0
    if value < 0:
        raise ValueError(f"ROSTER_UNDO_RETENTION_DAYS must be 0 or more, not {raw!r}")
    return value


def undo_scan_share() -> float:
    """ROSTER_UNDO_SCAN_SHARE: from how many rows, as a share of the contacts table, an import's
    undo record reads the values before by one scan of the team's contacts rather than a lookup
    per contact (default 0.25; 0: always the scan, inf: always the lookup)."""
    raw = os.environ.get("ROSTER_UNDO_SCAN_SHARE", "").strip()
    value = float(raw) if raw else 0.25
    if not value >= 0:
        raise ValueError(f"ROSTER_UNDO_SCAN_SHARE must be 0 or more, not {raw!r}")
    return value
