"""Find out what a file is (compression, encoding, delimiter, header) and make it plain UTF-8.

polars reads UTF-8 only, fast. Files that are already UTF-8 (with or without a BOM) and hold no
NUL bytes are read where they lie; anything else is transcoded once, streaming, into the work
directory, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import io
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from roster.csvfiles.errors import FileRefused, LimitExceeded
from roster.runtime.settings import FileLimits, file_limits

CHUNK = 1 << 20
SAMPLE = 64 * 1024
# What a preview (open_source(head_only=True)) keeps beyond the header: enough for the sample rows.
PREVIEW_BYTES = 4 << 20
# The compression ratio is judged only past this much output: a small file may compress any amount.
RATIO_GRACE_BYTES = 64 << 20
DELIMITERS = [",", ";", "\t", "|"]
# Formats people upload by mistake, by their first bytes.
BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook is one: save it as CSV first)",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) workbook: save it as CSV first",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ": "an xz archive",
}


@dataclass
class SourceFile:
    """A file ready for the CSV reader: `path` is UTF-8 text; the rest is what was found."""

    path: Path
    original: Path
    encoding: str
    delimiter: str
    headers: list[str]
    compressed: bool = False
    transcoded: bool = False
    nul_bytes_removed: bool = False
    size_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"], d["original"] = str(self.path), str(self.original)
        d["delimiter"] = {"\t": "tab"}.get(self.delimiter, self.delimiter)
        return d


class _Utf8Scan:
    """Is a byte stream valid UTF-8, and does it hold NUL bytes? Fed chunk by chunk."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.valid, self.has_nul = True, False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        self.has_nul = self.has_nul or b"\x00" in chunk
        if self.valid:
            try:
                self.decoder.decode(chunk, final=final)
            except UnicodeDecodeError:
                self.valid = False


@dataclass
class Inflated:
    """How far inflate() has gone: compressed bytes consumed, decompressed bytes given."""

    consumed: int = 0
    produced: int = 0


def inflate(path: Path, progress: Inflated | None = None) -> Iterator[bytes]:
    """The decompressed bytes of a gzip file (every member, as gzip(1) writes them), CHUNK at
    most at a time: however small the input, no call inflates more than that into memory.
    `progress`, when given, is kept up to date before each chunk is yielded.

    Damaged data is a FileRefused: no retry can help. An OSError (a read error, EIO) is the
    server's trouble, not the file's, and goes up as it is."""
    refused = "the file looks gzip-compressed but cannot be decompressed"
    with path.open("rb") as f:
        d = zlib.decompressobj(wbits=31)
        begun = full = False
        pending = b""
        while True:
            if not pending and not full:
                pending = f.read(CHUNK)
                if not pending:
                    break
            if not begun:
                pending = pending.lstrip(b"\x00")  # zero padding after a member: ignored, as gzip(1) does
                if not pending:
                    continue
                begun = True
            try:
                out = d.decompress(pending, CHUNK)
            except zlib.error as e:
                raise FileRefused(f"{refused} ({e})") from None
            full = len(out) == CHUNK  # zlib may hold more output: ask again before reading on
            pending = d.unconsumed_tail
            if out:
                if progress is not None:
                    progress.consumed = f.tell() - len(pending) - len(d.unused_data)
                    progress.produced += len(out)
                yield out
            if d.eof:  # this member ended; another may follow (all the input after it is unused_data)
                pending = d.unused_data
                d = zlib.decompressobj(wbits=31)
                begun = full = False
    if begun:
        raise FileRefused(f"{refused} (it ends early: was the upload or the copy cut short?)")


