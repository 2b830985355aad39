"""Imports started by Dagster itself: the launcher PostgreSQL wakes, the queued-imports sensor,
the drop folder, CRM-sync schedules, and a launch from the UI launchpad."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from dagster import DagsterRunStatus, RunRequest, build_schedule_context, build_sensor_context

from pipelines.crm_sync import build_schedules
from pipelines.drop_folder import dropped_files, move_done
from pipelines.launch import dagster_instance, run_import
from pipelines.sensors import queued_imports
from resources.database import Database
from resources.landing_store import Landing
from roster.landing import LandingStore
from roster.runtime.database import get_engine
from roster.store import imports
from schemas.column_map import parse_column_map
from schemas.import_options import ImportOptions
from tests.helpers import NAMES_MAP, contacts, create_import, get_import, write_csv

RESOURCES = {"database": Database(), "landing": Landing()}
ROW = ["ada@example.com", "Ada", "Lovelace"]


def _requests(result) -> list[RunRequest]:
    return list(result.run_requests or [])


def test_queued_imports_sensor_launches_each_queued_import_once(engine, team, tmp_path):
    name, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email", "First Name", "Last Name"], [ROW])
    queued = create_import(
        engine, LandingStore(), team_id, path, "a.csv", ImportOptions(column_map=parse_column_map(NAMES_MAP)), source="api"
    )
    cli = create_import(engine, LandingStore(), team_id, path, "a.csv", ImportOptions(), source="cli", launched=True)
    instance = dagster_instance()
    result = queued_imports(build_sensor_context(instance=instance, resources=RESOURCES))
    keys = [r.partition_key for r in _requests(result)]
    assert queued in keys and cli not in keys
    request = next(r for r in _requests(result) if r.partition_key == queued)
    assert request.run_key == f"{queued}:0" and request.tags == {"roster/team": name, "roster/source": "api"}
    assert queued in result.dynamic_partitions_requests[0].partition_keys
    again = queued_imports(build_sensor_context(instance=instance, resources=RESOURCES))
    assert queued not in [r.partition_key for r in _requests(again)]


def _queueing_instance(tmp_path: Path):
    """The shipped instance config with a run launcher that needs a code server (warm_worker:
    false), which the launcher has none to give: it submits its runs to the run queue, and with no
    daemon here they wait there (a run the launcher started itself would run in this process)."""
    import yaml
    from dagster import DagsterInstance

    from pipelines.launch import SHIPPED_INSTANCE_CONFIG

    config = yaml.safe_load(SHIPPED_INSTANCE_CONFIG.read_text())
    config["run_launcher"]["config"]["warm_worker"] = False
    home = tmp_path / "queueing-dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return DagsterInstance.from_config(str(home))


def test_the_launcher_queues_a_run_when_told_and_the_team_s_next_import_when_the_first_ends(engine, team, tmp_path):
    """No sensor and no polling: creating a queued import notifies PostgreSQL, and the launcher
    submits its run to the run queue (this instance's run launcher cannot start it from the
    launcher's thread: tests/test_run_queue.py and tests/test_serve.py have the runs it starts
    itself); the team's second import waits until the first ends (its end notifies too). Each
    import gets exactly one run, as the sensor's would be."""
    from pipelines.dagster_internals import CODE_LOCATION
    from pipelines.launcher import LAUNCHER_TAG, Launcher
    from pipelines.sensors import partition_runs
    from roster.importing.launches import QUEUED_TAG
    from roster.runtime.database import database_url
    from tests.helpers import wait_for

    name, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email", "First Name", "Last Name"], [ROW])
    options = ImportOptions(column_map=parse_column_map(NAMES_MAP))
    instance = _queueing_instance(tmp_path)
    launcher = Launcher(instance, database_url()).start()
    try:
        first = create_import(engine, LandingStore(), team_id, path, "a.csv", options, source="api")
        # No daemon here: the run waits in the run queue.
        queued = [DagsterRunStatus.QUEUED]
        [run] = wait_for(lambda: partition_runs(instance, first, queued), "the launcher to queue a run for the first import")
        assert run.tags["roster/team"] == name and run.tags["roster/source"] == "api" and run.tags[QUEUED_TAG]
        assert run.tags[LAUNCHER_TAG] == f"{first}:0" and run.tags["dagster/max_retries"] == "2"
        assert run.remote_job_origin.location_name == CODE_LOCATION and run.job_code_origin is not None
        second = create_import(engine, LandingStore(), team_id, path, "a.csv", options, source="api")
        third = create_import(engine, LandingStore(), team_id, path, "a.csv", options, source="api")
        assert imports.waits_for(engine, second) == first  # not its turn: told or not, the launcher leaves it
        imports.fail_if_unfinished(engine, first, "ended for the test")
        wait_for(
            lambda: partition_runs(instance, second, queued), "the launcher to queue the team's next import once the first ended"
        )
        assert partition_runs(instance, third) == [] and get_import(engine, team_id, third)["status"] == "queued"
        assert len(partition_runs(instance, first)) == 1 and len(partition_runs(instance, second)) == 1
    finally:
        launcher.stop()
        instance.dispose()


