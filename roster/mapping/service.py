"""Suggesting a column map for a file: what the CLI, the REST API and the MCP server call.

Only the file's first few megabytes are read (decompressed, for a gzip file): enough for the
header and the sample rows, whatever the file's size.
"""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from sqlalchemy.engine import Engine

from roster.csvfiles import open_source, sample_values
from roster.runtime.settings import get_settings
from roster.store import properties

from .models import ExistingProperty, Suggestion

if TYPE_CHECKING:
    from .resolve import ColumnMapper

HEAD_BYTES = 4 << 20
SAMPLE_ROWS = 50
SUGGESTION_FIELDS = (
    "column",
    "target",
    "property_key",
    "property_type",
    "invert",
    "confidence",
    "reason",
    "engine",
    "is_new_property",
)


def _cut_at_line_end(raw: bytes) -> bytes:
    """Never end inside a row's line or a character (UTF-16 lines end in two bytes)."""
    if raw.startswith(codecs.BOM_UTF16_LE) or (len(raw) >= 20 and raw[1:20:2].count(0) >= 8 and raw[0:20:2].count(0) == 0):
        i = raw.rfind(b"\n\x00")
        while i > 0 and i % 2:
            i = raw.rfind(b"\n\x00", 0, i)
        return raw[: i + 2] if i > 0 else raw[: len(raw) - len(raw) % 2]
    if raw.startswith(codecs.BOM_UTF16_BE) or (len(raw) >= 20 and raw[0:20:2].count(0) >= 8 and raw[1:20:2].count(0) == 0):
        i = raw.rfind(b"\x00\n")
        while i > 0 and i % 2:
            i = raw.rfind(b"\x00\n", 0, i)
        return raw[: i + 2] if i > 0 else raw[: len(raw) - len(raw) % 2]
    i = raw.rfind(b"\n")
    return raw[: i + 1] if i > 0 else raw


def head_of(path: Path, workdir: Path, limit: int = HEAD_BYTES) -> Path:
    """`path` itself when small, else a copy of its first `limit` bytes (decompressed) cut at a line end."""
    path = Path(path)
    with path.open("rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        from roster.csvfiles.sniff import inflate

        buf = bytearray()
        for chunk in inflate(path):  # damaged data is refused; a read error (EIO) is not the file's fault
            buf += chunk
            if len(buf) > limit:
                break
        raw = bytes(buf)
    else:
        if path.stat().st_size <= limit:
            return path
        with path.open("rb") as f:
            raw = f.read(limit + 1)
    if len(raw) > limit:
        raw = _cut_at_line_end(raw[:limit])
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "head.csv"
    out.write_bytes(raw)
    return out


def read_file_sample(path: Path, workdir: Path, rows: int = SAMPLE_ROWS) -> tuple[list[str], dict[str, list[str]]]:
    """(headers, header -> first values), the way an import reads the file. Raises FileRefused."""
    source = open_source(head_of(Path(path), workdir), workdir)
    return source.headers, sample_values(source, rows)


def team_properties(engine: Engine, team_id: int) -> list[ExistingProperty]:
    return [ExistingProperty(k, t) for k, t in properties.by_key(engine, team_id)]


class SuggestionObject(TypedDict):
    """One column's suggestion as the doors show it (SUGGESTION_FIELDS, in that order)."""

    column: str
    target: str
    property_key: str | None
    property_type: str | None
    invert: bool
    confidence: float
    reason: str
    engine: str
    is_new_property: bool


class SuggestedColumnMap(TypedDict):
    """A column-map suggestion: what POST /contacts/imports/column-map answers (with its `object`),
    `roster mapping suggest` prints and the dashboard's review shows."""

    column_map: dict[str, Any]  # the import API's shape (new properties included: it is a suggestion)
    suggestions: list[SuggestionObject]
    headers: NotRequired[list[str]]  # with_headers
    notes: NotRequired[list[str]]  # with_headers


def suggestion_dict(s: Suggestion) -> SuggestionObject:
    d = s.to_dict()
    return cast(SuggestionObject, {k: d[k] for k in SUGGESTION_FIELDS})


def render(suggestions: list[Suggestion]) -> SuggestedColumnMap:
    from .column_map import to_column_map

    return {"column_map": to_column_map(suggestions), "suggestions": [suggestion_dict(s) for s in suggestions]}


def suggest_for_file(
    engine: Engine | None,
    team_id: int | None,
    path: str | Path,
    existing: list[ExistingProperty] | list[dict[str, Any]] | None = None,
    *,
    mapper: ColumnMapper | None = None,  # from resources.column_mapper.Mapping, for its settings
    use_memory: bool = True,
    with_headers: bool = False,
    model_mapping: bool | None = None,
) -> SuggestedColumnMap:
    """Suggest a column map for the CSV at `path` for a team.

    existing: the team's properties ([ExistingProperty] or [{"key", "type"}]); None reads them from
    the database. A mapping the team accepted before for these headers is preferred (engine
    "memory"). The model is asked when OPENAI_API_KEY is set (one request), else the offline
    engine answers. Raises roster.csvfiles.FileRefused for a file no import could read.
    Returns {"column_map": ..., "suggestions": [...]} (plus "headers" and "notes" with with_headers).
    """
    with tempfile.TemporaryDirectory(prefix="roster-mapping-") as tmp:
        headers, samples = read_file_sample(Path(path), Path(tmp))
    return suggest_for_sample(
        engine,
        team_id,
        headers,
        samples,
        existing,
        mapper=mapper,
        use_memory=use_memory,
        with_headers=with_headers,
        model_mapping=model_mapping,
    )


def suggest_for_sample(
    engine: Engine | None,
    team_id: int | None,
    headers: list[str],
    samples: dict[str, list[str]],
    existing: list[ExistingProperty] | list[dict[str, Any]] | None = None,
    *,
    mapper: ColumnMapper | None = None,
    use_memory: bool = True,
    with_headers: bool = False,
    model_mapping: bool | None = None,
) -> SuggestedColumnMap:
    """suggest_for_file for a file already read: its headers and each column's first values (the
    dashboard reads an upload's head once and hands it to both its checks and this)."""
    from .engine import suggest
    from .memory import recall

    if existing is None:
        existing = team_properties(engine, team_id) if engine is not None and team_id is not None else []
    props = [
        p if isinstance(p, ExistingProperty) else ExistingProperty(str(p["key"]), str(p.get("type", "string"))) for p in existing
    ]
    remembered = None
    if use_memory and engine is not None and team_id is not None:
        remembered = recall(engine, team_id, headers)
    from .consent import model_allowed

    allowed = model_allowed(engine, team_id, model_mapping)
    if mapper is not None:
        outcome = mapper.suggest(headers, samples, {p.key: p.type for p in props}, remembered=remembered, model_allowed=allowed)
    else:  # the same defaults as the ColumnMapper resource, without loading Dagster
        outcome = suggest(
            headers,
            samples,
            props,
            engine=get_settings().mapping_engine if allowed else "offline",
            remembered=remembered,
        )
        if not allowed and not remembered and get_settings().openai_api_key and get_settings().mapping_engine != "offline":
            outcome.notes.append(
                "the model was not asked: neither the caller nor the team opted in to "
                "sending the file to it (model_mapping); the offline engine answered"
            )
    out = render(outcome.suggestions)
    if with_headers:
        out["headers"], out["notes"] = headers, outcome.notes
    return out
