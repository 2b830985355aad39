"""What is checked before an import is queued: the file opens, has an email column (or one can be
found), the column map fits its headers, and the segments and topics exist. All of it offline:
the model, if any, is asked once per file by the import's run, not here."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from roster.csvfiles import FileRefused, open_source, sample_values
from roster.importing.errors import ImportRefused
from roster.mapping.memory import recall
from roster.mapping.resolve import ColumnMapper, reconcile_property_types
from roster.store import owned, properties
from schemas.column_map import ColumnMapError
from schemas.import_options import ImportOptions


def check_file(engine: Engine, mapper: ColumnMapper, team_id: int, path: Path, options: ImportOptions, workdir: Path) -> None:
    """Raises ImportRefused with the reason."""
    try:
        # A preview: a .gz is read to its end (its size checked) but copied only as far as the
        # sample, so a request never writes a whole decompressed file; the run does that.
        source = open_source(path, workdir, head_only=True)
        existing = properties.types(engine, team_id)
        remembered = None if options.column_map is not None else recall(engine, team_id, source.headers)
        resolution = mapper.resolve(
            source.headers,
            sample_values(source),
            existing,
            options.column_map,
            auto_map=options.auto_map,
            auto_create_properties=options.auto_create_properties,
            remembered=remembered,
            offline_only=True,
        )
        reconcile_property_types(resolution.column_map, existing)
    except (FileRefused, ColumnMapError) as e:
        raise ImportRefused(str(e), too_large=getattr(e, "too_large", False)) from None
    check_segments_and_topics(engine, team_id, options)


def check_segments_and_topics(engine: Engine, team_id: int, options: ImportOptions) -> None:
    for missing in owned.missing_segments(engine, team_id, options.segments)[:1]:
        raise ImportRefused(f"segment {missing} does not exist")
    for missing in owned.missing_topics(engine, team_id, [tp["id"] for tp in options.topics])[:1]:
        raise ImportRefused(f"topic {missing} does not exist")
