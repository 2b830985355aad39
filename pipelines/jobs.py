from dagster import AssetSelection, define_asset_job, in_process_executor

from assets.step import GROUP

# A run whose process dies (killed, machine lost, database restarted under it) is failed by run
# monitoring or the watchdog, then retried by the daemon: up to twice, from the first step. Every
# step recomputes what it needs from durable state, so the retry never trusts what the dead run
# left in an UNLOGGED table. A step that failed (a refused file, a bug) is not retried: the
# instance's run_retries.retry_on_asset_or_op_failure is false. A run still going after 4 hours
# is failed (and so retried) by run monitoring even if no process is left to say so.
RUN_TAGS = {
    "dagster/max_retries": "2",
    "dagster/retry_strategy": "ALL_STEPS",
    "dagster/max_runtime": str(4 * 3600),
}

# One process for the whole import: its steps run one after another, and a process per step
# would cost seconds of imports each.
contact_import_job = define_asset_job(
    "contact_import",
    selection=AssetSelection.groups(GROUP),
    executor_def=in_process_executor,
    tags=RUN_TAGS,
    description="Import one CSV file (the partition key is the import's id) into the team's contacts.",
)
