"""The kinds of trouble real files bring, beyond the bad files of tests/bad_files.py."""

from __future__ import annotations

import gzip

from tests.helpers import NAMES_MAP, contacts, failures, run

HEAD = b"Email,First Name,Last Name\n"


def _import(engine, team_id, tmp_path, data: bytes, name="f.csv", column_map=NAMES_MAP):
    path = tmp_path / name
    path.write_bytes(data)
    return run(engine, team_id, path, column_map)


def test_gzip_upload(engine, team, tmp_path):
    _, team_id = team
    r = _import(engine, team_id, tmp_path, gzip.compress(HEAD + b"a@x.io,A,B\nb@x.io,C,D\n"), "f.csv.gz")
    assert r["counts"]["created"] == 2


def test_a_quote_that_never_closes_costs_only_its_row(engine, team, tmp_path):
    _, team_id = team
    data = HEAD + b'a@x.io,A,B\nb@x.io,"Broken,C\nc@x.io,E,F\nd@x.io,G,H\n'
    r = _import(engine, team_id, tmp_path, data)
    assert r["counts"] == {"total": 4, "created": 3, "updated": 0, "skipped": 0, "failed": 1}
    assert set(contacts(engine, team_id)) == {"a@x.io", "c@x.io", "d@x.io"}
    [f] = failures(engine, r["id"])
    assert f["row_number"] == 2 and "never closed" in f["reason"]


def test_ragged_rows(engine, team, tmp_path):
    _, team_id = team
    data = HEAD + b"a@x.io,A\nb@x.io,C,D,extra,more\nc@x.io,E,F,,\n"
    r = _import(engine, team_id, tmp_path, data)
    # Short rows are blank at the end; empty extra cells lose nothing; real extra values fail the row.
    assert r["counts"] == {"total": 3, "created": 2, "updated": 0, "skipped": 0, "failed": 1}
    [f] = failures(engine, r["id"])
    assert f["row_number"] == 2 and "5 fields" in f["reason"]
    assert contacts(engine, team_id)["a@x.io"]["last_name"] is None


def test_nul_bytes_are_removed(engine, team, tmp_path):
    _, team_id = team
    r = _import(engine, team_id, tmp_path, HEAD + b"a@x.io,A\x00da,B\n")
    assert r["counts"]["created"] == 1
    assert contacts(engine, team_id)["a@x.io"]["first_name"] == "Ada"


def test_a_huge_field_fails_its_row_only(engine, team, tmp_path):
    _, team_id = team
    huge = b"x" * (1024 * 1024 + 10)
    r = _import(engine, team_id, tmp_path, HEAD + b"a@x.io,A,B\nb@x.io," + huge + b",D\nc@x.io,E,F\n")
    assert r["counts"] == {"total": 3, "created": 2, "updated": 0, "skipped": 0, "failed": 1}
    assert "larger than 1 MiB" in failures(engine, r["id"])[0]["reason"]


def test_hundreds_of_columns(engine, team, tmp_path):
    _, team_id = team
    header = ["Email"] + [f"c{i}" for i in range(400)]
    data = (",".join(header) + "\n" + ",".join(["a@x.io"] + [str(i) for i in range(400)]) + "\n").encode()
    cmap = {"email": "Email", "properties": {"c399": {"column": "c399", "type": "number"}}}
    r = _import(engine, team_id, tmp_path, data, column_map=cmap)
    assert r["counts"]["created"] == 1
    assert contacts(engine, team_id)["a@x.io"]["properties"] == {"c399": 399}


def test_header_only_file_completes_with_nothing(engine, team, tmp_path):
    _, team_id = team
    r = _import(engine, team_id, tmp_path, HEAD)
    assert r["status"] == "completed"
    assert r["counts"] == {"total": 0, "created": 0, "updated": 0, "skipped": 0, "failed": 0}


def test_blank_lines_are_not_rows(engine, team, tmp_path):
    _, team_id = team
    r = _import(engine, team_id, tmp_path, HEAD + b"\na@x.io,A,B\n\n,,\r\nb@x.io,C,D\n\n")
    assert r["counts"]["total"] == 2


def test_tab_separated_crlf_and_windows_1252(engine, team, tmp_path):
    _, team_id = team
    data = "Email\tFirst Name\tLast Name\r\nA@x.io\tRené\tCoté\r\n".encode("cp1252")
    r = _import(engine, team_id, tmp_path, data)
    assert r["counts"]["created"] == 1
    assert contacts(engine, team_id)["a@x.io"]["last_name"] == "Coté"


def test_utf16_without_bom(engine, team, tmp_path):
    _, team_id = team
    r = _import(engine, team_id, tmp_path, (HEAD + b"a@x.io,Zo\xc3\xab,B\n").decode().encode("utf-16-le"))
    assert contacts(engine, team_id)["a@x.io"]["first_name"] == "Zoë"
    assert r["counts"]["created"] == 1


def test_a_bad_file_writes_nothing(engine, team, tmp_path):
    _, team_id = team
    path = tmp_path / "sheet.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 10)
    r = run(engine, team_id, path, NAMES_MAP, check=False)
    assert r["status"] == "failed" and "xlsx" in r["error"]
    assert contacts(engine, team_id) == {}
