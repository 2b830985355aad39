"""Print how long each step of an import's run took, from the Dagster instance's event log.

Usage: python bench/step_times.py IMPORT_ID
"""

import sys

from dagster import DagsterEventType

from pipelines.launch import dagster_instance


def step_times(import_id: str) -> dict[str, float]:
    instance = dagster_instance()
    runs = [r for r in instance.get_runs() if r.tags.get("dagster/partition") == import_id]
    if not runs:
        return {}
    starts, out = {}, {}
    for record in instance.all_logs(runs[0].run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            starts[event.step_key] = record.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            out[event.step_key] = round(record.timestamp - starts.get(event.step_key, record.timestamp), 2)
    return out


if __name__ == "__main__":
    for step, seconds in step_times(sys.argv[1]).items():
        print(f"{step:24s} {seconds:8.2f} s")
