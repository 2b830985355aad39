"""Every setting Roster reads from its environment, in one typed object: `Settings`, through
`get_settings()`.

Each field names its variable, its type, its default and what it does (the README's configuration
table is checked against these by tests/test_docs.py). A bad value is refused with the variable
named (`SettingsError`, a ValueError), the first time the settings are read. A yes/no setting is
pydantic's boolean: 1/0, true/false, yes/no, on/off (any case); an empty variable is unset.

`get_settings()` parses the environment once and hands back the same object while the variables it
reads (and the working directory, which a relative ROSTER_DATA_DIR is taken against) stay as they
are: a process, or a test, that changes one gets a fresh parse at its next call, so nothing reads a
stale value. A module that keeps a setting in a constant (roster/store/leases.py) reads it when it is
imported, as before.

Not here: the SDK's own ROSTER_API_KEY / ROSTER_API_URL (roster/client, a client library that reads
nothing of the server's), and the tests' hooks ROSTER_CRASH_AT, ROSTER_FAULT_DIR (roster/runtime/faults.py)
and ROSTER_LIFELINE (roster/runtime/lifeline.py, set by `roster serve` for its children)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
GIB = 1024 * MIB

# A field larger than this fails its row: it is documented, and it bounds the parser's memory.
# (The default of ROSTER_MAX_FIELD_BYTES; read it through file_limits().)
MAX_FIELD_BYTES = MIB


class SettingsError(ValueError):
    """A setting's value cannot be used; the message names the variable and what it should be."""


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


