"""Every kind of bad file in tests/bad_files.py gives exactly the outcome written beside it."""

from __future__ import annotations

import pytest

from roster.importing.errors import ImportRefused
from roster.landing import LandingStore
from schemas.column_map import parse_column_map
from schemas.import_options import ImportOptions
from tests.bad_files import BAD_FILES
from tests.helpers import contacts, create_import, failures, run


@pytest.mark.parametrize("case", BAD_FILES, ids=[c.name for c in BAD_FILES])
def test_bad_file(engine, team, tmp_path, case):
    _, team_id = team
    path = case.write(tmp_path)
    if case.refused:
        options = ImportOptions(column_map=parse_column_map(case.column_map))
        with pytest.raises(ImportRefused) as refused:
            create_import(engine, LandingStore(), team_id, path, path.name, options, source="test")
        assert str(refused.value)
        # The job refuses it too (a file dropped in a folder is not pre-checked), writing nothing.
        result = run(engine, team_id, path, case.column_map, check=False)
        assert result["status"] == "failed" and result["error"]
        assert result["counts"]["total"] == 0
        assert contacts(engine, team_id) == {}
        return
    result = run(engine, team_id, path, case.column_map)
    assert result["status"] == "completed", result.get("error")
    counts = result["counts"]
    assert counts["created"] == case.created
    assert counts["failed"] == case.failed
    if case.total is not None:
        assert counts["total"] == case.total
    assert counts["total"] == counts["created"] + counts["updated"] + counts["skipped"] + counts["failed"]
    got = contacts(engine, team_id)
    for email, fields in case.check.items():
        for name, value in fields.items():
            assert got[email][name] == value
    # Each failed row is named by its number and says why; the other rows were imported.
    failed = failures(engine, result["id"])
    assert [f["row_number"] for f in failed] == list(case.failed_rows)
    assert all(f["reason"] for f in failed)
