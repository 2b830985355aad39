"""Small imports of one team, back to back, over HTTP (issue 23: at most 1.5 s each on a quiet machine).

Usage: python bench/back_to_back.py [--imports 22] [--rows 50]

`roster serve` on a fresh database (bench/http_import.py's `serve`), one team: one untimed import
first (the first run after `roster serve` starts has no worker waiting, which a running service
has), then `--imports` files of `--rows` new contacts each POSTed one after another without
waiting, as a script syncing a team's sign-ups would. The team's imports run one at a time (the
run limits as shipped: one per team). Prints the seconds from the first POST until the last one
ended, and that divided by the number of imports: the seconds each.
"""

from __future__ import annotations

import argparse
import time

from http_import import client_for, csv_bytes, serve, wait_ended  # bench/ is on sys.path: this script's own folder


def measure(imports: int = 22, rows: int = 50, log=print) -> dict:
    with serve("roster_b2b_bench") as (base_url, env):
        client = client_for(base_url, env, "b2b")
        warm = client.post("/contacts/imports", files={"file": ("w.csv", csv_bytes(rows, "warm"), "text/csv")}).json()["id"]
        assert wait_ended(client, warm)["status"] == "completed"
        files = [csv_bytes(rows, f"b{n}-") for n in range(imports)]
        t0 = time.perf_counter()
        ids = [
            client.post("/contacts/imports", files={"file": (f"{n}.csv", f, "text/csv")}).json()["id"]
            for n, f in enumerate(files)
        ]
        posted = time.perf_counter() - t0
        bodies = [wait_ended(client, i) for i in ids]
        total = time.perf_counter() - t0
    assert all(b["status"] == "completed" and b["counts"]["created"] == rows for b in bodies), bodies
    log(
        f"{imports} imports of {rows} rows: posted in {posted:.2f} s, all completed {total:.2f} s after the first POST",
        flush=True,
    )
    return {"total": total, "each": total / imports, "posted": posted}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--imports", type=int, default=22)
    ap.add_argument("--rows", type=int, default=50)
    args = ap.parse_args()
    r = measure(args.imports, args.rows)
    print(f"{r['each']:.2f} s each ({r['total']:.2f} s for {args.imports})")


if __name__ == "__main__":
    main()
