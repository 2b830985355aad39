"""Every sample in shared/bad-csv gives exactly what its expect.json says."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from roster.importing.errors import ImportRefused
from roster.landing import LandingStore
from schemas.column_map import parse_column_map
from schemas.import_options import ImportOptions
from tests.conftest import SHARED
from tests.helpers import contacts, create_import, run

BAD = SHARED / "bad-csv"
CASES = json.loads((BAD / "expect.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_csv_sample(engine, team, case):
    _, team_id = team
    path = BAD / case["file"]
    if case["expect"] == "reject":
        options = ImportOptions(column_map=parse_column_map(case["column_map"]))
        with pytest.raises(ImportRefused):
            create_import(engine, LandingStore(), team_id, path, path.name, options, source="test")
        # The job refuses it too (a file dropped in a folder is not pre-checked), writing nothing.
        result = run(engine, team_id, path, case["column_map"], check=False)
        assert result["status"] == "failed" and result["error"]
        assert result["counts"]["total"] == 0
        assert contacts(engine, team_id) == {}
        return
    result = run(engine, team_id, path, case["column_map"])
    assert result["status"] == "completed", result.get("error")
    counts = result["counts"]
    assert counts["created"] == case["created"]
    assert counts["failed"] == case["failed"]
    if "total" in case:
        assert counts["total"] == case["total"]
    assert counts["total"] == counts["created"] + counts["updated"] + counts["skipped"] + counts["failed"]
    got = contacts(engine, team_id)
    for email, fields in case.get("check", {}).items():
        for field, value in fields.items():
            assert got[email][field] == value
    with engine.connect() as conn:
        reasons = conn.execute(
            sa.text("SELECT row_number, reason FROM contact_import_failures WHERE import_id = :i"), {"i": result["id"]}
        ).all()
    assert len(reasons) == case["failed"]
    assert all(r.row_number > 0 and r.reason for r in reasons)