def test_no_new_run_while_the_daemon_is_about_to_retry_a_failed_one(engine, team, tmp_path):
    """A run that failed and that the daemon said it will retry holds its import's claim: a claim
    that went stale meanwhile (a slow retry round) must not start a run beside the retry, one run
    too many against the bound on runs that never started. Once the retry is off, it may."""
    from pipelines.launcher import _job
    from pipelines.sensors import claim_launches, retry_coming
    from roster.importing.launches import QUEUED_TAG

    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["Email", "First Name", "Last Name"], [ROW])
    options = ImportOptions(column_map=parse_column_map(NAMES_MAP))
    import_id = create_import(engine, LandingStore(), team_id, path, "a.csv", options, source="api")
    instance = _queueing_instance(tmp_path)
    try:
        job, remote_origin, code_origin = _job()
        run = instance.create_run_for_job(
            job_def=job,
            run_config={},
            tags={**job.run_tags, "dagster/partition": import_id, QUEUED_TAG: "true"},
            status=DagsterRunStatus.NOT_STARTED,
            remote_job_origin=remote_origin,
            job_code_origin=code_origin,
        )
        instance.report_run_failed(run, "its launch failed, for the test")
        assert instance.get_run_by_id(run.run_id).tags["dagster/will_retry"] == "true"

        def claimed() -> list[str]:
            ids = [c["id"] for c in claim_launches(instance, engine)]
            with engine.begin() as conn:  # the claim made stale again, as a slow round leaves it
                conn.exec_driver_sql("UPDATE contact_imports SET launched_at = NULL WHERE id = %s", (import_id,))
            return ids

        assert import_id not in claimed()
        # Failed and not yet tagged (Dagster tags it a moment after): a retry may still come.
        failed = instance.get_run_by_id(run.run_id)
        untagged = failed._replace(tags={k: v for k, v in failed.tags.items() if k != "dagster/will_retry"})
        assert retry_coming(instance, untagged)
        instance.add_run_tags(run.run_id, {"dagster/will_retry": "false"})
        assert import_id in claimed()
    finally:
        instance.dispose()


def _drop_tick(instance, cursor):
    context = build_sensor_context(instance=instance, cursor=cursor, resources=RESOURCES)
    result = dropped_files(context)
    return result, context.cursor


