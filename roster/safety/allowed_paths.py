"""Files a door may read from the server's own disk (MCP's `filePath`, the Dagster launchpad's
`file_path`): only under folders the operator allowed, since neither door proves who asks, and
never inside Roster's own data (the data directory with every team's uploads and dashboard
drafts, the landing store, the embedded database, Dagster's home), whatever folder was allowed:
the default allowed folder, the working directory, is where `roster serve` keeps `.roster/`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from roster.runtime.settings import get_settings


class PathRefused(ValueError):
    """The path is outside the allowed folders, inside Roster's own data, or no file."""


def allowed_dirs(variable: str) -> list[Path]:
    """The folders in the setting `variable` names (ROSTER_MCP_ALLOWED_DIRS, ...: os.pathsep-separated);
    left unset, the current directory."""
    settings = get_settings()
    raw = getattr(settings, settings.variables()[variable])
    dirs = [d for d in raw.split(os.pathsep) if d.strip()] if raw else [os.getcwd()]
    return [Path(d).expanduser().resolve() for d in dirs]


def roster_data_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """Where Roster keeps other teams' data; `extra`: a landing store configured elsewhere."""
    settings = get_settings()
    dirs = [settings.data_dir, settings.landing_dir, settings.pgdata_dir, settings.dagster_home, *extra]
    return [Path(d).expanduser().resolve() for d in dirs]


def _under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _resolved(file_path: str) -> Path:
    path = Path(file_path).expanduser()
    if not path.is_absolute():
        path = Path(os.getcwd()) / path
    return path.resolve()  # symlinks and .. resolved before any check


def refuse_roster_data(file_path: str, data_dirs: Iterable[Path] = ()) -> None:
    """PathRefused when `file_path` lies inside Roster's own data, whatever folders are allowed."""
    path = _resolved(file_path)
    if any(_under(path, data) for data in roster_data_dirs(data_dirs)):
        raise PathRefused(f"{file_path} is inside Roster's data directory, which no launch or tool may read from")


def check_path(file_path: str, variable: str, data_dirs: Iterable[Path] = ()) -> Path:
    path = _resolved(file_path)
    roots = allowed_dirs(variable)
    if not any(_under(path, root) for root in roots):
        raise PathRefused(
            f"{file_path} is outside the allowed directories ({os.pathsep.join(map(str, roots))}); "
            f"set {variable} to allow another"
        )
    refuse_roster_data(file_path, data_dirs)
    if not path.is_file():
        raise PathRefused(f"no such file: {file_path}")
    return path
