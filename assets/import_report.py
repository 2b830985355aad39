"""Step 6: the outcome: the import completed, its counts as metadata, and checks on them."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    asset,
)

from assets.contacts import contacts
from assets.partitions import contact_imports
from assets.step import GROUP, import_step, steps_of
from resources.column_mapper import Mapping
from resources.database import Database
from resources.landing_store import Landing
from roster.importing.render import COUNTS
from roster.store.leases import let_go

# Above this share of failed rows the import still completes, but the check warns.
FAILURE_RATE_WARNING = 0.05


@asset(
    partitions_def=contact_imports,
    group_name=GROUP,
    deps=[contacts],
    description=__doc__,
    check_specs=[AssetCheckSpec("counts_add_up", asset="import_report"), AssetCheckSpec("failure_rate", asset="import_report")],
)
def import_report(context: AssetExecutionContext, database: Database, landing: Landing, mapping: Mapping) -> MaterializeResult:
    steps = steps_of(context, database, landing, mapping)
    with import_step(context, steps, "import_report") as import_id:
        row = steps.finish(import_id)
        let_go(import_id)
        counts = {k: int(row[k]) for k in COUNTS}
        parts = counts["created"] + counts["updated"] + counts["skipped"] + counts["failed"]
        rate = counts["failed"] / counts["total"] if counts["total"] else 0.0
        return MaterializeResult(
            # the failed rows' samples stay out of Dagster's storage (personal data: see merge.counts)
            metadata={
                **counts,
                **{k: v for k, v in (row["merge_details"] or {}).items() if k != "failures_by_reason"},
                "status": row["status"],
            },
            check_results=[
                AssetCheckResult(
                    check_name="counts_add_up",
                    passed=parts == counts["total"],
                    metadata={"total": counts["total"], "created+updated+skipped+failed": parts},
                ),
                AssetCheckResult(
                    check_name="failure_rate",
                    passed=rate <= FAILURE_RATE_WARNING,
                    severity=AssetCheckSeverity.WARN,
                    metadata={"failure_rate": round(rate, 4)},
                ),
            ],
        )