def test_drop_folder_sensor(engine, tmp_path, monkeypatch):
    root = tmp_path / "drop"
    team_dir = root / f"dropteam-{uuid.uuid4().hex[:6]}"
    team_dir.mkdir(parents=True)
    monkeypatch.setenv("ROSTER_DROP_DIR", str(root))
    instance = dagster_instance()
    f = write_csv(team_dir / "people.csv", ["Email", "First Name", "Last Name"], [ROW])
    (team_dir / "people.json").write_text(json.dumps({"column_map": NAMES_MAP, "on_conflict": "skip"}))
    (team_dir / "notes.txt").write_text("not a contact file")

    # First sight: maybe still being written, so nothing yet.
    result, cursor = _drop_tick(instance, None)
    assert _requests(result) == []
    # Still growing: still nothing.
    with f.open("a") as out:
        out.write("grace@example.com,Grace,Hopper\n")
    result, cursor = _drop_tick(instance, cursor)
    assert _requests(result) == []
    # Stable for a tick: one import, with the sidecar's options.
    result, cursor = _drop_tick(instance, cursor)
    [request] = _requests(result)
    import_id = request.partition_key
    assert request.tags["roster/source"] == "sensor" and request.tags["roster/drop_file"] == str(f)
    row = imports.require(get_engine(), import_id)
    assert row["options"]["on_conflict"] == "skip" and row["source"] == "sensor"
    # The same file again is the same import and the same run key: nothing new.
    result2, cursor = _drop_tick(instance, cursor)
    assert [r.run_key for r in _requests(result2)] == [request.run_key]
    assert _requests(result2)[0].partition_key == import_id

    assert run_import(import_id, request.tags).success
    assert get_import(engine, row["team_id"], import_id)["created"] == 2
    moved = move_done(f, "processed", {"status": "completed"})
    assert moved == team_dir / "processed" / "people.csv"
    assert (team_dir / "processed" / "people.json").exists()
    assert json.loads((team_dir / "processed" / "people.csv.result.json").read_text())["status"] == "completed"

    # A changed file (same name, new content) is a new import.
    write_csv(team_dir / "people.csv", ["Email", "First Name", "Last Name"], [ROW, ["linus@example.com", "L", "T"]])
    _, cursor = _drop_tick(instance, cursor)
    result3, _ = _drop_tick(instance, cursor)
    [request3] = _requests(result3)
    assert request3.partition_key != import_id


class _Export(http.server.BaseHTTPRequestHandler):
    """A CRM's export endpoint: /ok gives a CSV to a caller with the right token."""

    def do_GET(self):  # noqa: N802
        if self.path == "/slow":
            time.sleep(3)
        if self.path == "/ok" and self.headers.get("Authorization") == "Bearer s3cret":
            body = b"Email,First Name,Last Name\nada@example.com,Ada,Lovelace\ngrace@example.com,Grace,Hopper\n"
            self.send_response(200)
        elif self.path == "/empty":
            body = b""
            self.send_response(200)
        else:
            body = b"denied"
            self.send_response(500 if self.path == "/broken" else 401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def export_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Export)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _schedule(tmp_path, url: str, team: str, timeout: float = 10, allow_private: bool = True):
    """A source on this machine: a private address, so it says allow_private (a self-hosted CRM)."""
    config = tmp_path / "sync.yaml"
    config.write_text(
        json.dumps(
            {
                "sources": [
                    {
                        "name": "crm",
                        "team": team,
                        "cron": "0 2 * * *",
                        "source": {
                            "url": url,
                            "headers": {"Authorization": "Bearer ${CRM_TOKEN}"},
                            "timeout": timeout,
                            "allow_private": allow_private,
                        },
                        "column_map": NAMES_MAP,
                    }
                ]
            }
        )
    )  # JSON is YAML
    [schedule] = build_schedules(config)
    return schedule


def _tick(schedule, when: dt.datetime):
    from dagster import Definitions

    from pipelines.definitions import defs

    repo = Definitions.merge(defs, Definitions(schedules=[schedule])).get_repository_def()
    context = build_schedule_context(instance=dagster_instance(), scheduled_execution_time=when, repository_def=repo)
    return schedule.evaluate_tick(context)


