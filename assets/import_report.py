"""Step 7: the outcome: the import completed, its counts as metadata, and checks on them."""

from dagster import (
    AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, MaterializeResult, asset,
)

from assets.contacts import contacts
from assets.step import GROUP, import_step
from pipelines.partitions import contact_imports
from resources.contact_store import ContactStore
from resources.import_lease import let_go
from roster.faults import fault_point
from resources.landing_store import LandingStore

# Above this share of failed rows the import still completes, but the check warns.
FAILURE_RATE_WARNING = 0.05

@asset(
    partitions_def=contact_imports, group_name=GROUP, deps=[contacts], description=__doc__,
    check_specs=[AssetCheckSpec("counts_add_up", asset="import_report"), AssetCheckSpec("failure_rate", asset="import_report")],
)
def import_report(context: AssetExecutionContext, contact_store: ContactStore, landing_store: LandingStore) -> MaterializeResult:
    with import_step(context, contact_store, "import_report") as import_id:
        fault_point("report")
        row = contact_store.complete(import_id)
        landing_store.discard(import_id)  # the upload too: Roster keeps no file of a completed import
        let_go(import_id)
        counts = {k: int(row[k]) for k in ("total", "created", "updated", "skipped", "failed")}
        details = row["merge_details"] or {}
        parts = counts["created"] + counts["updated"] + counts["skipped"] + counts["failed"]
        rate = counts["failed"] / counts["total"] if counts["total"] else 0.0
        return MaterializeResult(
            metadata={**counts, **details, "status": row["status"]},
            check_results=[
                AssetCheckResult(
                    check_name="counts_add_up", passed=parts == counts["total"],
                    metadata={"total": counts["total"], "created+updated+skipped+failed": parts},
                ),
                AssetCheckResult(
                    check_name="failure_rate", passed=rate <= FAILURE_RATE_WARNING, severity=AssetCheckSeverity.WARN,
                    metadata={"failure_rate": round(rate, 4)},
                ),
            ],
        )
