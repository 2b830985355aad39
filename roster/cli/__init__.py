"""The `roster` command line (roster/cli/app.py puts it together):

- imports.py: `roster import` and `roster imports ...`, on this machine's database, through the
  import service (roster/importing/), the run itself through Dagster (pipelines/launch.py);
- client.py: `roster contacts imports ...` and `roster mcp`, against a Roster server, through the SDK;
- admin.py: `roster keys`, `roster teams`, `roster db`, `roster serve` (serve.py);
- mapping.py: `roster mapping suggest`, the column-mapping review;
- common.py: one-line errors, and the import options every command offers.
This is the top of the project: it may use everything below it, nothing imports it.
"""
