"""The bad files people really upload, built in code, each with what importing it must give.

One `BadFile` per kind of trouble: odd encodings and separators that must import cleanly, rows
that must fail alone (with their row number and a reason) while the rest imports, and files that
must be refused before anything is written. Building the bytes here, rather than keeping sample
files, puts the trouble (a BOM, a CRLF inside quotes, a byte that is not UTF-8) in plain sight.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

NAMES_MAP = {"email": "Email", "first_name": "First Name", "last_name": "Last Name"}
HEADER = ["Email", "First Name", "Last Name"]
# Names with letters outside ASCII, so a wrong guess of the encoding shows as mojibake.
PEOPLE = [
    ["user0@example.com", "José", "Müller"],
    ["user1@example.com", "Zoë", "Nowak"],
    ["user2@example.com", "Ada", "Lovelace"],
    ["user3@example.com", "Łukasz", "Okafor"],
    ["user4@example.com", "Amélie", "Dubois"],
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class BadFile:
    """A file's name and bytes, and the outcome its import must have.

    refused: the import must be refused up front (nothing written, an error that says why).
    Otherwise it completes with `created` new contacts and `failed` failed rows (`failed_rows`
    are their 1-based data row numbers); `total`, when set, is the row count; `check` maps an
    email to fields the stored contact must have."""

    name: str
    why: str
    data: bytes
    column_map: dict | None = None
    refused: bool = False
    created: int = 0
    failed_rows: tuple[int, ...] = ()
    total: int | None = None
    check: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return len(self.failed_rows)

    def write(self, directory: Path) -> Path:
        path = directory / self.name
        path.write_bytes(self.data)
        return path


def _table(rows: list[list[str]], delimiter: str = ",", lineterminator: str = "\n") -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator=lineterminator).writerows([HEADER, *rows])
    return buf.getvalue()


BAD_FILES = [
    BadFile(
        "utf8_bom.csv",
        "UTF-8 with a byte-order mark: the first header must still read Email",
        b"\xef\xbb\xbf" + _table(PEOPLE).encode("utf-8"),
        NAMES_MAP,
        created=5,
        check={"user0@example.com": {"first_name": "José"}},
    ),
    BadFile(
        "utf16le_tab.csv",
        "Excel's 'Unicode text': UTF-16 LE with a BOM, tab-separated, CRLF",
        b"\xff\xfe" + _table(PEOPLE, delimiter="\t", lineterminator="\r\n").encode("utf-16-le"),
        NAMES_MAP,
        created=5,
        check={"user1@example.com": {"first_name": "Zoë"}},
    ),
    BadFile(
        # Windows-1252 has no Ł: Excel writes "?" for it, as errors="replace" does here.
        "cp1252.csv",
        "Windows-1252 from an old Excel: accents must not turn into mojibake",
        _table(PEOPLE).encode("cp1252", errors="replace"),
        NAMES_MAP,
        created=5,
        check={"user4@example.com": {"first_name": "Amélie"}},
    ),
    BadFile(
        "semicolon.csv",
        "a European Excel export: semicolon-separated",
        _table(PEOPLE, delimiter=";").encode("utf-8"),
        NAMES_MAP,
        created=5,
        check={"user0@example.com": {"last_name": "Müller"}},
    ),
    BadFile(
        "quoted_crlf.csv",
        "quoted commas, doubled quotes and a line break inside a quoted field, CRLF endings",
        b"Email,First Name,Last Name,Notes\r\n"
        b'user0@example.com,"Ada","Love, lace","line one\r\nline two"\r\n'
        b'user1@example.com,Grace,"Hop""per",plain\r\n',
        NAMES_MAP,
        created=2,
        check={"user0@example.com": {"last_name": "Love, lace"}, "user1@example.com": {"last_name": 'Hop"per'}},
    ),
    BadFile(
        "invalid_emails.csv",
        "four rows without a usable email fail with a reason; padded whitespace is trimmed, not a failure",
        b"Email,First Name,Last Name\n"
        b"user0@example.com,A,B\n"
        b"not-an-email,C,D\n"
        b"user2@example.com,E,F\n"
        b"john.doe@,G,H\n"
        b"@example.com,I,J\n"
        b"  user5@example.com  ,K,L\n"
        b",M,N\n",
        NAMES_MAP,
        created=3,
        failed_rows=(2, 4, 5, 7),
        check={"user5@example.com": {"first_name": "K"}},
    ),
    BadFile(
        "duplicates_in_file.csv",
        "the same email three times, in other letter cases: one contact, the last row wins, the others are skipped",
        b"Email,First Name,Last Name\n"
        b"ada@example.com,Ada,One\n"
        b"ADA@example.com,Ada,Two\n"
        b"grace@example.com,Grace,H\n"
        b"Ada@Example.com,Ada,Three\n",
        NAMES_MAP,
        created=2,
        total=4,
        check={"ada@example.com": {"last_name": "Three"}},
    ),
    BadFile("empty.csv", "an empty file", b"", refused=True),
    BadFile(
        "not_csv.csv",
        "a PNG image named .csv",
        PNG_SIGNATURE + bytes(range(256)) * 8,
        refused=True,
    ),
    BadFile(
        "no_email_column.csv",
        "no column holds email addresses, and no column map names one",
        b"Name,Phone\nAda,+1 555 0100\nGrace,+1 555 0101\n",
        refused=True,
    ),
]
