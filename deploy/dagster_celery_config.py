"""The Celery settings of a Roster worker. `celery -A dagster_celery.app worker` reads them from
the module of this name when its folder is on PYTHONPATH (the Dockerfile sets
PYTHONPATH=/opt/roster/deploy); dagster-celery's own defaults (dagster_celery/defaults.py) stay
for whatever is not set here. This replaces the `dagster-celery worker start` wrapper, which
writes such a module itself but, as the parent of `celery`, does not pass SIGTERM on: in a
container Celery never got its warm shutdown, outside one it was left running, orphaned.
"""

import os

# The same broker and result backend as the run launcher in deploy/dagster.yaml.
broker_url = os.environ["ROSTER_CELERY_BROKER"]
result_backend = os.environ["ROSTER_CELERY_BACKEND"]

# One run at a time per worker process: a run's task is acknowledged when it ends, not when it
# starts, so with a prefetch of 1 a busy worker holds no second run while another worker is idle.
# If a whole worker dies mid-run, the broker hands its task to another worker; Dagster ignores it
# there (the run is no longer STARTING: "Ignoring a duplicate run"), the run is failed and retried
# as a new run (deploy/dagster.yaml), and the import's lease (roster/store/leases.py) still decides
# which process works on the import. A pool process that dies under a live worker fails its task
# (task_reject_on_worker_lost stays off), so that run is never started twice either.
worker_prefetch_multiplier = 1
task_acks_late = True

# The worker's own housekeeping: copies of uploads of ended imports leave its folder at start and
# hourly (roster/importing/worker_sweep.py).
include = ["roster.importing.worker_sweep"]