class Settings(BaseSettings):
    """Roster's configuration: one field per environment variable (the field's alias)."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        env_ignore_empty=True,  # VAR= is unset, as it always was
        extra="ignore",
        frozen=True,
        validate_by_name=True,  # Settings(batch_rows=10) in a test
    )

    # -- where things are ------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        alias="DATABASE_URL",
        description="Any PostgreSQL 14+; without it an embedded PostgreSQL runs in `$ROSTER_DATA_DIR/pgdata`.",
    )
    data_dir: Path = Field(
        default=Path(".roster"),
        alias="ROSTER_DATA_DIR",
        description="The embedded database, the landing store (`landing/<import id>/`), Dagster's home (made absolute).",
    )
    dagster_home_dir: Path | None = Field(
        default=None,
        alias="DAGSTER_HOME",
        description="Dagster's instance (default `$ROSTER_DATA_DIR/dagster`); read it as `dagster_home`.",
    )
    landing: Literal["folder", "postgres"] = Field(
        default="folder",
        alias="ROSTER_LANDING",
        description="`postgres`: uploads are kept in the database too, so a run on any machine can read its file.",
    )
    launchpad_allowed_dirs: str | None = Field(
        default=None,
        alias="ROSTER_LAUNCHPAD_ALLOWED_DIRS",
        description="Folders (os.pathsep-separated) a launch from the Dagster UI may import from; unset: the working directory.",
    )

    # -- imports ---------------------------------------------------------------------------------
    batch_rows: int = Field(
        default=50_000,
        gt=0,
        alias="ROSTER_BATCH_ROWS",
        description="About this many rows are read, validated and copied per batch.",
    )
    launch: Literal["sensor", "inline"] = Field(
        default="sensor",
        alias="ROSTER_LAUNCH",
        description="How API imports start: the daemon's sensor, or `inline` (a child process, for development).",
    )
    keep_uploads_hours: float = Field(
        default=24.0,
        ge=0,
        alias="ROSTER_KEEP_UPLOADS_HOURS",
        description="How long a failed import's upload is kept for a retry (0: swept at the next sweep).",
    )
    undo_scan_share: float = Field(
        default=0.25,
        ge=0,
        alias="ROSTER_UNDO_SCAN_SHARE",
        description="From how many rows, as a share of the contacts table, an import's undo record reads the values before by one scan rather than a lookup per contact (0: always the scan, inf: always the lookup).",
    )
    merge_parts_from_rows: int = Field(
        default=200_000,
        ge=0,
        alias="ROSTER_MERGE_PARTS_FROM_ROWS",
        description="From how many staged rows an import's merge is split by email into two parts merged at once on two connections (0: never).",
    )
    undo_retention_days: float = Field(
        default=30.0,
        ge=0,
        alias="ROSTER_UNDO_RETENTION_DAYS",
        description="How long what an import changed is kept for its revert, after its merge.",
    )
    stuck_run_seconds: int = Field(
        default=60,
        gt=0,
        alias="ROSTER_STUCK_RUN_SECONDS",
        description="A run whose heartbeat has been silent this long is failed and retried (at least 3 heartbeats).",
    )
    watchdog_tick_seconds: int = Field(
        default=15,
        gt=0,
        alias="ROSTER_WATCHDOG_TICK_SECONDS",
        description="How often the watchdog (a thread of the daemon) looks for in_progress imports without a live run (one is settled after 3 looks in a row).",
    )
    max_unstarted_launches: int = Field(
        default=12,
        gt=0,
        alias="ROSTER_MAX_UNSTARTED_LAUNCHES",
        description="Runs of one import that never started working before the import is failed saying so.",
    )
    launch_lost_seconds: int = Field(
        default=120,
        gt=0,
        alias="ROSTER_LAUNCH_LOST_SECONDS",
        description="A queued import claimed for a launch whose run never appeared, or ended without starting, is launched again after this long.",
    )
    lock_timeout_seconds: int = Field(
        default=30,
        gt=0,
        alias="ROSTER_LOCK_TIMEOUT_SECONDS",
        description="A run's statement waiting this long for a lock gives up, and its step is retried.",
    )

    # -- what one file may cost (FileLimits) -----------------------------------------------------
    # 10x the default upload limit: CSV compresses 5-10x, so any honest 200 MB .csv.gz fits.
    max_decompressed_bytes: int = Field(
        default=2 * GIB, gt=0, alias="ROSTER_MAX_DECOMPRESSED_BYTES", description="What a `.gz` may inflate to."
    )
    # A gzip bomb is deflate's best, about 1000:1; CSV compresses 3-20:1 (Apache POI allows 100:1 too).
    max_compression_ratio: int = Field(
        default=100,
        gt=0,
        alias="ROSTER_MAX_COMPRESSION_RATIO",
        description="How many times its size a `.gz` may inflate to, past its first 64 MiB out.",
    )
    max_header_bytes: int = Field(default=MIB, gt=0, alias="ROSTER_MAX_HEADER_BYTES", description="The header row's length.")
    max_columns: int = Field(default=2000, gt=0, alias="ROSTER_MAX_COLUMNS", description="Columns in the header row.")
    max_field_bytes: int = Field(
        default=MAX_FIELD_BYTES, gt=0, alias="ROSTER_MAX_FIELD_BYTES", description="One field: a larger one fails its row."
    )
    max_row_bytes: int = Field(
        default=8 * MIB, gt=0, alias="ROSTER_MAX_ROW_BYTES", description="One row's text: a longer one fails its row."
    )

    # -- the API ---------------------------------------------------------------------------------
    max_upload_bytes: int = Field(
        default=200 * MIB, gt=0, alias="ROSTER_MAX_UPLOAD_BYTES", description="The API's upload limit (413 over it)."
    )
    upload_min_rate: float = Field(
        default=1024.0,
        gt=0,
        alias="ROSTER_UPLOAD_MIN_RATE",
        description="Bytes a second an upload must bring over every 30 s window (408 if slower).",
    )
    upload_timeout: float = Field(
        default=3600.0,
        gt=0,
        alias="ROSTER_UPLOAD_TIMEOUT",
        description="Seconds an upload's whole body may take (408 after it): 200 MB at 56 kB/s.",
    )
    rate_limit: float = Field(
        default=10.0,
        gt=0,
        alias="ROSTER_RATE_LIMIT",
        description="API requests a second per team, and per client address for keys not yet verified.",
    )
    bad_key_limit: float = Field(
        default=10.0, gt=0, alias="ROSTER_BAD_KEY_LIMIT", description="Failed API-key lookups a minute per client address."
    )
    idempotency_lease: float = Field(
        default=30.0,
        gt=0,
        alias="ROSTER_IDEMPOTENCY_LEASE",
        description="Seconds a running request's idempotency key stays held after its process stops renewing it.",
    )

    # -- the dashboard ---------------------------------------------------------------------------
    session_secret: SecretStr | None = Field(
        default=None,
        alias="ROSTER_SESSION_SECRET",
        description="Signs dashboard sessions; unset: a random secret kept in the data directory.",
    )
    dashboard_origins: str = Field(
        default="",
        alias="ROSTER_DASHBOARD_ORIGINS",
        description="Comma-separated origins the dashboard's forms may be posted from besides the request's own host.",
    )
    dagster_url: str | None = Field(
        default=None,
        alias="ROSTER_DAGSTER_URL",
        description="Where the dashboard links an import's Dagster run; unset: port 3000 of the request's host.",
    )

    # -- the mapping model -----------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        default=None, alias="OPENAI_API_KEY", description="The mapping model's key; used only with consent."
    )
    openai_base_url: str | None = Field(
        default=None, alias="OPENAI_BASE_URL", description="Any OpenAI-compatible server; unset: OpenAI."
    )
    openai_model: str = Field(default="gpt-4o-mini", alias="ROSTER_OPENAI_MODEL", description="The mapping model.")
    mapping_model_opt_in: bool = Field(
        default=False,
        alias="ROSTER_MAPPING_MODEL_OPT_IN",
        description="Every team that has not said otherwise lets the model see its files' headers and samples.",
    )
    mapping_share_values: bool = Field(
        default=True, alias="ROSTER_MAPPING_SHARE_VALUES", description="Send the model sample values (false: their shapes only)."
    )
    mapping_timeout: float = Field(
        default=15.0, gt=0, alias="ROSTER_MAPPING_TIMEOUT", description="Seconds the model has to answer."
    )
    mapping_engine: Literal["auto", "openai", "offline"] = Field(
        default="auto", alias="ROSTER_MAPPING_ENGINE", description="Which engine maps columns; `offline` never asks the model."
    )

    # -- files from elsewhere --------------------------------------------------------------------
    drop_dir: Path | None = Field(
        default=None, alias="ROSTER_DROP_DIR", description="The drop folder (one subdirectory per team)."
    )
    sync_config: Path | None = Field(default=None, alias="ROSTER_SYNC_CONFIG", description="The CRM-sync sources (YAML).")
    sync_allow_private_urls: bool = Field(
        default=False,
        alias="ROSTER_SYNC_ALLOW_PRIVATE_URLS",
        description="CRM-sync URLs may be private addresses, for every source.",
    )
    mcp_allowed_dirs: str | None = Field(
        default=None,
        alias="ROSTER_MCP_ALLOWED_DIRS",
        description="Folders (os.pathsep-separated) the MCP server may read a file from; unset: the working directory.",
    )
    mcp_allow_private_urls: bool = Field(
        default=False, alias="ROSTER_MCP_ALLOW_PRIVATE_URLS", description="The MCP server may fetch from private addresses."
    )
    mcp_max_url_bytes: int = Field(
        default=200 * MIB, gt=0, alias="ROSTER_MCP_MAX_URL_BYTES", description="The most the MCP server downloads from a URL."
    )
    webhooks_allow_private_urls: bool = Field(
        default=False, alias="ROSTER_WEBHOOKS_ALLOW_PRIVATE_URLS", description="Webhook endpoints may be private addresses."
    )
    webhooks_timeout: float = Field(
        default=10.0, gt=0, alias="ROSTER_WEBHOOKS_TIMEOUT", description="Seconds the daemon waits for an endpoint's answer."
    )
    webhooks_retry_hours: float = Field(
        default=24.0,
        ge=0,
        alias="ROSTER_WEBHOOKS_RETRY_HOURS",
        description="How long a failing event is retried before its endpoint is disabled.",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _stripped(cls, value: Any) -> Any:
        # " yes", "50000 ": what the old readers' .strip() accepted.
        return value.strip() if isinstance(value, str) else value

    @field_validator("landing", "launch", "mapping_engine", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.absolute()

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def dagster_home(self) -> Path:
        return self.dagster_home_dir or self.data_dir / "dagster"

    @property
    def file_limits(self) -> FileLimits:
        return FileLimits(
            max_decompressed_bytes=self.max_decompressed_bytes,
            max_compression_ratio=self.max_compression_ratio,
            max_header_bytes=self.max_header_bytes,
            max_columns=self.max_columns,
            max_field_bytes=self.max_field_bytes,
            max_row_bytes=self.max_row_bytes,
        )

    @classmethod
    def variables(cls) -> dict[str, str]:
        """{environment variable: field name}, for every setting."""
        return {str(f.alias): name for name, f in cls.model_fields.items()}


VARIABLES = tuple(Settings.variables())
_ENCODED = tuple(map(os.environ.encodekey, VARIABLES)) if hasattr(os.environ, "encodekey") else None
_cache: tuple[tuple[object, ...], Settings] | None = None


def _environment_key() -> tuple[object, ...]:
    """What the settings are read from: the working directory and every variable's value.
    CPython's os.environ keeps its (encoded) values in a plain dict: 42 lookups there cost about
    3 us, through os.environ.get 40-80 us."""
    environ = os.environ
    data = getattr(environ, "_data", None)
    if isinstance(data, dict) and _ENCODED is not None:
        return (os.getcwd(), *map(data.get, _ENCODED))
    return (os.getcwd(), *map(environ.get, VARIABLES))


def _read() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = ".".join(str(p) for p in err["loc"])
            raw = os.environ.get(name)
            msg = err["msg"][0].lower() + err["msg"][1:]
            problems.append(f"{name}={raw!r}: {msg}" if raw is not None else f"{name}: {msg}")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


def get_settings() -> Settings:
    """The settings, parsed once for as long as the environment's Roster variables stay the same."""
    global _cache
    key = _environment_key()
    cached = _cache
    if cached is not None and cached[0] == key:
        return cached[1]
    settings = _read()
    _cache = (key, settings)
    return settings


