"""The import core: plain Python under every door (REST API, CLI, MCP, dashboard, Dagster).

- service.py: create (with the checks before queueing), get, list, failed rows, submit;
- steps.py: what each step of an import does (the Dagster assets in assets/ only call these);
- checks.py: what is checked before an import is queued;
- failed_rows.py: the failed rows as CSV or a JSON page;
- render.py: an import as the API shows it.
Nothing here imports Dagster: the API and the CLI's reading commands start without it.
"""
