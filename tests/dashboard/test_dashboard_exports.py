"""The dashboard as issue 21 tried it, in a real Chromium: a Mailchimp-like export (21 columns,
Windows-1252, semicolons) and a HubSpot-like one (17 columns) through the review; the failed rows
downloaded, fixed and imported again with no mapping work; refusals on the upload step; long
names at phone width; stale review URLs; and every page checked with axe-core."""

from __future__ import annotations

import csv
import io
import re

import httpx

from tests import exports
from tests.dashboard.conftest import axe_findings, http_sign_in, sign_in, upload

IMPORT_URL = re.compile(r".*/dashboard/imports/[0-9a-f-]{36}$")


def row_of(page, column: str):
    return page.locator(f"tr.maprow[data-column='{column}']")


def summary(page) -> dict[str, int]:
    box = page.get_by_test_id("summary")
    return {k: int(box.locator(f"[data-summary='{k}']").inner_text()) for k in ("kept", "ignored")}


WIDE = """(w) => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-wrap'))
  .map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""


def fits(page, width: int) -> bool:
    """No horizontal overflow: what is wider than the screen says which element it is."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.evaluate(WIDE, width)[:10]
    return True


def wait_finished(page) -> None:
    """Until the page shows the import ended, as rendered after its reload (no more polling).
    Selectors, not wait_for_function: the dashboard's CSP (no 'unsafe-eval') refuses Playwright's
    eval'd predicates."""
    page.locator("#live:not([data-poll])").wait_for(state="attached", timeout=180_000)
    page.locator('#status[data-status="completed"], #status[data-status="failed"]').wait_for(state="attached", timeout=180_000)
    page.wait_for_load_state("load")


def test_a_mailchimp_export_is_reviewed_as_a_person_expects(server, page, make_team_key, tmp_path):
    _, _, key = make_team_key()
    path = exports.mailchimp_csv(tmp_path / "mailchimp-audience.csv", 40, encoding="cp1252", delimiter=";")
    sign_in(page, server, key)
    upload(page, server, path)
    assert page.get_by_test_id("delimiter").inner_text() == "semicolon"
    assert page.locator("table.preview").get_by_text("Renée", exact=True).count() >= 1

    # Mailchimp's bookkeeping is left out, unticked and visibly so; the contact's columns are in.
    for column in exports.MAILCHIMP_HEADERS:
        row = row_of(page, column)
        left_out = column not in exports.MAILCHIMP_KEPT
        assert (row.get_attribute("class").count("excluded") == 1) is left_out, column
        assert row.get_by_role("checkbox", name=f"Import this column, for column {column}").is_checked() is not left_out
        if left_out:
            assert "Mailchimp" in row.locator(".why").inner_text()
    assert summary(page) == {"kept": len(exports.MAILCHIMP_KEPT), "ignored": 21 - len(exports.MAILCHIMP_KEPT)}
    said = page.get_by_test_id("summary").inner_text()
    assert "country" in said and "LEID, EUID" in said  # the new properties and the columns left out, by name
    cc = row_of(page, "CC")
    assert cc.locator("select.target").input_value() == "new"
    assert cc.get_by_role("textbox", name="New property name, for column CC").input_value() == "country"
    # "check" only where the engine is unsure: none of these.
    assert page.locator("tr.maprow.needs-review").count() == 0

    # Distinct sample values, not the same one three times.
    for column in exports.MAILCHIMP_HEADERS:
        shown = row_of(page, column).locator(".samples span").all_inner_texts()
        assert len(shown) == len(set(shown)) and shown, (column, shown)
    assert sorted(row_of(page, "GMTOFF").locator(".samples span").all_inner_texts()) == ["-5", "1"]

    # Each control is named with its column; Ignore unticks; ticking again brings the suggestion back.
    region = page.get_by_role("combobox", name="Goes to, for column REGION")
    region.select_option("ignore")
    assert not page.get_by_role("checkbox", name="Import this column, for column REGION").is_checked()
    assert "excluded" in row_of(page, "REGION").get_attribute("class")
    assert summary(page)["ignored"] == 21 - len(exports.MAILCHIMP_KEPT) + 1
    page.get_by_role("checkbox", name="Import this column, for column REGION").check()
    assert region.input_value() == "new" and "excluded" not in row_of(page, "REGION").get_attribute("class")
    page.get_by_role("checkbox", name="Import this column, for column Birthday").uncheck()
    assert "excluded" in row_of(page, "Birthday").get_attribute("class")
    assert "Birthday" in page.get_by_test_id("summary").locator("[data-summary='ignored-names']").inner_text()

    # One line per column on a wide screen: the select sits beside its column's name.
    name_box = row_of(page, "LEID").locator(".colname").bounding_box()
    select_box = row_of(page, "LEID").locator("select.target").bounding_box()
    assert abs(name_box["y"] - select_box["y"]) < 40 and select_box["x"] > name_box["x"]
    assert axe_findings(page) == []


