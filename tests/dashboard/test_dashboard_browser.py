"""The dashboard in a real browser, the whole path a person takes: sign in, upload a messy CSV
(Windows-1252, semicolons), change one suggestion, reject one, create a new property, start,
watch the counts reach completed, download the failed rows; a wrong key refused; another team's
import invisible; signing out ends the session."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa

from tests.dashboard.conftest import sign_in

HEADER = ["E-Mail-Adresse", "Vorname", "Nachname", "Firma", "Lifetime Value", "Newsletter", "Notizen"]


def messy_csv(path) -> None:
    """What Excel on a German Windows saves: cp1252, semicolons, CRLF; two rows that must fail."""
    rows = [HEADER]
    rows += [
        [
            f"kunde{i}@example.com",
            "Renée" if i == 0 else f"Jörg{i}",
            f"Müller{i}",
            f"Café {i} GmbH",
            f"{i * 10}.5",
            "ja" if i % 2 else "nein",
            f"note {i}",
        ]
        for i in range(6)
    ]
    rows += [["not-an-email", "Bad", "Row", "X", "1", "ja", "n"], ["", "Empty", "Mail", "Y", "2", "nein", "n"]]
    path.write_bytes(("\r\n".join(";".join(r) for r in rows) + "\r\n").encode("cp1252"))


def row_of(page, column: str):
    return page.locator(f"tr.maprow[data-column='{column}']")


def test_the_whole_path_from_upload_to_failed_rows(server, page, make_team_key, engine, tmp_path):
    from roster.store import properties

    _, team_id, key = make_team_key()
    properties.create_missing(engine, team_id, {"company": "string", "employer": "string"})
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO topics (team_id, name) VALUES (:t, 'Produktneuheiten')"), {"t": team_id})
    messy_csv(tmp_path / "kunden.csv")

    sign_in(page, server, key)
    page.get_by_role("link", name="New import").first.click()
    page.get_by_label("Choose a file or drop it here").set_input_files(str(tmp_path / "kunden.csv"))
    page.get_by_role("button", name="Upload and review").click()
    page.wait_for_url("**/dashboard/imports/review/*")

    # What was detected, and the first rows decoded right.
    assert page.get_by_test_id("delimiter").inner_text() == "semicolon"
    assert re.search(r"1252|latin", page.get_by_test_id("encoding").inner_text(), re.I)
    assert page.locator("table.preview").get_by_text("Renée").count() == 1
    checks = " ".join(page.get_by_test_id("checks").inner_text().split())
    assert "first 8 rows" in checks and "1 blank" in checks and "1 not an email address" in checks

    # The engine's suggestions, each with its confidence, reason and engine.
    assert row_of(page, "E-Mail-Adresse").locator("select.target").input_value() == "email"
    assert row_of(page, "Firma").locator("select.target").input_value() == "property:company"
    assert "German" in row_of(page, "Firma").locator(".why").inner_text()
    assert row_of(page, "Firma").locator(".engine").inner_text() == "offline"
    assert row_of(page, "Newsletter").locator("input[name^='invert_']").is_checked()

    # Change one (Firma goes to another existing property), reject one, create a new property.
    row_of(page, "Firma").locator("select.target").select_option("property:employer")
    row_of(page, "Notizen").get_by_label("Import this column").uncheck()
    ltv = row_of(page, "Lifetime Value")
    ltv.locator("select.target").select_option("new")
    ltv.get_by_label("New property name").fill("ltv")
    ltv.get_by_label("Type").select_option("number")
    page.get_by_label("New segment (optional)").fill("Kunden aus Excel")
    page.get_by_label("Produktneuheiten").select_option("opt_in")
    page.get_by_role("button", name="Start the import").click()
    page.wait_for_url(re.compile(r".*/dashboard/imports/[0-9a-f-]{36}$"))
    import_id = page.url.rsplit("/", 1)[1]

    # The counts move by themselves until completed (the page polls its status).
    status = page.locator("#status")
    # A selector, not wait_for_function: the dashboard's CSP (no 'unsafe-eval') refuses Playwright's eval'd predicates.
    page.locator('#status[data-status="completed"]').wait_for(timeout=120_000)
    assert status.inner_text() == "Completed with failures"  # amber: 2 rows failed
    assert page.locator("#summary").inner_text() == "completed, 2 of 8 rows failed (6 created, 0 updated, 0 skipped)"
    counts = {k: page.locator(f"[data-count='{k}']").inner_text() for k in ("total", "created", "failed")}
    assert counts == {"total": "8", "created": "6", "failed": "2"}
    assert page.locator(".bar").get_attribute("aria-valuenow") == "100"
    assert "ltv" in page.locator("section", has_text="Column map used").inner_text()

    # The failed rows: listed, and downloaded as a CSV to fix and import again.
    failed = page.locator("#failures table")
    assert failed.get_by_role("cell", name="not-an-email", exact=True).count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Download failed rows (CSV)").click()
    body = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    # The file's own columns under its own headers, values as they were, and one error column.
    assert list(body[0]) == [*HEADER, "roster_error"]
    assert [r["E-Mail-Adresse"] for r in body] == ["not-an-email", ""]
    assert [r["roster_error"].split(":")[0] for r in body] == ["row 7", "row 8"] and body[0]["Firma"] == "X"

    # What landed: the reviewed map, not the suggested one.
    with engine.connect() as conn:
        contacts = (
            conn.execute(
                sa.text("SELECT email, first_name, unsubscribed, properties FROM contacts WHERE team_id = :t ORDER BY email"),
                {"t": team_id},
            )
            .mappings()
            .all()
        )
        segment = conn.execute(
            sa.text(
                "SELECT count(*) FROM contact_segments cs JOIN segments s ON s.id = cs.segment_id "
                "WHERE s.team_id = :t AND s.name = 'Kunden aus Excel'"
            ),
            {"t": team_id},
        ).scalar()
        topics = conn.execute(
            sa.text("SELECT subscription, count(*) FROM contact_topics WHERE team_id = :t GROUP BY subscription"), {"t": team_id}
        ).all()
        source = conn.execute(sa.text("SELECT source FROM contact_imports WHERE id = :i"), {"i": import_id}).scalar()
    assert len(contacts) == 6 and segment == 6 and source == "dashboard" and topics == [("opt_in", 6)]
    first = contacts[0]
    assert first["first_name"] == "Renée" and first["unsubscribed"] is True  # "nein" to the newsletter
    assert contacts[1]["unsubscribed"] is False  # "ja"
    assert first["properties"] == {"employer": "Café 0 GmbH", "ltv": 0.5}

    # The list shows it, newest first, with its counts.
    page.get_by_role("link", name="Imports").first.click()
    listed = page.locator(f"tr[data-import-id='{import_id}']")
    assert listed.get_by_text("kunden.csv").count() == 1 and "Completed" in listed.inner_text()

    # The same columns next time: the reviewed map comes preselected (engine "memory").
    page.get_by_role("link", name="New import").first.click()
    page.get_by_label("Choose a file or drop it here").set_input_files(str(tmp_path / "kunden.csv"))
    page.get_by_role("button", name="Upload and review").click()
    page.wait_for_url("**/dashboard/imports/review/*")
    assert row_of(page, "Firma").locator("select.target").input_value() == "property:employer"
    assert row_of(page, "Firma").locator(".engine").inner_text() == "memory"
    assert row_of(page, "Lifetime Value").locator("select.target").input_value() == "property:ltv"
    assert not row_of(page, "Notizen").get_by_label("Import this column").is_checked()


def test_a_wrong_key_is_refused(server, page):
    page.goto(server + "/dashboard/imports")
    page.wait_for_url("**/dashboard/sign-in")
    page.get_by_label("API key").fill("re_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    assert [c for c in page.context.cookies() if c["name"] == "roster_session"] == []
    page.goto(server + "/dashboard/imports")
    page.wait_for_url("**/dashboard/sign-in")


def test_another_teams_import_is_invisible(server, page, make_team_key, engine, tmp_path):
    from roster.importing.service import ImportService
    from schemas.import_options import parse_options

    _, other_team, _ = make_team_key()
    (tmp_path / "secret-list.csv").write_text("email\nsecret@example.com\n")
    theirs = ImportService(engine).create(other_team, tmp_path / "secret-list.csv", "secret-list.csv", parse_options({}), "test")
    _, _, key = make_team_key()
    sign_in(page, server, key)
    assert page.get_by_text("secret-list.csv").count() == 0
    for path in (
        f"/dashboard/imports/{theirs}",
        f"/dashboard/imports/{theirs}/status.json",
        f"/dashboard/imports/{theirs}/failures.csv",
    ):
        assert page.request.get(server + path).status == 404
    page.goto(server + f"/dashboard/imports/{theirs}")
    assert page.get_by_role("heading", name="Not found").count() == 1


def test_sign_out_ends_the_session(server, page, make_team_key):
    _, _, key = make_team_key()
    sign_in(page, server, key)
    cookie = next(c for c in page.context.cookies() if c["name"] == "roster_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and key not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # not readable by scripts
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/dashboard/sign-in")
    page.goto(server + "/dashboard/imports")
    page.wait_for_url("**/dashboard/sign-in")


def test_works_at_phone_width(server, browser, make_team_key):
    _, _, key = make_team_key()
    context = browser.new_context(viewport={"width": 375, "height": 740})
    pg = context.new_page()
    try:
        sign_in(pg, server, key)
        pg.goto(server + "/dashboard/imports/new")
        assert pg.evaluate("document.documentElement.scrollWidth") <= 375
        # Keyboard only: the skip link comes first and lands on the content.
        pg.keyboard.press("Tab")
        assert pg.evaluate("document.activeElement.textContent") == "Skip to content"
    finally:
        context.close()


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map(el => el.name || el.id || el.outerHTML.slice(0, 60))"""


