"""Files a door may read from the server's own disk (MCP's `filePath`, the Dagster launchpad's
`file_path`): only under folders the operator allowed, since neither door proves who asks."""

from __future__ import annotations

import os
from pathlib import Path


class PathRefused(ValueError):
    """The path is outside the allowed folders, or no file."""


def allowed_dirs(variable: str) -> list[Path]:
    """The folders in `variable` (os.pathsep-separated); left unset, the current directory."""
    raw = os.environ.get(variable)
    dirs = [d for d in raw.split(os.pathsep) if d.strip()] if raw else [os.getcwd()]
    return [Path(d).expanduser().resolve() for d in dirs]


def check_path(file_path: str, variable: str) -> Path:
    path = Path(file_path).expanduser()
    if not path.is_absolute():
        path = Path(os.getcwd()) / path
    path = path.resolve()  # symlinks and .. resolved before the check
    roots = allowed_dirs(variable)
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise PathRefused(
            f"{file_path} is outside the allowed directories ({os.pathsep.join(map(str, roots))}); "
            f"set {variable} to allow another"
        )
    if not path.is_file():
        raise PathRefused(f"no such file: {file_path}")
    return path
