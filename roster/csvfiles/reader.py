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
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from roster.csvfiles.sniff import SourceFile
from roster.runtime.settings import FileLimits, file_limits, size_text
from schemas.rows import ROW


class MalformedCsv(Exception):
    """The fast reader met a record it cannot parse; read the file again with tolerant=True."""


@dataclass
class RowBatch:
    frame: pl.DataFrame  # ROW (Int64) and one String column per header; blank cells are null
    # Records that could not be read as rows: {"row", "reason", "values"} each.
    failures: list[dict[str, Any]] = field(default_factory=list)
    bytes_read: int = 0


def iter_batches(source: SourceFile, batch_rows: int, tolerant: bool = False) -> Iterator[RowBatch]:
    if tolerant:
        yield from _tolerant_batches(source, batch_rows)
        return
    schema = {h: pl.String for h in source.headers}
    offset = 0
    chunks = _record_chunks(source.path, max(64 * 1024, batch_rows * BYTES_PER_ROW), file_limits().line_bytes)
    for i, chunk in enumerate(chunks):
        try:
            frame = pl.read_csv(
                io.BytesIO(chunk),
                has_header=False,
                skip_rows=1 if i == 0 else 0,
                schema=schema,
                separator=source.delimiter,
                quote_char='"',
                encoding="utf8",
                truncate_ragged_lines=False,
            )
        except pl.exceptions.PolarsError as e:
            raise MalformedCsv(str(e).splitlines()[0]) from None
        frame = frame.filter(pl.any_horizontal(pl.all().is_not_null() & (pl.all() != "")))
        frame = frame.with_row_index(ROW, offset=offset + 1).with_columns(pl.col(ROW).cast(pl.Int64))
        offset += frame.height
        yield RowBatch(frame, bytes_read=len(chunk))


# A batch is cut at about this many bytes a row times batch_rows (the sample data runs ~85).
BYTES_PER_ROW = 128


def _record_chunks(path: Path, chunk_bytes: int, max_line: int) -> Iterator[bytes]:
    """The file in pieces of about chunk_bytes, each ending at a record's end.

    Read here, not memory-mapped by polars: a mapped file's pages count against the process's
    memory as they are read, so a 10 GB file would take gigabytes.

    A line longer than max_line (ROSTER_MAX_ROW_BYTES) fails its row, which only the tolerant
    reader can do: MalformedCsv sends the file there, and no more than that is ever carried.
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
                if len(data) > max_line:
                    raise MalformedCsv(f"a record runs on for more than {max_line:,} bytes")
                carry = data
                continue
            if cut > max_line and _longest_line(data, cut) > max_line:
                raise MalformedCsv(f"a line is longer than {max_line:,} bytes")
            yield data[:cut]
            carry = data[cut:]


def _longest_line(data: bytes, end: int) -> int:
    longest, start = 0, 0
    while start < end:
        nl = data.find(b"\n", start, end)
        stop = end if nl == -1 else nl + 1
        longest, start = max(longest, stop - start), stop
    return longest


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


class _TooLong(Exception):
    """A record's text passed the limit; its lines so far are in `taken`, the long one skipped."""


class _Lines:
    """Lines of a text file, remembering those taken for the record being read, with pushback.

    No line is held longer than `max_line` characters, and no record's lines longer than that
    together: past it, the rest of the physical line is skipped (read in bounded pieces) and
    _TooLong fails the record, so one enormous field never takes more memory than the limit."""

    def __init__(self, f: TextIO, max_line: int) -> None:
        self.f = f
        self.max_line = max_line
        self.pending: list[str] = []  # reversed: pop() gives the next line
        self.taken: list[str] = []
        self.taken_chars = 0
        self.chars_read = 0  # of the file, for a caller's budget

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pending:
            line = self.pending.pop()
        else:
            line = self.f.readline(self.max_line + 1)
            self.chars_read += len(line)
            if len(line) > self.max_line and not line.endswith("\n"):
                while (rest := self.f.readline(1 << 20)) and not rest.endswith("\n"):
                    self.chars_read += len(rest)
                self.chars_read += len(rest)
                raise _TooLong()
        if not line:
            raise StopIteration
        if self.taken_chars + len(line) > self.max_line:
            self.taken.append(line)  # counted in the record that fails; read again from the next
            raise _TooLong()
        self.taken.append(line)
        self.taken_chars += len(line)
        return line

    def take(self) -> list[str]:
        taken, self.taken, self.taken_chars = self.taken, [], 0
        return taken