def test_every_control_has_a_label_and_the_review_works_by_keyboard(server, page, make_team_key, tmp_path):
    _, _, key = make_team_key()
    sign_in(page, server, key)
    page.goto(server + "/dashboard/imports/new")
    assert page.evaluate(UNLABELLED) == []
    (tmp_path / "people.csv").write_text("Mail;Given Name;Opt-in\nann@example.com;Ann;yes\nbob@example.com;Bob;no\n")
    page.get_by_label("Choose a file or drop it here").set_input_files(str(tmp_path / "people.csv"))
    page.get_by_role("button", name="Upload and review").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/imports/review/*")
    assert page.evaluate(UNLABELLED) == []
    # Change a target with the keyboard alone: focus the select, arrow to another option.
    target = row_of(page, "Given Name").locator("select.target")
    target.focus()
    page.keyboard.press("ArrowDown")
    assert target.input_value() == "last_name"
    page.get_by_role("button", name="Start the import").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/dashboard/imports/[0-9a-f-]{36}$"))


def test_no_dashboard_page_can_be_framed_by_another_site(server, page, make_team_key):
    """Clickjacking: a signed-in dashboard page inside another site's frame. Its CSP says
    frame-ancestors 'none': the browser refuses to show it there."""
    _, _, key = make_team_key()
    sign_in(page, server, key)
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=60_000):
        page.set_content(f'<h1>Win a prize</h1><iframe src="{server}/dashboard/imports/new"></iframe>')
    page.csp_blocked[:] = [m for m in page.csp_blocked if "frame-ancestors" not in m]
    frame = page.frame_locator("iframe")
    assert frame.get_by_role("link", name="New import").count() == 0
    assert frame.get_by_label("Choose a file or drop it here").count() == 0
