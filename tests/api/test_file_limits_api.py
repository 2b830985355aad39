"""The file limits through the API: a clear refusal (413/422 in Resend's error shape) before
anything is queued, and a 503 with a reason when the server cannot write (FAULTS 3, 11, 14)."""

from __future__ import annotations

import gzip

from tests.api.conftest import wait_done
from tests.api.test_errors_and_limits import GOOD_CSV, assert_error
from tests.test_file_limits import MIB, gzip_bomb, gzip_of_zeros_after


def test_api_refuses_a_gzip_bomb_with_413_and_queues_nothing(http, monkeypatch, tmp_path):
    from roster.runtime.settings import get_settings

    monkeypatch.setenv("ROSTER_MAX_DECOMPRESSED_BYTES", str(20 * MIB))
    bomb = gzip_of_zeros_after(b"email\nx@y.io,", 300 * MIB, tmp_path / "bomb.csv.gz").read_bytes()
    landing = get_settings().landing_dir
    before = set(landing.iterdir()) if landing.exists() else set()
    waiting = set((landing / ".incoming").glob("*"))  # drafts other tests left for the dashboard's review
    resp = http.post("/contacts/imports", files={"file": ("bomb.csv.gz", bomb, "application/gzip")})
    assert_error(resp, 413, "file_too_large", "decompresses to more than 20,971,520 bytes")
    assert http.get("/contacts/imports").json()["data"] == []
    after = {p for p in landing.iterdir() if p.name != ".incoming"}
    assert after <= before  # no landing folder left behind
    assert set((landing / ".incoming").glob("*")) <= waiting


def test_api_refuses_a_gzip_bomb_by_its_ratio_before_inflating_to_the_size_limit(http, monkeypatch, tmp_path):
    """Issue 19: with the default 2 GiB limit the request inflated for 51 s before its 413. Now
    the bomb's ratio refuses it within its first 64 MiB out."""
    monkeypatch.delenv("ROSTER_MAX_DECOMPRESSED_BYTES", raising=False)
    bomb = gzip_bomb(b"email\nx@y.io,", 3, tmp_path / "bomb.csv.gz").read_bytes()
    resp = http.post("/contacts/imports", files={"file": ("bomb.csv.gz", bomb, "application/gzip")})
    assert_error(resp, 413, "file_too_large", "more than 100 times its compressed size")
    assert http.get("/contacts/imports").json()["data"] == []


def test_api_refuses_too_many_columns_with_422(http):
    data = (",".join(f"c{i}" for i in range(100_000)) + ",email\n" + ",".join(["1"] * 100_001) + "\n").encode()
    resp = http.post(
        "/contacts/imports", files={"file": ("wide.csv", data, "text/csv")}, data={"column_map": '{"email": "email"}'}
    )
    assert_error(resp, 422, "validation_error", "100,001 columns; the limit is 2,000")
    assert http.get("/contacts/imports").json()["data"] == []


def test_api_finds_email_past_the_first_64_kib_of_the_header(http):
    names = [f"c{i}" for i in range(1500)] + ["x" * 60_000, "email"]
    rows = "".join(",".join(["1"] * 1501 + [f"w{j}@x.example"]) + "\n" for j in range(3))
    data = (",".join(names) + "\n" + rows).encode()
    resp = http.post(
        "/contacts/imports", files={"file": ("wide.csv", data, "text/csv")}, data={"column_map": '{"email": "email"}'}
    )
    assert resp.status_code == 201, resp.text
    done = wait_done(http, resp.json()["id"])
    assert done["status"] == "completed" and done["counts"]["created"] == 3, done


def test_api_answers_503_when_it_cannot_write_the_upload(http, monkeypatch, tmp_path):
    """FAULTS 14 (probe 4.11): a read-only or broken data directory was a 500 "unexpected error"."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("ROSTER_DATA_DIR", str(blocker / "data"))  # every mkdir under it fails (ENOTDIR)
    resp = http.post("/contacts/imports", files={"file": ("c.csv", GOOD_CSV, "text/csv")})
    body = assert_error(resp, 503, "service_unavailable", "cannot store uploaded files")
    assert str(tmp_path) not in body["message"] and resp.headers["retry-after"] == "30"
    monkeypatch.undo()
    assert http.get("/contacts/imports").json()["data"] == []


def test_api_answers_503_when_the_disk_fills_while_a_gzip_file_inflates(http, monkeypatch, tmp_path):
    from roster.landing import LandingStore

    work = tmp_path / "work"
    work.mkdir()
    (work / "decompressed.csv").symlink_to("/dev/full")
    monkeypatch.setattr(LandingStore, "workdir", lambda self, import_id: work)
    data = gzip.compress(b"email\n" + b"a@b.io\n" * 400_000)
    resp = http.post("/contacts/imports", files={"file": ("c.csv.gz", data, "application/gzip")})
    body = assert_error(resp, 503, "service_unavailable")
    assert "decompress" not in body["message"]
    assert http.get("/contacts/imports").json()["data"] == []
