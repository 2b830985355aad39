"""Step 1: open the uploaded file whatever it is, and record what was found.

Launched from the Dagster UI for a partition that has no import yet, the run config's `file_path`
(under ROSTER_LAUNCHPAD_ALLOWED_DIRS) and `team` create the import first, so the REST API and
`roster` see it like any other. The other config keys override the import's stored options.
"""

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field, create_model

from assets.partitions import contact_imports
from assets.step import GROUP, import_step, steps_of
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing
from roster.importing.errors import ImportRefused
from roster.importing.launches import QUEUED_TAG, WORKED_TAG, import_tags, refusal
from roster.importing.steps import ImportSteps
from roster.store import imports
from roster.store.leases import let_go
from schemas.import_options import declared


class LaunchTarget(Config):
    """With no import yet for the partition: the file on the server to import, and whose."""

    file_path: str | None = None  # with team: create the import when the partition has none yet
    team: str = "default"


# The launchpad's config: every import option (schemas/import_options.py), each left empty keeping
# what the import was created with. JSON options are JSON text here, as in the API's form.
_LAUNCH_TYPES = {"flag": bool, "ids": list[str]}
ImportOverrides = create_model(
    "ImportOverrides",
    __base__=LaunchTarget,
    __doc__="Options a launch may set; each left empty keeps what the import was created with.",
    **{
        name: (_LAUNCH_TYPES.get(door.kind, str) | None, Field(default=None, description=field.description))
        for name, field, door in declared()
    },
)


@asset(partitions_def=contact_imports, group_name=GROUP, description=__doc__)
def import_file(
    context: AssetExecutionContext, config: ImportOverrides, database: Database, landing: Landing, mapping: Mapping
) -> MaterializeResult:
    steps = steps_of(context, database, landing, mapping)
    # Runs that never queued (`dagster job execute`) are checked here as the run coordinator
    # checks the UI's: one line, and no import row, for a partition that names no import.
    reason = refusal(context.partition_key if context.has_partition_key else None, context.run.run_config)
    if reason:
        raise Failure(description=reason, allow_retries=False)
    import_id = context.partition_key
    try:
        if not imports.exists(steps.engine, import_id):
            steps.create_from_launch(import_id, config.file_path, config.team)
    except ImportRefused as e:
        raise Failure(description=str(e), allow_retries=False) from None
    if not context.instance.has_dynamic_partition(contact_imports.name, import_id):
        # `dagster job execute` for an import created without one: the import is real, so is its partition.
        context.instance.add_dynamic_partitions(contact_imports.name, [import_id])
    missing = {k: v for k, v in import_tags(import_id, None).items() if k not in context.run.tags}
    if missing:  # a run that did not queue: its tags say whose import it is, as every other run's do
        context.instance.add_run_tags(context.run_id, missing)
    if context.run.tags.get(QUEUED_TAG):
        _wait_turn(context, steps, import_id)
    _mark_working(context)
    with import_step(context, steps, "import_file") as import_id:
        found = steps.open_file(import_id, context.run_id, config.model_dump(exclude_none=True, exclude={"file_path", "team"}))
        if "headers" in found:
            found["headers"] = MetadataValue.json(found["headers"])
        return MaterializeResult(metadata=found)


def _mark_working(context: AssetExecutionContext) -> None:
    """From here on the run works on the import: a failure of it counts against the import's retry
    budget (pipelines/sensors.py). A run that never got here (its launch failed, its start timed
    out, it was failed or canceled before its first step, it gave back its slot) does not. Best
    effort: a tag that cannot be written (storage briefly read-only) leaves the run counted as one
    that never started, which has a bound of its own. The tag's value is the run's own id: a retry
    inherits its parent's tags, and counts only once it got here itself."""
    try:
        context.instance.add_run_tags(context.run_id, {WORKED_TAG: context.run_id})
    except Exception as e:  # noqa: BLE001
        context.log.warning(f"could not tag the run as working on its import: {e}")


def _wait_turn(context: AssetExecutionContext, steps: ImportSteps, import_id: str) -> None:
    """A queued run of an import whose team has an earlier import not yet ended (a launch from the
    UI or the drop folder while it runs, say) gives its run slot back: the import goes back in the
    queue, and the queued-imports sensor starts it once the earlier ones have ended, so a team's
    imports apply in the order they were posted. The run ends without touching anything."""
    earlier = imports.waits_for(steps.engine, import_id)
    if earlier is None:
        return
    let_go(import_id)
    note = f"waits for the team's earlier import {earlier}, which has not ended; it starts after it"
    imports.back_in_line(steps.engine, import_id, note)
    raise Failure(description=note, allow_retries=False)
