"""Check before Start (issue 21): on the review, "Check the whole file" runs a dry run of the
draft with the reviewed mapping and options; its page shows what the import would do, the failed
rows by reason with samples, the new properties, the columns left out, the segment and the
failure guard against the counts; nothing is written until Start, which reuses the dry run and
imports what the check counted. In a real Chromium against a real server and PostgreSQL."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tests import exports
from tests.dashboard.conftest import axe_findings, sign_in, upload

IMPORT_URL = re.compile(r".*/dashboard/imports/[0-9a-f-]{36}(\?.*)?$")
GUARD = re.compile("^Stop, importing nothing")


def wait_finished(page) -> None:
    """Until the page shows the import ended, as rendered after its reload (selectors: the CSP
    refuses Playwright's eval'd predicates)."""
    page.locator("#live:not([data-poll])").wait_for(state="attached", timeout=180_000)
    page.locator('#status[data-status="completed"], #status[data-status="failed"]').wait_for(state="attached", timeout=180_000)
    page.wait_for_load_state("load")


def contacts(engine, team_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM contacts WHERE team_id = :t"), {"t": team_id}).scalar()


def counts(page) -> dict[str, str]:
    return {k: page.locator(f"[data-count='{k}']").inner_text() for k in ("total", "created", "updated", "skipped", "failed")}


def test_the_check_shows_what_start_will_do_and_start_does_it(server, page, make_team_key, engine, tmp_path):
    _, team_id, key = make_team_key()
    rows = exports.hubspot_rows(40)
    rows[5][3], rows[17][3], rows[30][3] = "lead5.example.org", "not an address", ""  # 3 of 40 bad: 7.5%
    path = exports.write(tmp_path / "hubspot-leads.csv", exports.HUBSPOT_HEADERS, rows)
    sign_in(page, server, key)
    upload(page, server, path)

    # The guard is offered with its default; the check comes right after the mapping table.
    assert page.get_by_role("textbox", name=GUARD).input_value() == "5%"
    check_button = page.get_by_role("button", name="Check the whole file")
    assert check_button.evaluate("b => b.closest('section').previousElementSibling.querySelector('table.mapping') !== null")
    page.get_by_label("New segment (optional)").fill("Spring leads")
    check_button.click()
    page.wait_for_url(IMPORT_URL)
    dry_url = page.url
    wait_finished(page)

    # What the import would do, with nothing written.
    assert page.locator("#status").inner_text() == "Dry run"
    checked = counts(page)
    assert checked == {"total": "40", "created": "37", "updated": "0", "skipped": "0", "failed": "3"}
    said = " ".join(page.get_by_test_id("check-counts").inner_text().split())
    assert said == "Of 40 rows, the import would create 37, update 0, skip 0 and 3 would fail (7.5%)."
    assert contacts(engine, team_id) == 0

    # The failed rows by reason, with the rows themselves.
    reasons = page.locator("#check table.reason")
    assert sum(int(n) for n in reasons.locator("[data-reason-count]").all_inner_texts()) == 3
    invalid = page.locator("#check table.reason[data-reason='invalid email']")
    assert invalid.locator("[data-reason-count]").inner_text() == "2"
    assert invalid.get_by_role("cell", name="not an address", exact=True).count() == 1
    assert invalid.get_by_role("cell", name="lead5.example.org", exact=True).count() == 1
    all_rows = " ".join(reasons.locator("tbody td.num").all_inner_texts()).split()
    assert sorted(all_rows, key=int) == ["6", "18", "31"]

    # What else Start would do: the new properties, the columns left out, the segment.
    new_properties = page.get_by_test_id("check-new-properties").inner_text()
    assert "phone_number" in new_properties or "phone" in new_properties, new_properties
    ignored = page.get_by_test_id("check-ignored").inner_text()
    for column in exports.HUBSPOT_IGNORED:
        assert column in ignored, (column, ignored)
    assert "Email" not in ignored.split(", ")
    assert page.get_by_test_id("check-segments").inner_text() == "Spring leads"

    # The guard, set against the counts: 5% of 40 is 2, and 3 would fail.
    guard = page.get_by_role("textbox", name=GUARD)
    assert guard.input_value() == "5%"
    assert "Start would stop and import nothing" in page.get_by_test_id("guard-verdict").inner_text()
    assert axe_findings(page) == []

    # A guard that is not a count or a share is refused, with nothing started.
    guard.fill("lots")
    page.get_by_role("button", name="Start the import").click()
    page.get_by_role("alert").filter(has_text="max_failed_rows").wait_for()
    assert contacts(engine, team_id) == 0

    # The person raises it and starts: the dry run is reused (no upload) and imports what it counted.
    page.get_by_role("textbox", name=GUARD).fill("10%")
    page.get_by_role("button", name="Start the import").click()
    page.wait_for_url(IMPORT_URL)
    assert page.url.split("?")[0] != dry_url.split("?")[0]
    wait_finished(page)
    assert page.locator("#status").inner_text() == "Completed with failures"
    assert counts(page) == checked
    assert contacts(engine, team_id) == 37
    assert page.get_by_role("link", name="a dry run").get_attribute("href").endswith(dry_url.split("?")[0].rsplit("/", 1)[1])
    assert page.get_by_test_id("segments").inner_text() == "Spring leads"
    with engine.connect() as conn:
        started = conn.execute(
            sa.text("SELECT options FROM contact_imports WHERE team_id = :t AND dry_run_of IS NOT NULL"), {"t": team_id}
        ).scalar_one()
    assert started["max_failed_rows"] == "10%"

    # The check's page now leads to the import it was started as, with no second Start.
    page.goto(dry_url)
    assert page.get_by_role("link", name="this import").count() == 1
    assert page.locator("#start-for-real").count() == 0


def test_with_the_default_guard_start_after_the_check_stops_and_writes_nothing(server, page, make_team_key, engine, tmp_path):
    _, team_id, key = make_team_key()
    rows = exports.hubspot_rows(20)
    rows[2][3], rows[9][3] = "nope", "also nope"  # 2 of 20: 10%, over the default 5%
    sign_in(page, server, key)
    upload(page, server, exports.write(tmp_path / "leads.csv", exports.HUBSPOT_HEADERS, rows))
    page.get_by_role("button", name="Check the whole file").click()
    page.wait_for_url(IMPORT_URL)
    wait_finished(page)
    assert counts(page)["failed"] == "2" and contacts(engine, team_id) == 0
    page.get_by_role("button", name="Start the import").click()
    page.wait_for_url(IMPORT_URL)
    wait_finished(page)
    assert page.locator("#status").inner_text() == "Stopped: too many failed rows"
    assert contacts(engine, team_id) == 0
