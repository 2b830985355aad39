"""Median time for a 1,000-row import created over HTTP to complete (ROSTER_LAUNCH=inline): a real uvicorn
server in a thread, POST /contacts/imports, then GET every 50 ms until completed. Not a pytest test.

    DATABASE_URL=postgresql://... ROSTER_DATA_DIR=$(mktemp -d) .venv/bin/python bench/http_import_inline.py
"""

import csv
import io
import os
import statistics
import sys
import time
import uuid

os.environ["ROSTER_LAUNCH"] = "inline"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import httpx

from roster.api.app import create_app
from roster.runtime.database import get_engine
from roster.store.keys import create_api_key
from tests.api.conftest import serve

rows = 1000
buf = io.StringIO()
w = csv.writer(buf)
w.writerow(["email", "first_name", "last_name"])
for i in range(rows):
    w.writerow([f"user{i}@example.com", f"First{i}", f"Last{i}"])
data = buf.getvalue().encode()
times = []
with serve(create_app(rate_limit=10000)) as url:
    for run in range(int(os.environ.get("RUNS", 7))):
        token = create_api_key(get_engine(), f"bench-{uuid.uuid4().hex[:8]}")
        c = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        t0 = time.perf_counter()
        r = c.post("/contacts/imports", files={"file": ("c.csv", data, "text/csv")})
        iid = r.json()["id"]
        while True:
            b = c.get(f"/contacts/imports/{iid}").json()
            if b["status"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        dt = time.perf_counter() - t0
        assert b["status"] == "completed" and b["counts"]["created"] == rows, b
        times.append(dt)
        print(f"run {run}: {dt:.2f}s", flush=True)
print(f"median {statistics.median(times):.2f}s over {len(times)} runs (min {min(times):.2f}, max {max(times):.2f})")
