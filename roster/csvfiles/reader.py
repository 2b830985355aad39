"""Rows of a UTF-8 CSV file, in batches, each row with its number.

Two readers give the same rows. The fast one is polars, for the files that are well formed (nearly
all of them). polars stops at the first malformed record, so on that error the caller starts over
with the tolerant reader: Python's csv module, record by record, where a bad record (a quote that
never closes, too many fields, a field over the size limit) costs that record alone.

Row numbers count data rows from 1, after the header; blank rows (no value in any cell) are not
rows, and are not numbered.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from roster.csvfiles.sniff import SourceFile
from roster.settings import MAX_FIELD_BYTES

ROW = "__row"


class MalformedCsv(Exception):
    """The fast reader met a record it cannot parse; read the file again with tolerant=True."""


@dataclass
class RowBatch:
    frame: pl.DataFrame  # ROW (Int64) and one String column per header; blank cells are null
    # Records that could not be read as rows: {"row", "reason", "values"} each.
    failures: list[dict] = field(default_factory=list)
    bytes_read: int = 0


def iter_batches(source: SourceFile, batch_rows: int, tolerant: bool = False) -> Iterator[RowBatch]:
    if tolerant:
        yield from _tolerant_batches(source, batch_rows)
        return
    schema = {h: pl.String for h in source.headers}
    offset = 0
    for i, chunk in enumerate(_record_chunks(source.path, max(64 * 1024, batch_rows * BYTES_PER_ROW))):
        try:
            frame = pl.read_csv(
                io.BytesIO(chunk), has_header=False, skip_rows=1 if i == 0 else 0, schema=schema,
                separator=source.delimiter, quote_char='"', encoding="utf8", truncate_ragged_lines=False,
            )
        except pl.exceptions.PolarsError as e:
            raise MalformedCsv(str(e).splitlines()[0]) from None
        frame = frame.filter(pl.any_horizontal(pl.all().is_not_null() & (pl.all() != "")))
        frame = frame.with_row_index(ROW, offset=offset + 1).with_columns(pl.col(ROW).cast(pl.Int64))
        offset += frame.height
        yield RowBatch(frame, bytes_read=len(chunk))


# A batch is cut at about this many bytes a row times batch_rows (the sample data runs ~85).
BYTES_PER_ROW = 128
# A record that never ends within this much (a quote that never closes) goes to the tolerant reader.
MAX_CARRY = 64 * 1024 * 1024


def _record_chunks(path, chunk_bytes: int) -> Iterator[bytes]:
    """The file in pieces of about chunk_bytes, each ending at a record's end.

    Read here, not memory-mapped by polars: a mapped file's pages count against the process's
    memory as they are read, so a 10 GB file would take gigabytes.
    """
    carry = b""
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk_bytes)
            data = carry + block if carry else block
            if not block:
                if data.strip():
                    yield data
                return
            cut = _last_record_end(data)
            if cut is None:
                if len(data) > MAX_CARRY:
                    raise MalformedCsv("a record runs on for more than 64 MiB: a quote that never closes?")
                carry = data
                continue
            yield data[:cut]
            carry = data[cut:]


def _last_record_end(data: bytes) -> int | None:
    """The end of the last complete record: just after a newline with an even number of quotes
    before it (a doubled quote inside a quoted field counts two, so parity is the quoting state)."""
    quotes_before = data.count(b'"')
    end = len(data)
    pos = data.rfind(b"\n")
    while pos != -1:
        quotes_before -= data.count(b'"', pos, end)
        end = pos
        if quotes_before % 2 == 0:
            return pos + 1
        pos = data.rfind(b"\n", 0, pos)
    return None


class _Lines:
    """Lines of a text file, remembering those taken for the record being read, with pushback."""

    def __init__(self, f):
        self.f = f
        self.pending: list[str] = []  # reversed: pop() gives the next line
        self.taken: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.pending.pop() if self.pending else self.f.readline()
        if not line:
            raise StopIteration
        self.taken.append(line)
        return line

    def take(self) -> list[str]:
        taken, self.taken = self.taken, []
        return taken


def _records(f, delimiter: str) -> Iterator[tuple[list[str] | None, str | None, str]]:
    """(fields, None, raw) for a good record, (None, reason, first line) for a malformed one."""
    lines = _Lines(f)
    while True:
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            for fields in reader:
                yield fields, None, "".join(lines.take())
            return
        except csv.Error as e:
            bad = lines.take()
            # The record's first line is lost; the lines after it are read again as records, so
            # a quote that never closes costs one row, not the rest of the file.
            lines.pending = list(reversed(bad[1:]))
            reason = str(e)
            if "field larger than field limit" in reason:
                reason = f"a field is larger than {MAX_FIELD_BYTES // (1024 * 1024)} MiB"
            elif "unexpected end of data" in reason or "EOF" in reason:
                reason = "malformed CSV: a quoted field is never closed"
            else:
                reason = f"malformed CSV: {reason}"
            yield None, reason, bad[0] if bad else ""


def _tolerant_batches(source: SourceFile, batch_rows: int) -> Iterator[RowBatch]:
    csv.field_size_limit(MAX_FIELD_BYTES + 1)
    width = len(source.headers)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    rows: list[int] = []
    failures: list[dict] = []
    number = 0

    def flush() -> RowBatch:
        data = {ROW: pl.Series(ROW, rows, dtype=pl.Int64)}
        data.update({h: pl.Series(h, col, dtype=pl.String) for h, col in zip(source.headers, columns)})
        batch = RowBatch(pl.DataFrame(data), list(failures))
        rows.clear(), failures.clear()
        for col in columns:
            col.clear()
        return batch

    with source.path.open("r", encoding="utf-8-sig", newline="") as f:
        records = _records(f, source.delimiter)
        next(records, None)  # the header, already read by the sniffer
        for fields, reason, raw in records:
            if fields is not None and not any(v.strip() for v in fields):
                continue
            number += 1
            if fields is None:
                failures.append({"row": number, "reason": reason, "values": {"raw": raw[:1000]}})
            elif len(fields) > width and any(v.strip() for v in fields[width:]):
                failures.append({
                    "row": number,
                    "reason": f"the row has {len(fields)} fields but the header has {width}",
                    "values": {"raw": raw[:1000]},
                })
            else:
                rows.append(number)
                for i, col in enumerate(columns):
                    col.append(fields[i] if i < len(fields) and fields[i] != "" else None)
            if len(rows) + len(failures) >= batch_rows:
                yield flush()
        if rows or failures:
            yield flush()


def sample_values(source: SourceFile, rows: int = 50) -> dict[str, list[str]]:
    """The first non-blank values of each column, for the column mapper to look at."""
    batch = next(_tolerant_batches(source, rows), None)
    if batch is None:
        return {h: [] for h in source.headers}
    return {h: [v for v in batch.frame.get_column(h).to_list() if v is not None] for h in source.headers}
