"""An upload waiting for its mapping review: the file, spooled where the API spools uploads (so
the landing sweep removes one left for a day), named by team and a random id so a team can only
ever reach its own. Starting the import hands the file to the import service, which lands it.

The file's head is read once, when it is uploaded: what was read (encoding, delimiter, headers,
the first rows) is kept beside the file, and the review page, its checks and the mapping
suggestion all work from that, so showing the review again never reads a 200 MB file again."""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roster.csvfiles import iter_batches, open_source
from roster.landing import INCOMING, LandingStore
from roster.mapping.service import head_of

PREVIEW_ROWS = 8
# Rows read for the checks shown before the import starts (HubSpot checks its first 1,000).
CHECK_ROWS = 1000
# Rows whose values the mapping engines look at (as roster.mapping.service reads a file).
SAMPLE_ROWS = 50
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


def _meta(draft: Draft) -> dict[str, Any]:
    try:
        meta = json.loads(draft.path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def find(landing: LandingStore, team_id: int, draft_id: str) -> Draft | None:
    """The team's draft, or None (another team's id, a swept one, or not an id at all)."""
    if not _DRAFT_ID.match(draft_id or ""):
        return None
    path = _path(landing, team_id, draft_id)
    if not path.is_file():
        return None
    draft = Draft(draft_id, team_id, path, "upload.csv")
    draft.filename = str(_meta(draft).get("filename") or "upload.csv")
    return draft


def mark_started(draft: Draft, import_id: str) -> None:
    """The file went to the import: remove it, and keep only which import it became, so the review
    URL (the back button, a second press of Start) leads to that import. Swept after a day like
    the rest of the incoming directory."""
    draft.path.unlink(missing_ok=True)
    draft.path.with_suffix(".json").write_text(json.dumps({"filename": draft.filename, "import_id": import_id}))


def started_import(landing: LandingStore, team_id: int, draft_id: str) -> str | None:
    """The id of the import the team's draft `draft_id` was started as, or None."""
    if not _DRAFT_ID.match(draft_id or ""):
        return None
    meta = _meta(Draft(draft_id, team_id, _path(landing, team_id, draft_id), ""))
    found = str(meta.get("import_id") or "")
    return found if re.fullmatch(r"[0-9a-f-]{36}", found) else None


def discard(draft: Draft) -> None:
    draft.path.unlink(missing_ok=True)
    draft.path.with_suffix(".json").unlink(missing_ok=True)


def read_head(draft: Draft) -> dict[str, Any]:
    """What the import will read, as `preview(draft, CHECK_ROWS)` gives it, read once per upload:
    the first call reads the file's head and keeps the result beside the file; later calls (the
    review page shown again, Start) read that. Raises FileRefused."""
    meta = _meta(draft)
    if isinstance(meta.get("head"), dict):
        kept: dict[str, Any] = meta["head"]
        return kept
    head = preview(draft, rows=CHECK_ROWS)
    meta |= {"filename": draft.filename, "head": head}
    draft.path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False))
    return head


def samples(head: dict[str, Any], rows: int = SAMPLE_ROWS) -> dict[str, list[str]]:
    """header -> its non-blank values in the first `rows` rows: what the mapping engines look at."""
    return {h: [r[i] for r in head["rows"][:rows] if i < len(r) and r[i] != ""] for i, h in enumerate(head["headers"])}


def distinct_values(head: dict[str, Any], limit: int = 3) -> dict[str, list[str]]:
    """header -> up to `limit` different non-blank values from the rows read (a column of one
    repeated value shows it once)."""
    out: dict[str, list[str]] = {}
    for i, h in enumerate(head["headers"]):
        seen: dict[str, None] = {}
        for r in head["rows"]:
            v = r[i].strip() if i < len(r) else ""
            if v and v not in seen:
                seen[v] = None
                if len(seen) == limit:
                    break
        out[h] = list(seen)
    return out


def preview(draft: Draft, rows: int = PREVIEW_ROWS) -> dict[str, Any]:
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
