"""Scheduled CRM syncs: each source in $ROSTER_SYNC_CONFIG (YAML) becomes a Dagster schedule
that, on each tick, fetches the export and creates an import of it.

A source that fails (HTTP error, timeout, empty body, no file) makes a failed import with the
reason, not a crashed tick. See examples/crm_sync.yaml.
"""

import glob
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason

from assets.partitions import contact_imports
from pipelines.jobs import contact_import_job
from roster.importing.service import ImportService
from roster.landing import LandingStore
from roster.runtime.database import get_engine
from roster.runtime.settings import get_settings
from roster.safety import outside_fetch
from schemas.import_options import OPTIONS, ImportOptions, parse_options

_NAMESPACE = uuid.UUID("0d7b4a52-3f3e-4f7b-9a55-1c4de0f6b0c2")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_BYTES = 2 * 1024**3


class SyncFailed(Exception):
    pass


@dataclass
class SyncSource:
    name: str
    team: str
    cron: str
    path: str | None = None  # a local file or glob (the newest match is taken)
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # values may name ${ENV_VARS}
    timeout: float = 60.0  # seconds for the whole fetch
    allow_private: bool = False  # the URL may be on a private network (a self-hosted CRM)
    options: ImportOptions = field(default_factory=ImportOptions)


def load_sources(config: Path) -> list[SyncSource]:
    data = yaml.safe_load(config.read_text()) or {}
    sources = []
    for item in data.get("sources", []):
        src = item.get("source") or {}
        options = parse_options({k: v for k, v in item.items() if k in OPTIONS})
        if not re.fullmatch(r"[A-Za-z0-9_]+", item["name"]):
            raise ValueError(f"sync source name {item['name']!r}: use letters, digits and underscores")
        sources.append(
            SyncSource(
                name=item["name"],
                team=item["team"],
                cron=item["cron"],
                path=src.get("path"),
                url=src.get("url"),
                headers=src.get("headers") or {},
                timeout=float(src.get("timeout", 60)),
                allow_private=bool(src.get("allow_private", False)),
                options=options,
            )
        )
    return sources


def _expand(value: str) -> str:
    """Secrets stay in the environment: ${NAME} in a header is replaced when the tick runs."""

    def sub(m: re.Match) -> str:
        if m.group(1) not in os.environ:
            raise SyncFailed(f"environment variable {m.group(1)} is not set")
        return os.environ[m.group(1)]

    return _ENV.sub(sub, value)


def fetch(source: SyncSource, landing: LandingStore, import_id: str) -> tuple[Path, str]:
    """Put the source's export in the landing store; returns (path, filename)."""
    if source.path:
        matches = sorted(glob.glob(source.path), key=lambda p: Path(p).stat().st_mtime)
        if not matches:
            raise SyncFailed(f"no file matches {source.path}")
        path = Path(matches[-1])
        if path.stat().st_size == 0:
            raise SyncFailed(f"{path} is empty")
        return landing.save_path(import_id, path), path.name
    headers = {k: _expand(v) for k, v in source.headers.items()}
    # Public addresses only unless the source (or ROSTER_SYNC_ALLOW_PRIVATE_URLS) allows private
    # ones; pinned, every redirect checked, capped, one deadline (roster/safety/outside_fetch.py).
    allow_private = source.allow_private or get_settings().sync_allow_private_urls
    spool = landing.base() / ".incoming" / f"sync-{import_id}"
    spool.parent.mkdir(parents=True, exist_ok=True)
    try:
        with spool.open("wb") as out:
            got = outside_fetch.fetch_sync(
                source.url,  # type: ignore[arg-type]  # a URL source: a path one returned above
                out,
                max_bytes=MAX_BYTES,
                total_timeout=source.timeout,
                headers=headers,
                allow_private=allow_private,
            )
        if got.size == 0:
            raise SyncFailed(f"GET {source.url} returned an empty body")
        filename = got.filename or f"{source.name}.csv"
        path = landing.adopt(import_id, spool, filename)
    except outside_fetch.NotAllowed as e:
        hint = "; set allow_private: true on the source to sync from your own network" if "private address" in str(e) else ""
        raise SyncFailed(f"GET {source.url} refused: {e}{hint}") from None
    except outside_fetch.FetchError as e:
        raise SyncFailed(f"GET {source.url} {e}") from None
    finally:
        spool.unlink(missing_ok=True)
    return path, filename


def sync_tick(source: SyncSource, context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    service = ImportService(get_engine())
    landing = service.landing
    when = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else uuid.uuid4().hex
    # One import per source and tick: a tick evaluated twice finds its import and stops.
    import_id = str(uuid.uuid5(_NAMESPACE, f"{source.name}:{source.team}:{source.url or source.path}:{when}"))
    if service.exists(import_id):
        return SkipReason(f"the import for {when} exists already")
    team_id = service.team(source.team, create=True)
    try:
        path, filename = fetch(source, landing, import_id)
    except (SyncFailed, OSError) as e:
        landing.remove(import_id)
        service.record_failed(team_id, "schedule", source.url or source.path or source.name, str(e), import_id)
        return SkipReason(f"{source.name}: {e}")
    service.create(team_id, path, filename, source.options, "schedule", check=False, launched=True, import_id=import_id)
    context.instance.add_dynamic_partitions(contact_imports.name, [import_id])  # type: ignore[arg-type]  # named
    return RunRequest(
        run_key=import_id,
        partition_key=import_id,
        tags={"roster/team": source.team, "roster/source": "schedule", "roster/sync": source.name},
    )


def build_schedules(config: Path | None = None) -> list[ScheduleDefinition]:
    path = config or get_settings().sync_config
    if path is None:
        return []
    schedules = []
    for source in load_sources(path):

        def evaluate(context: ScheduleEvaluationContext, source: SyncSource = source) -> RunRequest | SkipReason:
            return sync_tick(source, context)

        schedules.append(
            ScheduleDefinition(
                name=f"crm_sync_{source.name}",
                cron_schedule=source.cron,
                job=contact_import_job,
                execution_fn=evaluate,
                default_status=DefaultScheduleStatus.RUNNING,
                description=f"Import {source.url or source.path} into team {source.team!r}",
            )
        )
    return schedules
