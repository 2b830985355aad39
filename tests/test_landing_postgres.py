"""ROSTER_LANDING=postgres: an upload landed on one machine is read by a run on another.

Two landing folders stand in for two machines; nothing passes between them but the database.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from roster.landing import LandingStore, PostgresLandingStore, landing_store
from roster.store import landed_files
from tests.helpers import NAMES_MAP, contacts, get_import, write_csv


def test_the_setting_picks_the_store(monkeypatch):
    monkeypatch.delenv("ROSTER_LANDING", raising=False)
    assert type(landing_store()) is LandingStore
    monkeypatch.setenv("ROSTER_LANDING", "postgres")
    assert isinstance(landing_store(), PostgresLandingStore)
    monkeypatch.setenv("ROSTER_LANDING", "s3")
    with pytest.raises(ValueError, match="folder' or 'postgres"):
        landing_store()


def test_a_file_crosses_machines_through_the_database_in_chunks(engine, tmp_path):
    api, worker = PostgresLandingStore(tmp_path / "api", engine), PostgresLandingStore(tmp_path / "worker", engine)
    import_id = "6f1c1d2e-0000-4000-8000-000000000001"
    payload = os.urandom(2 * (1 << 20) + 12345)  # three chunks, the last one short
    landed = api.save_stream(import_id, io.BytesIO(payload), "big.csv")
    api.clean_work(import_id)
    assert not landed.exists(), "the API machine keeps no copy once the database has it"
    assert [len(c) for c in landed_files.read(engine, import_id)] == [1 << 20, 1 << 20, 12345]

    local = worker.local_file(import_id, landed)
    assert local.parent.parent == tmp_path / "worker" and local.read_bytes() == payload
    assert worker.local_file(import_id, landed) == local  # fetched once per machine
    assert import_id in dict(worker.landed())

    worker.discard(import_id)
    assert not local.exists() and not landed_files.exists(engine, import_id)


def test_an_oversized_upload_leaves_nothing(engine, tmp_path):
    from roster.landing import FileTooLarge

    store = PostgresLandingStore(tmp_path / "api", engine)
    import_id = "6f1c1d2e-0000-4000-8000-000000000002"
    with pytest.raises(FileTooLarge):
        store.save_stream(import_id, io.BytesIO(b"x" * 5000), "big.csv", max_bytes=1000)
    assert not landed_files.exists(engine, import_id) and not store.import_dir(import_id).exists()


def test_an_import_runs_from_a_file_only_the_database_has(engine, team, tmp_path, monkeypatch):
    from roster.importing.service import ImportService
    from schemas.column_map import parse_column_map
    from schemas.import_options import ImportOptions

    monkeypatch.setenv("ROSTER_LANDING", "postgres")
    csv = write_csv(
        tmp_path / "c.csv", ["Email", "First Name", "Last Name"], [[f"p{i}@example.com", "A", "B"] for i in range(50)]
    )
    api = PostgresLandingStore(tmp_path / "api", engine)
    opts = ImportOptions(column_map=parse_column_map(NAMES_MAP))
    import_id = ImportService(engine, api).create(team[1], Path(csv), "c.csv", opts, "test")
    assert not api.import_dir(import_id).exists()

    from pipelines.launch import run_import

    assert run_import(import_id).success  # the run's store is the data directory's: another "machine"
    row = get_import(engine, team[1], import_id)
    assert row["status"] == "completed" and row["created"] == 50
    assert len(contacts(engine, team[1])) == 50
    assert not landed_files.exists(engine, import_id), "a completed import's upload is deleted"
