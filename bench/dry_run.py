"""A dry run against the real import, in the same run, on the same database (issue 20: a 1M-row
dry run in at most half the real import's time).

Usage: python bench/dry_run.py [--rows 1000000] [--no-segment]

Into a fresh database: a dry run of the file (every row would be created), the real import, then a
dry run of the same file again (every row would update) and the real update. Prints each time and
the dry run's share of the real import's; the counts of each dry run must equal the real ones.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from run import COLUMN_MAP, ROOT, fresh_roster, generate  # bench/ is on sys.path: this script's own folder


def roster_import(path: Path, env: dict, segment: str | None, dry_run: bool) -> tuple[float, dict]:
    cmd = [str(ROOT / ".venv" / "bin" / "roster"), "import", str(path), "--team", "bench", "--json"]
    cmd += ["--column-map", json.dumps(COLUMN_MAP), *(["--segment", segment] if segment else [])]
    cmd += ["--dry-run"] if dry_run else []
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"roster import failed: {p.stderr[-2000:]}")
    return seconds, json.loads(p.stdout)


def measure(rows: int, segment: bool = True, log=print) -> dict:
    """{"create": {...}, "update": {...}}, each the dry run's and the import's seconds and their ratio."""
    path = generate(rows)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env, seg = fresh_roster(Path(tmp))
        seg = seg if segment else None
        for what in ("create", "update"):
            dry_s, dry = roster_import(path, env, seg, dry_run=True)
            real_s, real = roster_import(path, env, seg, dry_run=False)
            assert dry["outcome"] == "dry_run" and dry["counts"] == real["counts"], (dry["counts"], real["counts"])
            assert dry["progress"]["memberships"] == real["progress"]["memberships"]
            out[what] = {"dry_run": dry_s, "import": real_s, "ratio": dry_s / real_s}
            log(
                f"{what}: dry run {dry_s:6.2f} s, import {real_s:6.2f} s, dry run / import {dry_s / real_s:.2f} "
                f"(counts {real['counts']})",
                flush=True,
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--no-segment", action="store_true")
    args = ap.parse_args()
    measure(args.rows, segment=not args.no_segment)


if __name__ == "__main__":
    main()