def file_limits() -> FileLimits:
    return get_settings().file_limits


def size_text(n: int) -> str:
    """A limit in a person's words: 1 MiB, or 1,500,000 bytes when it is no whole MiB."""
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n:,} bytes"


def keep_uploads_hours() -> float:
    """ROSTER_KEEP_UPLOADS_HOURS: how long a failed import's upload is kept for a retry (0: swept
    at the next sweep). A completed import's upload is deleted when it completes."""
    return get_settings().keep_uploads_hours


def undo_retention_days() -> float:
    """ROSTER_UNDO_RETENTION_DAYS: how long what an import changed is kept for its revert (default
    30 days after its merge); then the retention sweep drops it and a revert is refused."""
    return get_settings().undo_retention_days


def merge_parts_from_rows() -> int:
    """ROSTER_MERGE_PARTS_FROM_ROWS: from how many staged rows an import's merge is split by email
    into two parts, merged at once on two connections (default 200,000; 0: never)."""
    return get_settings().merge_parts_from_rows


def undo_scan_share() -> float:
    """ROSTER_UNDO_SCAN_SHARE: from how many rows, as a share of the contacts table, an import's
    undo record reads the values before by one scan of the team's contacts rather than a lookup
    per contact (default 0.25; 0: always the scan, inf: always the lookup)."""
    return get_settings().undo_scan_share
