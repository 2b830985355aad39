from dagster import AssetSelection, define_asset_job, in_process_executor

from assets.step import GROUP

# One process for the whole import: its steps run one after another, and a process per step
# would cost seconds of imports each.
contact_import_job = define_asset_job(
    "contact_import",
    selection=AssetSelection.groups(GROUP),
    executor_def=in_process_executor,
    description="Import one CSV file (the partition key is the import's id) into the team's contacts.",
)