def _gunzip(path: Path, workdir: Path, limits: FileLimits, keep: int | None = None) -> tuple[Path, _Utf8Scan]:
    """Decompress to workdir, checking the size as it streams: past the decompressed limit, or
    past the compression ratio a gzip bomb has (once RATIO_GRACE_BYTES are out), the file is
    refused at once, and what was written is removed. keep: write only the first `keep` bytes
    (a preview), but still read to the end, so the size is checked and the encoding scanned whole.

    Why the ratio: reaching the size limit (2 GiB by default) means inflating that much, 10-50 s
    of one core; a bomb (deflate's best, about 1000:1) passes the ratio within a fraction of a
    second, while real CSV compresses 3-20:1 (Apache POI guards its zip reader the same way)."""
    out = workdir / "decompressed.csv"
    scan = _Utf8Scan()
    total, limit, ratio = 0, limits.max_decompressed_bytes, limits.max_compression_ratio
    progress = Inflated()
    try:
        with out.open("wb") as dst:
            for chunk in inflate(path, progress):
                total += len(chunk)
                if total > limit:
                    raise LimitExceeded(
                        f"the file decompresses to more than {limit:,} bytes, the limit "
                        "(ROSTER_MAX_DECOMPRESSED_BYTES): split it, or raise the limit",
                        too_large=True,
                    )
                if total > RATIO_GRACE_BYTES and total > ratio * progress.consumed:
                    raise LimitExceeded(
                        f"the file decompresses to more than {ratio:,} times its compressed size, "
                        "the limit (ROSTER_MAX_COMPRESSION_RATIO): a gzip bomb, or a file to send uncompressed",
                        too_large=True,
                    )
                scan.feed(chunk)
                if keep is None:
                    dst.write(chunk)
                elif total - len(chunk) < keep:
                    dst.write(chunk[: keep - (total - len(chunk))])
        scan.feed(b"", final=True)
        if keep is not None and total > keep:
            _cut_at_last_line_end(out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out, scan


def _cut_at_last_line_end(path: Path) -> None:
    """A preview ends with a whole line: never inside a character, which a strict reader would refuse."""
    data = path.read_bytes()
    end = data.rfind(b"\n")
    if end != -1:
        with path.open("r+b") as f:
            f.truncate(end + 1)


def _detect_encoding(path: Path, head: bytes, scan: _Utf8Scan | None = None) -> tuple[str, bool]:
    """(encoding, has_nul). UTF-8 is checked over the whole file: a stray byte deep in a
    Windows-1252 export would otherwise surface as an error halfway through the import.
    `scan`: that check, already made over the whole (decompressed) stream."""
    if head.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    elif head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le-bom", True
    elif head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be-bom", True
    elif len(head) >= 4 and head[1:20:2].count(0) >= 8 and head[0:20:2].count(0) == 0:
        return "utf-16-le", True  # UTF-16 without a BOM: every other byte of ASCII text is NUL
    elif len(head) >= 4 and head[0:20:2].count(0) >= 8 and head[1:20:2].count(0) == 0:
        return "utf-16-be", True
    else:
        enc = "utf-8"
    if scan is None:
        scan = _Utf8Scan()
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                scan.feed(chunk)
                if not scan.valid:
                    break
        scan.feed(b"", final=True)
    return (enc, scan.has_nul) if scan.valid else ("windows-1252", scan.has_nul)


def _cp1252_or_latin1(error: UnicodeError) -> tuple[str, int]:
    # Five bytes are undefined in Windows-1252; read them as Latin-1 rather than fail the file.
    return error.object[error.start : error.end].decode("latin-1"), error.end  # type: ignore[attr-defined]  # a UnicodeDecodeError


codecs.register_error("cp1252_latin1", _cp1252_or_latin1)


def _transcode(path: Path, encoding: str, workdir: Path, keep: int | None = None) -> Path:
    """A UTF-8 copy; keep: only about its first `keep` characters (a preview)."""
    out = workdir / "normalized.csv"
    python_encoding = {"utf-16-le-bom": "utf-16", "utf-16-be-bom": "utf-16", "utf-8": "utf-8-sig"}.get(encoding, encoding)
    errors = "cp1252_latin1" if encoding == "windows-1252" else "replace"
    written = 0
    with (
        path.open("r", encoding=python_encoding, errors=errors, newline="") as src,
        out.open("w", encoding="utf-8", newline="") as dst,
    ):
        while chunk := src.read(CHUNK):
            dst.write(chunk.replace("\x00", ""))  # NUL cannot be stored in PostgreSQL text
            written += len(chunk)
            if keep is not None and written >= keep:
                break
    return out


def _looks_binary(text: str) -> bool:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    return len(text) > 0 and controls / len(text) > 0.01


def _delimiter(first_record: str) -> str:
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in first_record:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties go to the earlier, comma first
    return best if counts[best] else ","


def _headers(sample_text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(sample_text, newline=""), delimiter=delimiter)
    for row in reader:
        if any(cell.strip() for cell in row):
            return _unique([cell.strip() for cell in row])
    return []


def _unique(names: list[str]) -> list[str]:
    """Blank and repeated headers get names of their own, so every column can be addressed."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names, start=1):
        name = name or f"column_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        seen.setdefault(name, 1)
        out.append(name)
    return out


def _header_end(data: bytes) -> int | None:
    """Where the header record ends in `data`: after the first line end that is outside quotes
    and has something before it (blank lines first are skipped). None: not within `data`."""
    pos = data.find(b"\n")
    while pos != -1:
        if data.count(b'"', 0, pos) % 2 == 0 and data[:pos].strip(b" \t\r\n,;|" + codecs.BOM_UTF8):
            return pos + 1
        pos = data.find(b"\n", pos + 1)
    return None


def read_sample(path: Path, size: int = SAMPLE, limits: FileLimits | None = None) -> str:
    """The header record whole, however long (up to ROSTER_MAX_HEADER_BYTES), and about `size`
    bytes after it, cut at a line end so no character or row is split. UTF-8 text."""
    limits = limits or file_limits()
    with path.open("rb") as f:
        data = f.read(size)
        end = _header_end(data)
        while end is None and len(data) <= limits.max_header_bytes:
            more = f.read(max(size, len(data)))  # doubling: a long header costs few reads
            if not more:
                break
            data += more
            end = _header_end(data)
        if (end or len(data)) > limits.max_header_bytes + len(codecs.BOM_UTF8):
            raise LimitExceeded(
                f"the header row is longer than {limits.max_header_bytes:,} bytes, the limit (ROSTER_MAX_HEADER_BYTES)"
            )
        if end is not None and len(data) - end < size:
            data += f.read(size - (len(data) - end))
    if end is not None and len(data) > end and b"\n" in data[end:]:
        data = data[: data.rindex(b"\n") + 1]
    return data.decode("utf-8-sig", errors="replace")


def open_source(path: Path, workdir: Path, head_only: bool = False, limits: FileLimits | None = None) -> SourceFile:
    """Inspect `path` and return a UTF-8 file to read. Raises FileRefused for what no import can
    use, LimitExceeded (a FileRefused) for a file over a limit.

    head_only: a preview, for checks before an import is queued: a compressed or transcoded file
    is copied only as far as the header and the sample rows, though a compressed one is still
    read to its end (its size is checked, and its encoding found as the import will find it)."""
    path = Path(path)
    limits = limits or file_limits()
    workdir.mkdir(parents=True, exist_ok=True)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(SAMPLE)
    compressed = head.startswith(b"\x1f\x8b")
    keep = limits.max_header_bytes + PREVIEW_BYTES if head_only else None
    scan = None
    readable = path
    if compressed:
        readable, scan = _gunzip(path, workdir, limits, keep)
        with readable.open("rb") as f:
            head = f.read(SAMPLE)
    if not head.strip(b" \t\r\n\x00" + codecs.BOM_UTF8 + codecs.BOM_UTF16_LE + codecs.BOM_UTF16_BE):
        raise FileRefused("the file is empty")
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            raise FileRefused(f"this is not a CSV file: it is {what}")
    encoding, has_nul = _detect_encoding(readable, head, scan)
    needs_copy = encoding not in ("utf-8", "utf-8-sig") or has_nul
    text_path = _transcode(readable, encoding, workdir, keep) if needs_copy else readable
    sample = read_sample(text_path, limits=limits)
    if _looks_binary(sample):
        raise FileRefused("this is not a CSV file: it holds binary data, not text")
    first_line = sample.split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    headers = _headers(sample, delimiter)
    if not headers:
        raise FileRefused("the file has no header row")
    if len(headers) > limits.max_columns:
        raise LimitExceeded(f"the file has {len(headers):,} columns; the limit is {limits.max_columns:,} (ROSTER_MAX_COLUMNS)")
    return SourceFile(
        path=text_path,
        original=path,
        encoding=encoding.replace("-bom", " with BOM").replace("utf-8-sig", "utf-8 with BOM"),
        delimiter=delimiter,
        headers=headers,
        compressed=compressed,
        transcoded=needs_copy,
        nul_bytes_removed=has_nul and encoding.startswith("utf-8"),
        size_bytes=size,
    )