def test_crm_sync_schedule_imports_an_http_export(engine, team, tmp_path, export_server, monkeypatch):
    name, team_id = team
    monkeypatch.setenv("CRM_TOKEN", "s3cret")
    schedule = _schedule(tmp_path, f"{export_server}/ok", name)
    assert schedule.name == "crm_sync_crm" and schedule.cron_schedule == "0 2 * * *"
    data = _tick(schedule, dt.datetime(2026, 11, 26, 2, tzinfo=dt.UTC))
    [request] = data.run_requests
    assert request.tags["roster/source"] == "schedule"
    run_import(request.partition_key, request.tags)
    assert get_import(engine, team_id, request.partition_key)["error"] is None
    assert set(contacts(engine, team_id)) == {"ada@example.com", "grace@example.com"}
    # The same tick again does not import twice.
    again = _tick(schedule, dt.datetime(2026, 11, 26, 2, tzinfo=dt.UTC))
    assert not again.run_requests


@pytest.mark.parametrize(
    "path, reason", [("/broken", "HTTP 500"), ("/denied", "HTTP 401"), ("/empty", "empty body"), ("/slow", "timed out")]
)
def test_a_failing_sync_source_makes_a_failed_import(engine, team, tmp_path, export_server, monkeypatch, path, reason):
    name, team_id = team
    monkeypatch.setenv("CRM_TOKEN", "wrong" if path == "/denied" else "s3cret")
    # A 1 s timeout only where the answer takes 3 s: a loaded machine can take longer than 1 s to
    # answer the others, which would then time out instead of failing for their own reason.
    schedule = _schedule(tmp_path, f"{export_server}{path}", name, timeout=1 if path == "/slow" else 60)
    data = _tick(schedule, dt.datetime(2026, 11, 26, 3, tzinfo=dt.UTC))
    assert not data.run_requests
    assert isinstance(data.skip_message, str) and reason in data.skip_message
    with engine.connect() as conn:
        import sqlalchemy as sa

        row = conn.execute(sa.text("SELECT status, error FROM contact_imports WHERE team_id = :t"), {"t": team_id}).one()
    assert row.status == "failed" and reason in row.error


def test_a_sync_source_on_a_private_address_needs_the_opt_in(engine, team, tmp_path, export_server, monkeypatch):
    """SSRF (FAULTS 9, issue 11): CRM-sync URLs reach only public addresses unless the source says
    allow_private (or ROSTER_SYNC_ALLOW_PRIVATE_URLS=1)."""
    name, team_id = team
    monkeypatch.setenv("CRM_TOKEN", "s3cret")
    monkeypatch.delenv("ROSTER_SYNC_ALLOW_PRIVATE_URLS", raising=False)
    schedule = _schedule(tmp_path, f"{export_server}/ok", name, allow_private=False)
    data = _tick(schedule, dt.datetime(2026, 11, 26, 4, tzinfo=dt.UTC))
    assert not data.run_requests and "private address" in data.skip_message and "allow_private" in data.skip_message
    monkeypatch.setenv("ROSTER_SYNC_ALLOW_PRIVATE_URLS", "1")
    data = _tick(schedule, dt.datetime(2026, 11, 26, 5, tzinfo=dt.UTC))
    [request] = data.run_requests
    run_import(request.partition_key, request.tags)
    assert set(contacts(engine, team_id)) == {"ada@example.com", "grace@example.com"}


def test_launch_from_the_ui_launchpad_creates_the_import(engine, tmp_path, monkeypatch):
    """What the launchpad does: a new partition (a UUID) and run config naming the file, which
    must lie under ROSTER_LAUNCHPAD_ALLOWED_DIRS (the UI has no login)."""
    team = f"ui-{uuid.uuid4().hex[:6]}"
    allowed, elsewhere = tmp_path / "allowed", tmp_path / "elsewhere"
    allowed.mkdir(), elsewhere.mkdir()
    monkeypatch.setenv("ROSTER_LAUNCHPAD_ALLOWED_DIRS", str(allowed))
    outside = write_csv(elsewhere / "secret.csv", ["Email"], [["x@example.com"]])
    refused_id = str(uuid.uuid4())
    refused = run_import(refused_id, run_config={"ops": {"import_file": {"config": {"file_path": str(outside), "team": team}}}})
    assert not refused.success and not imports.exists(get_engine(), refused_id)
    [failure] = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "outside the allowed directories" in failure.event_specific_data.error.message

    path = write_csv(allowed / "ui.csv", ["Email", "First Name", "Last Name"], [ROW])
    import_id = str(uuid.uuid4())
    config = {"ops": {"import_file": {"config": {"file_path": str(path), "team": team, "column_map": json.dumps(NAMES_MAP)}}}}
    result = run_import(import_id, {"roster/source": "ui", "roster/team": team}, run_config=config)
    assert result.success
    row = imports.require(get_engine(), import_id)
    assert row["status"] == "completed" and row["source"] == "ui" and row["created"] == 1