def test_failed_rows_come_back_clean_and_import_again_with_no_mapping_work(server, page, make_team_key, tmp_path):
    _, _, key = make_team_key()
    rows = exports.hubspot_rows(10)
    rows[3][3], rows[7][3] = "lead3.example.org", "not an address"
    rows[3][4] = "-12.9145"  # a plain negative number where a phone goes: must come back as it was
    path = exports.write(tmp_path / "hubspot-contacts.csv", exports.HUBSPOT_HEADERS, rows)
    sign_in(page, server, key)
    upload(page, server, path)
    review_url = page.url
    for column in exports.HUBSPOT_IGNORED:
        assert "excluded" in row_of(page, column).get_attribute("class"), column
    page.get_by_label("New segment (optional)").fill("HubSpot leads")
    # The failure guard's default (5%) would stop this file: the person clears it to import the valid rows.
    page.get_by_role("textbox", name=re.compile("^Stop, importing nothing")).fill("")
    page.get_by_role("button", name="Start the import").click()
    page.wait_for_url(IMPORT_URL)
    import_url = page.url
    wait_finished(page)
    assert page.title().startswith("Completed with failures · hubspot-contacts.csv")  # amber: 2 of 10 failed
    counts = {k: page.locator(f"[data-count='{k}']").inner_text() for k in ("total", "created", "failed")}
    assert counts == {"total": "10", "created": "8", "failed": "2"}
    assert page.get_by_test_id("segments").inner_text() == "HubSpot leads"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page.get_by_test_id("started").inner_text())
    assert axe_findings(page) == []

    # The review URL after Start leads to the import it started.
    page.goto(review_url)
    assert page.url == import_url

    # The download: the file's own columns and values, plus roster_error.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download failed rows (CSV)").click()
    text = open(download.value.path(), encoding="utf-8").read()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [*exports.HUBSPOT_HEADERS, "roster_error"]
    assert [r[:-1] for r in table[1:]] == [rows[3], rows[7]]  # values as they were: -12.9145, +44 20 …
    assert [r[-1].split(":")[0] for r in table[1:]] == ["row 4", "row 8"]

    # Fix the two addresses and upload the file again: the original map, roster_error left out,
    # the same segment preselected.
    table[1][3], table[2][3] = "lead3@example.org", "lead7@example.org"
    fixed = tmp_path / "hubspot-contacts-fixed.csv"
    with fixed.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(table)
    upload(page, server, fixed)
    assert row_of(page, "Email").locator(".engine").inner_text() == "memory"
    assert row_of(page, "Email").locator("select.target").input_value() == "email"
    assert "excluded" in row_of(page, "roster_error").get_attribute("class")
    for column in exports.HUBSPOT_IGNORED:
        assert "excluded" in row_of(page, column).get_attribute("class"), column
    assert page.get_by_role("checkbox", name="HubSpot leads").is_checked()
    page.get_by_role("button", name="Start the import").click()
    page.wait_for_url(IMPORT_URL)
    wait_finished(page)
    counts = {k: page.locator(f"[data-count='{k}']").inner_text() for k in ("total", "created", "failed")}
    assert counts == {"total": "2", "created": "2", "failed": "0"}
    assert page.get_by_test_id("segments").inner_text() == "HubSpot leads"


