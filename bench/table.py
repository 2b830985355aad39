"""The bench in one table (issue 23): each figure with its goal, the command that produced it, the
machine's load (1-min load average before and after) and the previous recorded figure beside it.

Usage: python bench/table.py [--only ROW,...] [--quick] [--no-record]
       (`make bench` runs it whole: about an hour on 2 cores, the 10M rows most of it)

Rows, in order (the names --only takes; `1m` and `10m` name both rows of that measurement):
  idle          `roster serve` doing nothing: CPU of its process tree, share of one core
                (runs bench/idle_cpu.py --json: its last line is JSON with "idle_cpu_percent")
  http          a 1,000-row import over HTTP, POST to `completed`, median of 5 (bench/http_import.py)
  back_to_back  22 imports of 50 rows from one team, POSTed back to back: seconds each (bench/back_to_back.py)
  fixed         `roster import` of 5 rows, median wall of 5 (bench/fixed_cost.py)
  create_1m, update_1m    1M rows, first load and the same file again, as ratios to the raw-SQL
                floor measured in the same run (bench/run.py, bench/floor.py)
  create_10m, rss_10m     10M rows, first load: ratio to its floor, peak RSS (bench/run.py)
  dry_run       1M dry run time / 1M real import time, the larger of create and update (bench/dry_run.py)
  undo          the undo record's cost as a share of a 1M upsert import's time (bench/undo_cost.py)
Goals: issue 23 and issue 20; every goal is an upper bound.

Each row measured appends a line to bench/history.jsonl (date, commit, row, figure, goal, load,
command, quick), which is where "previous" comes from: the latest earlier line of the same row, of
the same kind (a --quick run compares with quick runs only, a real run with real ones). A real run
also appends the table to bench/RESULTS.md as a dated section. --quick measures small sizes (20k
rows instead of 1M, 100k instead of 10M, fewer repeats) to check that everything runs: its figures
are marked quick in the table and in the history, and never go into bench/RESULTS.md.
--no-record prints the table and writes nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "bench" / "history.jsonl"
RESULTS = ROOT / "bench" / "RESULTS.md"
PY = ".venv/bin/python"


@dataclass(frozen=True)
class Row:
    key: str
    group: str  # the measurement that produces it (one measurement may give two rows)
    what: str  # {rows} is the measurement's size
    unit: str  # "%", "s", "x" or "MiB"
    goal: float  # at most
    source: str


ROWS = [
    Row("idle", "idle", "`roster serve` idle, CPU of its tree", "%", 2.0, "issue 23"),
    Row("http", "http", "{rows}-row import over HTTP, median of {runs}", "s", 1.0, "issue 23"),
    Row("back_to_back", "back_to_back", "{imports} imports of {rows} rows, one team, back to back: each", "s", 1.5, "issue 23"),
    Row("fixed", "fixed", "`roster import` of 5 rows, median of {runs}", "s", 1.5, "issue 23"),
    Row("create_1m", "1m", "{rows} rows create / floor", "x", 1.15, "issue 23"),
    Row("update_1m", "1m", "{rows} rows update / floor", "x", 1.0, "issue 23"),
    Row("create_10m", "10m", "{rows} rows create / floor", "x", 1.05, "issue 23"),
    Row("rss_10m", "10m", "{rows} rows peak RSS of `roster import`", "MiB", 500, "issue 23"),
    Row("dry_run", "dry_run", "{rows} rows dry run / import", "x", 0.5, "issue 20"),
    Row("undo", "undo", "undo record's share of a {rows}-row upsert", "%", 10, "issue 20"),
]
GROUPS = list(dict.fromkeys(r.group for r in ROWS))

# The sizes of a real run and of a --quick one.
SIZES = {
    False: {
        "idle": {"seconds": 60, "settle": 30},
        "http": {"runs": 5, "rows": 1000},
        "back_to_back": {"imports": 22, "rows": 50},
        "fixed": {"runs": 5},
        "1m": {"rows": 1_000_000},
        "10m": {"rows": 10_000_000},
        "dry_run": {"rows": 1_000_000},
        "undo": {"rows": 1_000_000, "repeat": 3},
    },
    True: {
        "idle": {"seconds": 10, "settle": 5},
        "http": {"runs": 2, "rows": 1000},
        "back_to_back": {"imports": 4, "rows": 50},
        "fixed": {"runs": 2},
        "1m": {"rows": 20_000},
        "10m": {"rows": 100_000},
        "dry_run": {"rows": 20_000},
        "undo": {"rows": 20_000, "repeat": 1},
    },
}


@dataclass
class Measured:
    """What one measurement gave: the command that reproduces it and, per row, (figure, detail)."""

    command: str
    figures: dict[str, tuple[float, str]] = field(default_factory=dict)
    load: tuple[float, float] | None = None
    error: str | None = None  # not measured, and why


def _rows(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def describe(row: Row, quick: bool) -> str:
    size = dict(SIZES[quick][row.group])
    if "rows" in size and row.group in ("1m", "10m", "dry_run", "undo"):
        size["rows"] = _rows(size["rows"])
    elif "rows" in size:
        size["rows"] = f"{size['rows']:,}"
    return row.what.format(**size) + (" (quick)" if quick else "")


# The measurements: each calls the existing script's function (or, for idle, runs the script).


def idle(size: dict, log: Callable) -> Measured:
    cmd = [PY, "bench/idle_cpu.py", "--json", "--seconds", str(size["seconds"]), "--settle", str(size["settle"])]
    m = Measured(" ".join(cmd))
    if not (ROOT / "bench" / "idle_cpu.py").exists():
        m.error = "bench/idle_cpu.py is not in this checkout"
        return m
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    for line in p.stdout.splitlines()[:-1]:
        log(line)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        last = p.stderr.strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"bench/idle_cpu.py exited {p.returncode}: {last[0]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    detail = f"{out.get('processes_started', '?')} processes started and {out.get('processes_ended', '?')} ended while idle"
    m.figures["idle"] = (float(out["idle_cpu_percent"]), detail)
    return m


def http(size: dict, log: Callable) -> Measured:
    import http_import

    m = Measured(f"{PY} bench/http_import.py --runs {size['runs']} --rows {size['rows']}")
    r = http_import.measure(size["runs"], size["rows"], log=log)
    m.figures["http"] = (r["median"], "runs " + ", ".join(f"{t:.2f}" for t in r["times"]) + " s")
    return m


def back_to_back(size: dict, log: Callable) -> Measured:
    import back_to_back as b2b

    m = Measured(f"{PY} bench/back_to_back.py --imports {size['imports']} --rows {size['rows']}")
    r = b2b.measure(size["imports"], size["rows"], log=log)
    m.figures["back_to_back"] = (r["each"], f"{r['total']:.1f} s for {size['imports']} from the first POST")
    return m


def fixed(size: dict, log: Callable) -> Measured:
    import fixed_cost

    m = Measured(f"{PY} bench/fixed_cost.py --runs {size['runs']}")
    r = fixed_cost.measure(size["runs"], log=log)["this checkout"]
    m.figures["fixed"] = (r["wall"], f"{r['cpu']:.2f} s CPU; runs " + ", ".join(f"{t:.2f}" for t in r["walls"]) + " s")
    return m


def one_million(size: dict, log: Callable) -> Measured:
    import run

    m = Measured(f"{PY} bench/run.py --rows {size['rows']}")
    r = run.compare(size["rows"], log=log)
    m.figures["create_1m"] = (r["create_ratio"], f"roster {r['create']:.2f} s, floor {r['floor_create']:.2f} s")
    m.figures["update_1m"] = (r["update_ratio"], f"roster {r['update']:.2f} s, floor {r['floor_update']:.2f} s")
    return m


def ten_million(size: dict, log: Callable) -> Measured:
    import run

    m = Measured(f"{PY} bench/run.py --rows {size['rows']} --create-only")
    r = run.compare(size["rows"], update=False, log=log)
    m.figures["create_10m"] = (r["create_ratio"], f"roster {r['create']:.2f} s, floor {r['floor_create']:.2f} s")
    m.figures["rss_10m"] = (r["rss_mib"], "")
    return m


def dry_run(size: dict, log: Callable) -> Measured:
    import dry_run as dr

    m = Measured(f"{PY} bench/dry_run.py --rows {size['rows']}")
    r = dr.measure(size["rows"], log=log)
    c, u = r["create"], r["update"]
    detail = f"create {c['dry_run']:.2f} / {c['import']:.2f} s = {c['ratio']:.2f}, update {u['dry_run']:.2f} / {u['import']:.2f} s = {u['ratio']:.2f}"
    m.figures["dry_run"] = (max(c["ratio"], u["ratio"]), detail)
    return m


def undo(size: dict, log: Callable) -> Measured:
    import undo_cost

    m = Measured(f"{PY} bench/undo_cost.py --rows {size['rows']} --repeat {size['repeat']}")
    r = undo_cost.measure(size["rows"], size["repeat"], log=log)
    detail = (
        f"merge {r['with_undo']:.2f} s with, {r['without']:.2f} s without; upsert {r['upsert']:.2f} s; revert {r['revert']:.2f} s"
    )
    m.figures["undo"] = (100 * r["share"], detail)
    return m


MEASURE = {
    "idle": idle,
    "http": http,
    "back_to_back": back_to_back,
    "fixed": fixed,
    "1m": one_million,
    "10m": ten_million,
    "dry_run": dry_run,
    "undo": undo,
}


# The history and the table.


def read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def previous(history: list[dict], key: str, quick: bool) -> dict | None:
    """The latest recorded figure of a row, of the same kind (quick or not)."""
    found = [h for h in history if h["row"] == key and bool(h.get("quick")) == quick and h.get("figure") is not None]
    return found[-1] if found else None


def fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.0f} {unit}"


def table_rows(measured: dict[str, Measured], history: list[dict], quick: bool) -> list[list[str]]:
    """One list of cells per row of the groups measured: what, figure, goal, met, previous, load, command, details."""
    out = []
    for row in ROWS:
        m = measured.get(row.group)
        if m is None:
            continue
        prev = previous(history, row.key, quick)
        prev_text = "none"
        if prev:
            when = (prev.get("date") or "")[:10] or prev.get("source", "")
            prev_text = f"{fmt(prev['figure'], row.unit)} ({when}, {prev.get('commit') or '?'}{', quick' if quick else ''})"
        load = f"{m.load[0]:.2f} → {m.load[1]:.2f}" if m.load else ""
        goal = f"≤ {fmt(row.goal, row.unit)} ({row.source})"
        if row.key in m.figures:
            value, detail = m.figures[row.key]
            figure, met = fmt(value, row.unit), ("met" if value <= row.goal else "MISSED")
        else:
            figure, met, detail = "not measured", "", m.error or ""
        detail = " ".join(detail.split())  # one line, in a terminal and in Markdown
        out.append([describe(row, quick), figure, goal, met, prev_text, load, m.command, detail[:300]])
    return out


HEADER = ["row", "figure", "goal", "", "previous", "load (1 min) before → after", "command", "details"]


def render_text(cells: list[list[str]]) -> str:
    rows = [HEADER, *cells]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    lines = []
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return "\n".join(line.rstrip() for line in lines)


def render_markdown(cells: list[list[str]]) -> str:
    def cell(text: str, i: int) -> str:
        text = text.replace("|", "\\|")
        if i == 6 and text:
            return f"`{text}`"
        if i == 3 and text == "MISSED":
            return "**missed**"
        return text

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell(c, i) for i, c in enumerate(r)) + " |" for r in cells]
    return "\n".join(lines)


def history_lines(measured: dict[str, Measured], run: dict) -> list[dict]:
    out = []
    for row in ROWS:
        m = measured.get(row.group)
        if m is None or row.key not in m.figures:
            continue
        value, detail = m.figures[row.key]
        out.append(
            {
                "date": run["date"],
                "commit": run["commit"],
                "row": row.key,
                "what": describe(row, run["quick"]),
                "figure": round(value, 4),
                "unit": row.unit,
                "goal": row.goal,
                "met": value <= row.goal,
                "load": [round(x, 2) for x in m.load] if m.load else None,
                "command": m.command,
                "detail": detail,
                "quick": run["quick"],
            }
        )
    return out


def results_section(cells: list[list[str]], run: dict) -> str:
    title = f"## The bench table, {run['date'][:16].replace('T', ' ')} UTC, commit {run['commit']}"
    note = (
        f"Command: `{run['command']}` ({os.cpu_count()} cores). Each figure's own command, the load average "
        "around it and the previous figure of the row (from `bench/history.jsonl`) are beside it."
    )
    return f"\n{title}\n{note}\n\n{render_markdown(cells)}\n"


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    changed = [
        line
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line.endswith(("bench/history.jsonl", "bench/RESULTS.md"))
    ]
    return head + ("+changes" if changed else "")


def selected(only: str | None) -> list[str]:
    if not only:
        return GROUPS
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in GROUPS and n not in {r.key for r in ROWS}]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}: choose from {[r.key for r in ROWS]} or {GROUPS}")
    return [g for g in GROUPS if g in names or any(r.group == g and r.key in names for r in ROWS)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated rows or measurements (default: all)")
    ap.add_argument("--quick", action="store_true", help="small sizes, to check the table works: not the real figures")
    ap.add_argument("--no-record", action="store_true", help="print the table only: no history line, no RESULTS.md section")
    ap.add_argument("--history", type=Path, default=HISTORY)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    groups = selected(args.only)
    history = read_history(args.history)
    run = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "quick": args.quick,
        "command": "python bench/table.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
    }
    kind = "QUICK (small sizes: not the real figures)" if args.quick else "real sizes"
    print(f"bench table, {run['date']}, commit {run['commit']}, {kind}: {', '.join(groups)}", flush=True)
    measured: dict[str, Measured] = {}
    for group in groups:
        size = SIZES[args.quick][group]
        print(f"\n== {group} {size}", flush=True)

        def log(*a, **k):
            print("   ", *a, **{**k, "flush": True})

        before = os.getloadavg()[0]
        try:
            m = MEASURE[group](size, log)
        except Exception as e:  # one measurement failing leaves the others' rows
            traceback.print_exc()
            m = Measured("", error=f"failed: {type(e).__name__}: {str(e)[:200]}")
        m.load = (before, os.getloadavg()[0])
        measured[group] = m
        if not args.no_record:  # as each measurement ends: a long run cut off keeps what it measured
            lines = history_lines({group: m}, run)
            if lines:
                with args.history.open("a") as f:
                    f.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    cells = table_rows(measured, history, args.quick)
    print(f"\n{'QUICK: small sizes, not the real figures. ' if args.quick else ''}{run['date']}, commit {run['commit']}")
    print(render_text(cells))
    if not args.no_record and not args.quick:
        with args.results.open("a") as f:
            f.write(results_section(cells, run))
        print(f"\nappended to {args.results.relative_to(ROOT) if args.results.is_relative_to(ROOT) else args.results}")


if __name__ == "__main__":
    main()