def test_a_launch_for_an_unknown_partition_without_a_file_fails_clearly(tmp_path):
    result = run_import("not-a-uuid")
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "not an import id" in failure.event_specific_data.error.message


GRAPHQL_LAUNCH = """
mutation($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
  }
}"""


def _team_exists(engine, name: str) -> bool:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM teams WHERE name = :n"), {"n": name}).scalar_one() > 0


@pytest.mark.parametrize("where", ["landing/.incoming", "landing/0b6a1c1e-4f0e-4c38-9a8e-5b3f0f6f2d11", "dagster", "."])
def test_a_launchpad_launch_cannot_read_roster_s_data_directory(engine, monkeypatch, where):
    """Issue 19 (FAULTS, second run, E): a GraphQL launch on the Dagster UI's port, with file_path
    = another team's dashboard draft under the data directory, imported it into a new team, since
    the default allowed folder (the working directory) holds `.roster/`. Now the launch is refused
    as it queues (the same GraphQL mutation the launchpad sends), and the run's own step refuses
    it too: no import, no team."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster_graphql.test.utils import execute_dagster_graphql

    data_dir = Path(os.environ["ROSTER_DATA_DIR"])
    monkeypatch.chdir(data_dir.parent)  # the working directory holds the data directory, as under `roster serve`
    monkeypatch.delenv("ROSTER_LAUNCHPAD_ALLOWED_DIRS", raising=False)
    folder = data_dir / where
    folder.mkdir(parents=True, exist_ok=True)
    draft = write_csv(folder / f"draft-1-{uuid.uuid4().hex}.csv", ["Email"], [["victim@example.com"]])
    team = f"thief-{uuid.uuid4().hex[:6]}"
    config = {"ops": {"import_file": {"config": {"file_path": str(draft), "team": team}}}}
    instance = dagster_instance()

    # Through GraphQL, as the probe did: the run is failed before it queues, with the reason.
    import_id = str(uuid.uuid4())
    instance.add_dynamic_partitions("contact_imports", [import_id])
    target = ModuleTarget(module_name="pipelines.definitions", attribute=None, working_directory=None, location_name="roster")
    with WorkspaceProcessContext(instance, target) as process_context:
        context = process_context.create_request_context()
        params = {
            "selector": {
                "repositoryLocationName": "roster",
                "repositoryName": "__repository__",
                "pipelineName": "contact_import",
            },
            "runConfigData": config,
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": import_id}]},
        }
        result = execute_dagster_graphql(context, GRAPHQL_LAUNCH, {"executionParams": params})
    launched = result.data["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run = instance.get_run_by_id(launched["run"]["runId"])
    assert run.status == DagsterRunStatus.FAILURE
    [failure] = [
        e for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
    ]
    assert "inside Roster's data directory" in failure.dagster_event.message
    assert not imports.exists(engine, import_id) and not _team_exists(engine, team)

    # A run that does not queue (`dagster job execute`) meets the same refusal in its first step.
    import_id = str(uuid.uuid4())
    refused = run_import(import_id, run_config=config)
    assert not refused.success
    [failure] = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "inside Roster's data directory" in failure.event_specific_data.error.message
    assert not imports.exists(engine, import_id) and not _team_exists(engine, team)
