"""An upload waiting for its mapping review: the file, spooled where the API spools uploads (so
the landing sweep removes one left for a day), named by team and a random id so a team can only
ever reach its own. Starting the import hands the file to the import service, which lands it."""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from roster.csvfiles import iter_batches, open_source
from roster.landing import INCOMING, LandingStore
from roster.mapping.service import head_of

PREVIEW_ROWS = 8
# Rows read for the checks shown before the import starts (HubSpot checks its first 1,000).
CHECK_ROWS = 1000
_DRAFT_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Draft:
    id: str
    team_id: int
    path: Path
    filename: str


def _dir(landing: LandingStore) -> Path:
    return landing.base() / INCOMING


def _path(landing: LandingStore, team_id: int, draft_id: str) -> Path:
    return _dir(landing) / f"draft-{int(team_id)}-{draft_id}.csv"


def adopt(landing: LandingStore, team_id: int, spooled: Path, filename: str) -> Draft:
    """Take a spooled upload as a draft of the team's (moved, not copied)."""
    draft_id = uuid.uuid4().hex
    path = _path(landing, team_id, draft_id)
    spooled.replace(path)
    path.with_suffix(".json").write_text(json.dumps({"filename": filename}))
    return Draft(draft_id, team_id, path, filename)


def find(landing: LandingStore, team_id: int, draft_id: str) -> Draft | None:
    """The team's draft, or None (another team's id, a swept one, or not an id at all)."""
    if not _DRAFT_ID.match(draft_id or ""):
        return None
    path = _path(landing, team_id, draft_id)
    if not path.is_file():
        return None
    try:
        filename = json.loads(path.with_suffix(".json").read_text()).get("filename") or "upload.csv"
    except (OSError, ValueError):
        filename = "upload.csv"
    return Draft(draft_id, team_id, path, filename)


def discard(draft: Draft) -> None:
    draft.path.unlink(missing_ok=True)
    draft.path.with_suffix(".json").unlink(missing_ok=True)


def preview(draft: Draft, rows: int = PREVIEW_ROWS) -> dict:
    """What the import will read: encoding, delimiter, headers and the first rows, from the file's
    head only (a 200 MB file is not read whole to show eight rows). Raises FileRefused."""
    with tempfile.TemporaryDirectory(prefix="roster-dashboard-") as tmp:
        work = Path(tmp)
        source = open_source(head_of(draft.path, work), work)
        first: list[list[str]] = []
        for batch in iter_batches(source, rows, tolerant=True):
            frame = batch.frame.head(rows - len(first)).select(source.headers)
            for record in frame.iter_rows():
                first.append(["" if v is None else str(v) for v in record])
            if len(first) >= rows:
                break
    info = source.info()
    return {
        "encoding": info["encoding"],
        "delimiter": info["delimiter"],
        "headers": source.headers,
        "rows": first,
        "compressed": source.compressed,
        "notes": source.notes,
        "size_bytes": draft.path.stat().st_size,
    }
