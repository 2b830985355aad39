"""Dagster's run queue, with every contact_import run made a first-class import before it queues.

Runs requested by Roster's sensors and schedules carry the tags the queue's limits count
(`roster/team`, `roster/source`). A run launched from the Dagster UI's launchpad does not, so it
would escape the per-team limit. This coordinator gives such a run its tags from the import
(or from the launch config that creates one) and refuses, with a one-line reason and no import
row, a run whose partition is missing or names no import.
"""

from __future__ import annotations

from dagster import DagsterRun, QueuedRunCoordinator
from dagster._core.run_coordinator.base import SubmitRunContext

from roster.importing.launches import import_tags, refusal


class ImportRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if run.job_name == "contact_import":
            reason = refusal(run.tags.get("dagster/partition"), run.run_config)
            if reason:
                self._instance.report_run_failed(run, reason)
                return self._instance.get_run_by_id(run.run_id) or run
            missing = {k: v for k, v in import_tags(run.tags["dagster/partition"], run.run_config).items() if k not in run.tags}
            if missing:
                self._instance.add_run_tags(run.run_id, missing)
                run = self._instance.get_run_by_id(run.run_id) or run
                context = SubmitRunContext(run, context.workspace)
        return super().submit_run(context)
