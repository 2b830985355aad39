"""Running an import as a Dagster run, in this process, recorded in the Dagster instance."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult

from assets.partitions import contact_imports
from roster.runtime import collector
from roster.runtime.settings import get_settings

# Package data, so any install ships it (pyproject.toml); copied into DAGSTER_HOME when none is there.
SHIPPED_INSTANCE_CONFIG = Path(__file__).resolve().parent / "dagster.yaml"


def dagster_instance() -> DagsterInstance:
    """The instance under DAGSTER_HOME (default: the data directory), so runs show in the UI."""
    home = get_settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if SHIPPED_INSTANCE_CONFIG.exists() and (not config.exists() or _outdated_copy(config)):
        shutil.copy(SHIPPED_INSTANCE_CONFIG, config)
    os.environ["DAGSTER_HOME"] = str(home)
    # Dagster creates its SQLite storages (and stamps their alembic_version) when the instance is
    # made; two processes doing that at once on a new home (two `roster import`s, a CLI beside
    # the MCP server) stamp twice, and every later start fails with "more than one head". One at a
    # time, then: the second finds the storages made.
    with (home / ".instance.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return DagsterInstance.get()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _outdated_copy(config: Path) -> bool:
    """A copy of an earlier release's shipped config, never edited by hand: replaced on upgrade.
    A config someone wrote (it lacks the shipped first line) is theirs and left alone."""
    text, shipped = config.read_text(), SHIPPED_INSTANCE_CONFIG.read_text()
    return text != shipped and text.splitlines()[:1] == shipped.splitlines()[:1]


def run_import(
    import_id: str,
    tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
    instance: DagsterInstance | None = None,
) -> ExecuteInProcessResult:
    """Add the import's partition and execute the contact_import job for it. Returns the result."""
    from pipelines.in_process import import_defs

    instance = instance or dagster_instance()
    instance.add_dynamic_partitions(contact_imports.name, [import_id])  # type: ignore[arg-type]  # named
    config = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}, **(run_config or {})}
    # Dagster's own tags (the partition's) come from partition_key; a sensor's request carries them too.
    tags = {k: v for k, v in (tags or {}).items() if not k.startswith("dagster/")}
    collector.resume()  # loading is done: the run's own objects are collected as usual
    return import_defs.resolve_job_def("contact_import").execute_in_process(
        instance=instance,
        partition_key=import_id,
        tags=tags,
        run_config=config,
        raise_on_error=False,
    )


def add_partition(import_id: str, instance: DagsterInstance | None = None) -> None:
    (instance or dagster_instance()).add_dynamic_partitions(contact_imports.name, [import_id])  # type: ignore[arg-type]  # named


def main(argv: list[str]) -> int:
    """`python -m pipelines.launch IMPORT_ID [TAGS_JSON]`: run one import; exit 0 if it completed."""
    import warnings

    from roster.runtime.lifeline import follow_parent_if_asked

    collector.pause()  # until the run starts, as `roster import` does (roster/runtime/collector.py)
    follow_parent_if_asked()  # as every run worker does (pipelines/definitions.py)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    tags = json.loads(argv[1]) if len(argv) > 1 else {}
    result = run_import(argv[0], tags)
    return 0 if result.success else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