def test_files_that_cannot_import_are_refused_on_the_upload_step(server, page, make_team_key, tmp_path):
    _, _, key = make_team_key()
    sign_in(page, server, key)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header-only.csv").write_text("Email,First Name\r\n")
    (tmp_path / "no-email.csv").write_text("Name,Phone\nAnn,+1 555 0100\nBob,+1 555 0101\n")
    for name, words in (
        ("empty.csv", "is empty (0 bytes)"),
        ("header-only.csv", "no rows of contacts"),
        ("no-email.csv", "No column of “no-email.csv” holds email addresses"),
    ):
        page.goto(server + "/dashboard/imports/new")
        page.get_by_label("Choose a file or drop it here").set_input_files(str(tmp_path / name))
        page.get_by_role("button", name="Upload and review").click()
        message = page.locator("#upload-message")
        message.wait_for(state="visible")
        assert words in message.inner_text(), (name, message.inner_text())
        assert "/review/" not in page.url
    assert axe_findings(page) == []

    # Without the page's script (a plain form post), the same refusals, on the upload page.
    client = httpx.Client(base_url=server, timeout=30)
    assert http_sign_in(client, key).status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/imports/new").text).group(1)
    for name, words in (("empty.csv", "is empty"), ("header-only.csv", "no rows"), ("no-email.csv", "No column")):
        r = client.post(
            "/dashboard/imports/upload", data={"csrf": csrf}, files={"file": (name, (tmp_path / name).read_bytes(), "text/csv")}
        )
        assert r.status_code == 422 and words in r.text, (name, r.status_code)
    client.close()


def test_long_names_wrap_at_phone_width(server, browser, make_team_key, tmp_path):
    _, _, key = make_team_key()
    long_name = "hubspot-export-" + "all-contacts-with-marketing-status-and-lifecycle-stage-" * 3 + "2026.csv"
    path = exports.hubspot_csv(tmp_path / long_name, 3)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    try:
        sign_in(pg, server, key)
        upload(pg, server, path)
        assert fits(pg, 390)
        assert axe_findings(pg) == []
        pg.get_by_role("button", name="Start the import").click()
        pg.wait_for_url(IMPORT_URL)
        wait_finished(pg)
        assert fits(pg, 390)
        pg.goto(server + "/dashboard/imports")
        assert fits(pg, 390)
    finally:
        context.close()


def test_every_other_page_has_no_serious_accessibility_finding(server, page, make_team_key):
    page.goto(server + "/")  # the server's address leads to the dashboard
    page.wait_for_url("**/dashboard/sign-in")
    assert axe_findings(page) == []
    _, _, key = make_team_key()
    sign_in(page, server, key)
    assert axe_findings(page) == []
    page.goto(server + "/dashboard/imports/new")
    assert axe_findings(page) == []
    page.goto(server + "/dashboard/imports/00000000-0000-0000-0000-000000000000")
    assert page.get_by_role("heading", name="Not found").count() == 1
    assert axe_findings(page) == []


def test_the_root_redirects_to_the_dashboard(server):
    r = httpx.get(server + "/", follow_redirects=False)
    assert r.status_code in (302, 303, 307) and r.headers["location"] == "/dashboard"


RECORD_NOTIFICATIONS = """
window.Notification = function (title, options) { sessionStorage.setItem("notified", title); };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
"""


def test_the_end_of_an_import_is_announced_in_the_title_and_a_notification(server, page, make_team_key, tmp_path):
    _, _, key = make_team_key()
    page.add_init_script(RECORD_NOTIFICATIONS)  # the browser's notifications, allowed and recorded
    sign_in(page, server, key)
    upload(page, server, exports.hubspot_csv(tmp_path / "leads.csv", 3))
    page.get_by_role("button", name="Start the import").click()
    page.wait_for_url(IMPORT_URL)
    assert page.title().split(" · ")[0] in ("Queued", "Running")
    wait_finished(page)
    assert page.title() == "Completed · leads.csv · Roster"
    assert page.evaluate("sessionStorage.getItem('notified')") == "Import completed: leads.csv"
