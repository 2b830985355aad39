"""Find out what a file is (compression, encoding, delimiter, header) and make it plain UTF-8.

polars reads UTF-8 only, fast. Files that are already UTF-8 (with or without a BOM) and hold no
NUL bytes are read where they lie; anything else is transcoded once, streaming, into the work
directory, so memory stays flat whatever the file's size.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from roster.csvfiles.errors import FileRefused

CHUNK = 1 << 20
SAMPLE = 64 * 1024
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

    def info(self) -> dict:
        d = asdict(self)
        d["path"], d["original"] = str(self.path), str(self.original)
        d["delimiter"] = {"\t": "tab"}.get(self.delimiter, self.delimiter)
        return d


def _gunzip(path: Path, workdir: Path) -> Path:
    out = workdir / "decompressed.csv"
    try:
        with gzip.open(path, "rb") as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    except (OSError, EOFError) as e:
        raise FileRefused(f"the file looks gzip-compressed but cannot be decompressed ({e})") from None
    return out


def _detect_encoding(path: Path, head: bytes) -> tuple[str, bool]:
    """(encoding, has_nul). UTF-8 is checked over the whole file: a stray byte deep in a
    Windows-1252 export would otherwise surface as an error halfway through the import."""
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
    decoder = codecs.getincrementaldecoder("utf-8")()
    has_nul = False
    with path.open("rb") as f:
        try:
            while chunk := f.read(CHUNK):
                has_nul = has_nul or b"\x00" in chunk
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "windows-1252", has_nul
    return enc, has_nul


def _cp1252_or_latin1(error: UnicodeDecodeError):
    # Five bytes are undefined in Windows-1252; read them as Latin-1 rather than fail the file.
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("cp1252_latin1", _cp1252_or_latin1)


def _transcode(path: Path, encoding: str, workdir: Path) -> Path:
    out = workdir / "normalized.csv"
    python_encoding = {"utf-16-le-bom": "utf-16", "utf-16-be-bom": "utf-16", "utf-8": "utf-8-sig"}.get(encoding, encoding)
    errors = "cp1252_latin1" if encoding == "windows-1252" else "replace"
    with path.open("r", encoding=python_encoding, errors=errors, newline="") as src, out.open(
        "w", encoding="utf-8", newline=""
    ) as dst:
        while chunk := src.read(CHUNK):
            dst.write(chunk.replace("\x00", ""))  # NUL cannot be stored in PostgreSQL text
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


def read_sample(path: Path, size: int = SAMPLE) -> str:
    """The beginning of a UTF-8 file, cut at a line end so no character or row is split."""
    with path.open("rb") as f:
        raw = f.read(size)
    if len(raw) == size and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]
    return raw.decode("utf-8-sig", errors="replace")


def open_source(path: Path, workdir: Path) -> SourceFile:
    """Inspect `path` and return a UTF-8 file to read. Raises FileRefused for what no import can use."""
    path = Path(path)
    workdir.mkdir(parents=True, exist_ok=True)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(SAMPLE)
    compressed = head.startswith(b"\x1f\x8b")
    readable = _gunzip(path, workdir) if compressed else path
    if compressed:
        with readable.open("rb") as f:
            head = f.read(SAMPLE)
    if not head.strip(b" \t\r\n\x00" + codecs.BOM_UTF8 + codecs.BOM_UTF16_LE + codecs.BOM_UTF16_BE):
        raise FileRefused("the file is empty")
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            raise FileRefused(f"this is not a CSV file: it is {what}")
    encoding, has_nul = _detect_encoding(readable, head)
    needs_copy = encoding not in ("utf-8", "utf-8-sig") or has_nul
    text_path = _transcode(readable, encoding, workdir) if needs_copy else readable
    sample = read_sample(text_path)
    if _looks_binary(sample):
        raise FileRefused("this is not a CSV file: it holds binary data, not text")
    first_line = sample.split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    headers = _headers(sample, delimiter)
    if not headers:
        raise FileRefused("the file has no header row")
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
