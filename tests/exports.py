"""Files shaped like the exports people bring from other tools, built by the tests (issue 21 was
found with a Mailchimp and a HubSpot export): the same headers, the same kinds of values."""

from __future__ import annotations

import csv
import io
from pathlib import Path

MAILCHIMP_HEADERS = [
    "Email Address",
    "First Name",
    "Last Name",
    "Address",
    "Phone Number",
    "Birthday",
    "MEMBER_RATING",
    "OPTIN_TIME",
    "OPTIN_IP",
    "CONFIRM_TIME",
    "CONFIRM_IP",
    "LATITUDE",
    "LONGITUDE",
    "GMTOFF",
    "DSTOFF",
    "TIMEZONE",
    "CC",
    "REGION",
    "LAST_CHANGED",
    "LEID",
    "EUID",
]
# What a person would keep from it; everything else is Mailchimp's bookkeeping.
MAILCHIMP_KEPT = {"Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday", "CC", "REGION"}

HUBSPOT_HEADERS = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Contact owner",
    "Lead Status",
    "Marketing contact status",
    "Create Date",
    "Last Activity Date",
    "Company Name",
    "Associated Company ID",
    "City",
    "Country/Region",
    "IP Country",
    "Job Title",
    "Associated Company",
]
HUBSPOT_IGNORED = {"Record ID", "Create Date", "Last Activity Date", "Associated Company ID", "IP Country"}

FIRST = ["Renée", "Jörg", "Ana", "Zoë", "Li", "Ömer", "Chloé", "José"]
LAST = ["Dubois", "Müller", "García", "Smith", "Wang", "Østergaard", "Martin", "Pérez"]
COUNTRIES = ["FR", "DE", "ES", "GB", "CN", "TR", "FR", "MX"]


def mailchimp_rows(n: int, bad_every: int = 0) -> list[list[str]]:
    """`n` rows of a Mailchimp audience export; with `bad_every`, every such row has a broken email."""
    rows = []
    for i in range(n):
        k = i % len(FIRST)
        email = f"member{i}@example.com" if not (bad_every and i % bad_every == bad_every - 1) else f"member{i}.example.com"
        rows.append(
            [
                email,
                FIRST[k],
                LAST[k],
                f"{10 + i} Rue de la Paix  Paris  75002  FR",
                f"+1 (415) 555-{i % 10000:04d}",
                f"{(i % 12) + 1:02d}/{(i % 28) + 1:02d}",
                str(1 + i % 5),
                f"2024-0{1 + i % 9}-1{i % 10} 09:1{i % 10}:00",
                f"192.168.{i % 256}.{(i * 7) % 256}",
                f"2024-0{1 + i % 9}-1{i % 10} 09:2{i % 10}:00",
                f"10.0.{i % 256}.{(i * 3) % 256}",
                f"{48.85 + (i % 100) / 1000:.4f}",
                f"-{2.35 + (i % 100) / 1000:.4f}" if k % 2 else f"{2.35 + (i % 100) / 1000:.4f}",
                "1" if k % 2 else "-5",
                "1" if k % 3 else "0",
                "Europe/Paris" if k % 2 else "America/New_York",
                COUNTRIES[k],
                ["IDF", "BE", "MD", "LND", "BJ", "IST", "ARA", "CMX"][k],
                f"2025-01-0{1 + i % 9} 10:00:00",
                str(100000 + i),
                f"{(0xA1B2C3 + i * 7919) & 0xFFFFFF:06x}{i % 10}",
            ]
        )
    return rows


def hubspot_rows(n: int) -> list[list[str]]:
    rows = []
    for i in range(n):
        k = i % len(FIRST)
        rows.append(
            [
                str(51000000 + i),
                FIRST[k],
                LAST[k],
                f"lead{i}@example.org",
                f"+44 20 7946 {i % 10000:04d}",
                "Sam Seller" if k % 2 else "Alex Agent",
                ["New", "Open", "In progress", "Connected"][k % 4],
                "Marketing contact" if k % 2 else "Non-marketing contact",
                f"2024-03-{(i % 28) + 1:02d} 14:22",
                f"2025-02-{(i % 28) + 1:02d} 08:05",
                ["Acme", "Initech", "Globex", "Umbrella"][k % 4],
                str(9100000 + k),
                ["Paris", "Berlin", "Madrid", "London"][k % 4],
                ["France", "Germany", "Spain", "United Kingdom"][k % 4],
                ["fr", "de", "es", "gb"][k % 4],
                ["CEO", "CTO", "Buyer", "Engineer"][k % 4],
                ["Acme", "Initech", "Globex", "Umbrella"][k % 4],
            ]
        )
    return rows


def write(path: Path, headers: list[str], rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows([headers, *rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def mailchimp_csv(path: Path, n: int = 12, **kw) -> Path:
    return write(path, MAILCHIMP_HEADERS, mailchimp_rows(n, kw.pop("bad_every", 0)), **kw)


def hubspot_csv(path: Path, n: int = 12, **kw) -> Path:
    return write(path, HUBSPOT_HEADERS, hubspot_rows(n), **kw)


def samples(headers: list[str], rows: list[list[str]]) -> dict[str, list[str]]:
    return {h: [r[i] for r in rows] for i, h in enumerate(headers)}
