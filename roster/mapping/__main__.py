"""python -m roster.mapping FILE.csv [--existing-properties PROPS.json] [--json]

Reads the header and the first rows of a CSV and prints the offline engine's suggestions.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path

from . import ExistingProperty, suggest_offline, to_column_map

SAMPLE_ROWS = 50


def _decode(raw: bytes) -> str:
    # Exports are UTF-8 (often with a BOM from Excel); older Windows tools write cp1252.
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most fields (European exports use ';')."""
    line = text.split("\n", 1)[0]
    best, best_n = ",", 1
    for d in (",", ";", "\t", "|"):
        n = len(next(csv.reader([line], delimiter=d), []))
        if n > best_n:
            best, best_n = d, n
    return best


def read_sample(path: str | Path, rows: int = SAMPLE_ROWS) -> tuple[list[str], dict[str, list[str]]]:
    """(headers, header -> first values); only the first ~1 MB is read, the file may be huge."""
    with open(path, "rb") as f:
        raw = f.read(1 << 20)
        if f.read(1):  # cut at a line end, never inside a multi-byte character
            raw = raw[: raw.rfind(b"\n") + 1] or raw
    text = _decode(raw)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    # Headers are kept verbatim (no strip): the column map must name columns exactly as the file does.
    headers = next(reader, [])
    samples: dict[str, list[str]] = {h: [] for h in headers}
    for n, row in enumerate(reader):
        if n >= rows:
            break
        for h, v in zip(headers, row):
            if len(samples[h]) < rows:
                samples[h].append(v)
    return headers, samples


def load_existing(path: str | Path | None) -> list[ExistingProperty]:
    if not path:
        return []
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("properties") or data.get("data") or []
    return [ExistingProperty(key=str(p["key"]), type=str(p.get("type", "string"))) for p in data]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m roster.mapping", description=__doc__)
    ap.add_argument("csv")
    ap.add_argument("--existing-properties", dest="props")
    ap.add_argument("--json", action="store_true", help="print JSON (column_map and suggestions)")
    args = ap.parse_args(argv)
    headers, samples = read_sample(args.csv)
    suggestions = suggest_offline(headers, samples, load_existing(args.props))
    out = {
        "column_map": to_column_map(suggestions),
        "suggestions": [
            {k: v for k, v in asdict(s).items() if k != "is_new_property"} | {"is_new_property": s.is_new_property}
            for s in suggestions
        ],
    }
    if args.json:
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for s in suggestions:
            dest = (
                s.target
                if s.target != "property"
                else f"property {s.property_key} ({s.property_type}{', new' if s.is_new_property else ''})"
            )
            if s.invert:
                dest += " (inverted)"
            print(f"{s.column!r:32} -> {dest:40} {s.confidence:.2f}  {s.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
