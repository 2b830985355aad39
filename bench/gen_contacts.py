"""A contacts CSV for benchmarks: realistic columns and trouble, the same bytes for the same arguments.

Usage: python bench/gen_contacts.py ROWS OUT.csv [--seed 7] [--invalid 0.01] [--dupes 0.01] [--offset K]
       (OUT.csv "-" writes to stdout)

Columns: Email, First Name, Last Name, Plan, Company, Country, Signup Date, Lifetime Value, Subscribed.
About --invalid of the rows carry an unusable email, and about --dupes repeat an earlier row's email
in other letter case (an in-file duplicate the importer must skip). Ids start at --offset, so two
files overlap (the second updates) or not (it creates). Standard library only: it runs before the
project's environment exists, and 1M rows take a few seconds.

The draws from one seeded random.Random, in a fixed order per row, are what make the output
deterministic: change their order and every recorded benchmark's data changes with it.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from typing import TextIO

HEADER = ["Email", "First Name", "Last Name", "Plan", "Company", "Country", "Signup Date", "Lifetime Value", "Subscribed"]
# Names with letters outside ASCII, so the importer's decoding is exercised on every run.
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Ngozi",
    "Hiroshi",
    "Priya",
    "Amélie",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "García",
    "Müller",
    "Nowak",
    "Kierkegaard",
    "Okafor",
    "Tanaka",
]
PLANS = ["free", "pro", "team", "enterprise"]
COUNTRIES = ["US", "DE", "FR", "BR", "IN", "JP", "NG", "PL", "GB", "ES"]
UNUSABLE_EMAILS = ["not-an-email", "john.doe@", "@example.com", "", "a b@example.com"]


def write_contacts(out: TextIO, rows: int, seed: int = 7, invalid: float = 0.01, dupes: float = 0.01, offset: int = 0) -> None:
    rng = random.Random(seed)
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(offset, offset + rows):
        roll = rng.random()
        if roll < invalid:
            email = rng.choice(UNUSABLE_EMAILS)
        elif roll < invalid + dupes and i > offset:
            # An earlier row's address in other case; a duplicate only if that row was not itself unusable.
            j = rng.randrange(offset, i)
            email = f"User{j}@Example{j % 97}.com"
        else:
            email = f"user{i}@example{i % 97}.com"
        # One draw each, in this order, after the email's: see the module's docstring.
        first, last, plan = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng.choice(PLANS)
        company = f"Company {i % 5000}"
        country = rng.choice(COUNTRIES)
        signup = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
        lifetime_value = f"{rng.random() * 1000:.2f}"
        subscribed = "true" if rng.random() < 0.9 else "false"
        writer.writerow([email, first, last, plan, company, country, signup, lifetime_value, subscribed])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", type=int)
    ap.add_argument("out", help='a file to write, or "-" for stdout')
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--invalid", type=float, default=0.01, help="share of rows with an unusable email")
    ap.add_argument("--dupes", type=float, default=0.01, help="share of rows repeating an earlier email")
    ap.add_argument("--offset", type=int, default=0, help="the first row's id")
    a = ap.parse_args(argv)
    options = dict(seed=a.seed, invalid=a.invalid, dupes=a.dupes, offset=a.offset)
    if a.out == "-":
        write_contacts(sys.stdout, a.rows, **options)
    else:
        with open(a.out, "w", newline="", encoding="utf-8") as out:
            write_contacts(out, a.rows, **options)


if __name__ == "__main__":
    main()
