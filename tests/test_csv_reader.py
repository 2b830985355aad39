"""The fast reader cuts the file into batches at record ends only, and numbers rows across them."""

from __future__ import annotations

import csv
import io

from roster.csvfiles import iter_batches, open_source
from roster.csvfiles.reader import _last_record_end


def test_last_record_end_respects_quotes():
    assert _last_record_end(b'a,b\n1,"x\ny"\n2,') == len(b'a,b\n1,"x\ny"\n')
    assert _last_record_end(b'a,b\n1,"open\nstill open') == len(b"a,b\n")
    assert _last_record_end(b'1,"say ""hi""\n"\n') == len(b'1,"say ""hi""\n"\n')
    assert _last_record_end(b"no newline yet") is None


def test_many_batches_read_like_one_file(tmp_path):
    rows = [[f"u{i}@x.io", f'name "{i}"\nline two' if i % 7 == 0 else f"n{i}", "x," * (i % 3)] for i in range(6000)]
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["email", "name", "note"])
    for i, r in enumerate(rows):
        w.writerow(r)
        if i % 1000 == 0:
            buf.write("\r\n")  # blank lines are not rows
    path = tmp_path / "big.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    source = open_source(path, tmp_path / "work")
    batches = list(iter_batches(source, batch_rows=100))  # the smallest cut, 64 KiB
    assert len(batches) >= 3
    got = [r for b in batches for r in b.frame.iter_rows()]
    assert [r[0] for r in got] == list(range(1, 6001))
    assert [list(r[1:]) for r in got] == [[v or None for v in r] for r in rows]