def _records(lines: _Lines, delimiter: str, limits: FileLimits) -> Iterator[tuple[list[str] | None, str | None, str]]:
    """(fields, None, raw) for a good record, (None, reason, first line) for a malformed one."""
    while True:
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            for fields in reader:
                yield fields, None, "".join(lines.take())
            return
        except (csv.Error, _TooLong) as e:
            bad = lines.take()
            # The record's first line is lost; the lines after it are read again as records, so
            # a quote that never closes costs one row, not the rest of the file.
            lines.pending = list(reversed(bad[1:]))
            reason = str(e)
            if isinstance(e, _TooLong):
                reason = (
                    f"the row is longer than {size_text(limits.line_bytes)} (ROSTER_MAX_ROW_BYTES): "
                    "a field too large, or a quote that never closes"
                )
            elif "field larger than field limit" in reason:
                reason = f"a field is larger than {size_text(limits.max_field_bytes)}"
            elif "unexpected end of data" in reason or "EOF" in reason:
                reason = "malformed CSV: a quoted field is never closed"
            else:
                reason = f"malformed CSV: {reason}"
            yield None, reason, bad[0][:1000] if bad else ""


def _tolerant_batches(source: SourceFile, batch_rows: int, budget_chars: int | None = None) -> Iterator[RowBatch]:
    """budget_chars: stop after reading about this much of the file (a sample)."""
    limits = file_limits()
    csv.field_size_limit(limits.max_field_bytes + 1)
    width = len(source.headers)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    rows: list[int] = []
    failures: list[dict[str, Any]] = []
    number = 0
    # A batch is also cut by size, as the fast reader's are: a wide file's rows hold many cells.
    batch_chars = max(64 * 1024, batch_rows * BYTES_PER_ROW)
    chars = 0

    def flush() -> RowBatch:
        data = {ROW: pl.Series(ROW, rows, dtype=pl.Int64)}
        data.update({h: pl.Series(h, col, dtype=pl.String) for h, col in zip(source.headers, columns)})
        batch = RowBatch(pl.DataFrame(data), list(failures))
        rows.clear(), failures.clear()  # type: ignore[func-returns-value]
        for col in columns:
            col.clear()
        return batch

    with source.path.open("r", encoding="utf-8-sig", newline="") as f:
        lines = _Lines(f, limits.line_bytes)
        records = _records(lines, source.delimiter, limits)
        next(records, None)  # the header, already read by the sniffer
        for fields, reason, raw in records:
            if budget_chars is not None and lines.chars_read > budget_chars and (rows or failures):
                break
            if fields is not None and not any(v.strip() for v in fields):
                continue
            number += 1
            chars += len(raw)
            if fields is None:
                failures.append({"row": number, "reason": reason, "values": {"raw": raw[:1000]}})
            elif len(fields) > width and any(v.strip() for v in fields[width:]):
                failures.append(
                    {
                        "row": number,
                        "reason": f"the row has {len(fields)} fields but the header has {width}",
                        "values": {"raw": raw[:1000]},
                    }
                )
            else:
                rows.append(number)
                for i, col in enumerate(columns):
                    col.append(fields[i] if i < len(fields) and fields[i] != "" else None)
            if len(rows) + len(failures) >= batch_rows or chars >= batch_chars:
                yield flush()
                chars = 0
        if rows or failures:
            yield flush()


# A sample reads no more of the file than this (the rows' values are what the mapper looks at).
SAMPLE_CHARS = 4 << 20


def sample_values(source: SourceFile, rows: int = 50) -> dict[str, list[str]]:
    """The first non-blank values of each column (from the first `rows` rows, and no more than
    SAMPLE_CHARS of the file), for the column mapper to look at."""
    values: dict[str, list[str]] = {h: [] for h in source.headers}
    seen = 0
    for batch in _tolerant_batches(source, rows, budget_chars=SAMPLE_CHARS):
        frame = batch.frame.head(rows - seen)
        for h in source.headers:
            values[h] += [v for v in frame.get_column(h).to_list() if v is not None]
        seen += frame.height
        if seen >= rows:
            break
    return values
