"""The office console as a cashier uses it, in real headless Chromium (Playwright).

Run by desktop-agent/tests/console.rs, which starts a real server and the agent's console and
hands over what to do as JSON (`--plan FILE`). Phases:
  teacher   a teacher signs in (server up) and is refused the cashier pages; the cashier
            signs in once online;
  cashier   with the server stopped: sign-in offline, bad input, then every payment of the
            plan by keyboard, each receipt checked, a reversal, a discount, a register,
            students and families (edits, an admission), reports refused offline, the
            dashboard; writes what the pages said to --out.
  office    the server back and the queue drained: the conflicting edit resolved on "Needs
            attention", a report online (CSV, Excel), a page updating itself after a pull,
            the admin's audit log.
  devices   the admin's Devices page: the back office revoked after a confirmation page;
  import    the back office's exported outbox imported there (once, by name when it is not one);
  setup     the admin sets the attendance edit window (a currency change is refused once
            money is recorded), adds an attendance code, then next year, its terms, six classes, a fee head and the schedules
            on School setup (a mistyped amount refused by field name);
  admissions the admin previews an .xlsx of 300 students with one bad row (named by row and
            column, nothing importable), uploads the fixed file, sees the sibling groups and
            imports it; a OneRoster zip gets the same preview;
  users     the admin adds a login (password shown once), assigns a teacher to a class, the
            new user signs in; the admin resets the password and locks the user;
  invoices  the admin previews next year's first-term invoices (count, families, total) and
            issues them;
  two_factor the admin turns on two-factor login (QR, code, recovery codes); a user new to
            this computer is asked for the code once, and signs in with the password after;
  revoked   the admin has revoked this computer: the sync bar says so.
  new_school a school set up from nothing: settings, a year and terms, six classes, fee heads
            and schedules, and a cashier's login (password shown once);
  pay       a cashier on a newly enrolled computer takes one payment (and, revoked, keeps it);
  revoke    the admin revokes a computer by name on the Devices page;
  late_fines the admin adds a late-fine rule, previews what it fines and runs it.
Screenshots go to --shots. Any failed expectation raises (exit status 1) with what was seen.
"""

import argparse
import base64
import hashlib
import hmac
import json
import struct
import re
import subprocess
import sys
import time

from playwright.sync_api import expect, sync_playwright


def status(page, url):
    return page.evaluate(
        "u => fetch(u + '/status.json', {credentials: 'same-origin'}).then(r => r.json())", url
    )


def sign_in(page, url, username, password, refused=False):
    page.goto(url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    error = page.locator("#login-error")
    if not refused and error.count():
        raise AssertionError(f"{username} could not sign in: {error.inner_text()}")


def teacher_phase(page, plan, shots):
    url = plan["url"]
    sign_in(page, url, plan["teacher"], plan["password"])
    page.goto(url + "/cashier")
    expect(page.locator("#page-error")).to_contain_text("for the office")
    expect(page.locator("#page-error")).to_contain_text("teacher")
    page.screenshot(path=f"{shots}/00-teacher-refused.png", full_page=True)
    # The cashier signs in once while the server answers, so this computer can check their
    # password offline later (the device itself was enrolled by the admin).
    sign_in(page, url, plan["cashier"], plan["password"])
    expect(page.locator("#who")).to_contain_text(plan["cashier"])


def cashier_phase(page, plan, shots):
    url = plan["url"]
    sign_in(page, url, plan["cashier"], "not the password", refused=True)
    expect(page.locator("#login-error")).to_contain_text("wrong")
    page.screenshot(path=f"{shots}/01-login-refused.png", full_page=True)
    sign_in(page, url, plan["cashier"], plan["password"])
    expect(page.locator("#who")).to_contain_text(plan["cashier"])
    expect(page.locator("#sync-bar")).to_contain_text("queued")
    expect(page.locator("#sync-online")).to_contain_text("offline")
    queued_before = status(page, url)["queued"]

    # Bad input: each a clear message on the page, nothing queued.
    first = plan["payments"][0]
    page.goto(url + "/family/" + first["family_id"])
    for typed, says in [("abc", "Amount"), ("10.555", "decimal"), ("-5", "Amount")]:
        page.fill("#amount", "")
        page.locator("#amount").press_sequentially(typed)
        expect(page.locator("#amount-error")).to_contain_text(says)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.locator("#pay-error")).to_contain_text(says)
    page.screenshot(path=f"{shots}/02-bad-amount.png", full_page=True)
    page.fill("#amount", "100")
    page.select_option("#method", "cheque")
    page.fill("#reference", "")
    with page.expect_navigation():
        page.locator("#amount").press("Enter")
    expect(page.locator("#pay-error")).to_contain_text("cheque needs its number")
    page.goto(url + "/family/0190f000-0000-7000-8000-00000000dead")
    expect(page.locator("#page-error")).to_contain_text("no family")
    if status(page, url)["queued"] != queued_before:
        raise AssertionError("bad input queued an edit")

    # The payments, by keyboard: search, Enter, amount, Enter, check the receipt, N.
    page.goto(url + "/cashier")
    receipts = []
    started = time.monotonic()
    for i, p in enumerate(plan["payments"]):
        search = page.locator("#search")
        expect(search).to_be_focused()
        search.press_sequentially(p["query"])
        first_hit = page.locator("#results a.result").first
        expect(first_hit).to_have_attribute("href", "/family/" + p["family_id"])
        if i == 0:
            page.screenshot(path=f"{shots}/03-search.png", full_page=True)
        search.press("Enter")
        page.wait_for_url("**/family/" + p["family_id"])
        amount = page.locator("#amount")
        expect(amount).to_be_focused()
        amount.press_sequentially(p["amount"])
        expect(page.locator("#understood")).to_contain_text(p["understood"])
        if p.get("owes_nothing"):
            expect(page.locator("#owes-nothing")).to_be_visible()
        if p["method"] != "cash":
            page.select_option("#method", p["method"])
            page.fill("#reference", p.get("reference", ""))
        if i == 0:
            page.screenshot(path=f"{shots}/04-family-card.png", full_page=True)
        if p.get("shot"):
            page.screenshot(path=f"{shots}/05-{p['shot']}.png", full_page=True)
        amount.press("Enter")
        page.wait_for_url("**/receipt/*")
        receipt = page.locator("#receipt")
        expect(receipt).to_contain_text("PENDING SYNC")
        expect(receipt).to_contain_text("Cashier: " + plan["cashier_name"])
        expect(page.locator("#school-address")).to_have_text(plan["school_address"])
        expect(receipt).to_contain_text(p["understood"])
        text = receipt.inner_text()
        if p.get("reference") and p["reference"] not in text:
            raise AssertionError(f"reference missing from receipt: {text}")
        for child in p.get("children_on_receipt", []):
            if child not in text:
                raise AssertionError(f"{child} missing from receipt: {text}")
        due = re.search(r"Balance due after this payment: [A-Z]{3} ([0-9,.]+)", text)
        credit = re.search(r"Credit held: [A-Z]{3} ([0-9,.]+)", text)
        number = page.locator("#receipt-no").inner_text()
        receipts.append({
            "family_id": p["family_id"],
            "receipt_no": number,
            "net_due_after": due.group(1) if due else None,
            "credit_after": credit.group(1) if credit else None,
            "text": text,
        })
        if i == 0 or p.get("shot"):
            page.screenshot(path=f"{shots}/06-receipt-{i + 1:02}.png", full_page=True)
        if i == 0:
            with page.expect_navigation():
                page.keyboard.press("t")
            expect(page.locator("#printed")).to_contain_text("Sent to the thermal printer")
            expect(page.locator("#receipt")).to_contain_text(number)
            pdf = page.request.get(url + page.locator("#receipt-pdf").get_attribute("href"))
            if pdf.headers.get("content-type") != "application/pdf":
                raise AssertionError(f"not a PDF: {pdf.headers}")
            path = f"{shots}/receipt-{number}.pdf"
            open(path, "wb").write(pdf.body())
            pdf_text = subprocess.run(["pdftotext", "-layout", path, "-"], check=True,
                                      capture_output=True, text=True).stdout
            for want in [number, plan["school_name"], "Gulberg III", "PKR"]:
                if want not in pdf_text:
                    raise AssertionError(f"{want} missing from the PDF: {pdf_text}")
        page.keyboard.press("n")
        page.wait_for_url("**/cashier")
    elapsed = time.monotonic() - started
    queued_after = status(page, url)["queued"]
    if queued_after != queued_before + len(plan["payments"]):
        raise AssertionError(f"queued {queued_before} -> {queued_after}")

    # A mistake: the last payment is reversed, with a reason; the family card shows it at once.
    last = plan["payments"][-1]
    page.goto(url + "/family/" + last["family_id"])
    due_before = page.locator("#net-due").inner_text()
    page.locator("#payments a").first.click()
    page.wait_for_url("**/receipt/*")
    page.locator("#reverse summary").click()
    page.fill("#reverse-reason", "typed the wrong family")
    with page.expect_navigation():
        page.locator("#reverse-reason").press("Enter")
    expect(page.locator("#payments .reversal")).to_have_count(1)
    due_after = page.locator("#net-due").inner_text()
    if due_after == due_before:
        raise AssertionError(f"the reversal did not change the due: {due_before}")
    page.screenshot(path=f"{shots}/08-reversal.png", full_page=True)
    reversal = {"family_id": last["family_id"], "net_due": due_after.split(" ", 1)[1],
                "credit": page.locator("#credit").inner_text().split(" ", 1)[1]}
    page.screenshot(path=f"{shots}/07-after-payments.png", full_page=True)

    # A discount at the counter: a scholarship of 500.00 on a family's oldest open line.
    fam = plan["discount_family"]
    page.goto(url + "/family/" + fam)
    due_before = page.locator("#net-due").inner_text()
    first = page.locator("details.discount").first
    first.locator("summary").click()
    first.locator("select[name=kind]").select_option("scholarship")
    first.locator("input[name=amount]").fill("500")
    first.locator("input[name=reason]").fill("sibling scholarship")
    with page.expect_navigation():
        first.locator("input[name=reason]").press("Enter")
    due_after = page.locator("#net-due").inner_text()
    if due_after == due_before:
        raise AssertionError(f"the discount did not change the due: {due_before}")
    page.screenshot(path=f"{shots}/08b-discount.png", full_page=True)
    discount = {"family_id": fam, "net_due": due_after.split(" ", 1)[1]}

    # A register: a class not taken yet today, everyone present but two absences.
    page.goto(url + "/registers")
    page.locator("#not-taken a").first.click()
    page.wait_for_url("**/registers?class=*")
    selects = page.locator("#marks select")
    if selects.count() < 3:
        raise AssertionError("a class with students")
    absent = []
    for i in (0, 2):
        selects.nth(i).focus()
        selects.nth(i).select_option("A")
        absent.append(selects.nth(i).get_attribute("name")[len("code_"):])
    page.screenshot(path=f"{shots}/09-register.png", full_page=True)
    with page.expect_navigation():
        page.locator("#save-register").click()
    expect(page.locator("#register-saved")).to_be_visible()
    page.reload()
    marked = page.locator("#marks select")
    for i in range(marked.count()):
        want = "A" if i in (0, 2) else "P"
        if marked.nth(i).input_value() != want:
            raise AssertionError(f"row {i} shows {marked.nth(i).input_value()}, not {want}")
    query = dict(p.split("=", 1) for p in page.url.split("?", 1)[1].split("&"))
    register = {"class_id": query["class"], "date": query["date"], "absent": absent,
                "students": marked.count()}
    if status(page, url)["queued"] != queued_after + 3:
        raise AssertionError("the reversal, the discount and the register are queued edits")
    queued_after += 3

    records = records_offline(page, plan, shots)

    # The dashboard, offline: today's collections are the console's nineteen kept payments.
    page.goto(url + "/dashboard")
    expect(page.locator("#registers-today")).to_contain_text("1 taken")
    expect(page.locator("#attendance-rate")).to_contain_text("% present or late")
    collected = page.locator("#collections-total").inner_text()
    page.screenshot(path=f"{shots}/10-dashboard.png", full_page=True)
    return {"receipts": receipts, "browser_seconds": elapsed, "reversal": reversal,
            "collected_today": collected, "discount": discount,
            "register": register, "records": records}


def submit(page, locator):
    with page.expect_navigation():
        locator.click()


def records_offline(page, plan, shots):
    """Students and families with the server down: find a student, a refused phone, a phone
    someone changed on the server meanwhile, a name, an admission (a refused one first)."""
    url, rec = plan["url"], plan["records"]
    queued = status(page, url)["queued"]
    page.goto(url + "/students")
    page.fill("#student-search", rec["student_query"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.locator(f"a.student[href='/student/{rec['student_id']}']").click()
    page.wait_for_url("**/student/" + rec["student_id"])
    page.screenshot(path=f"{shots}/11-student.png", full_page=True)

    guardian = page.locator("#edit-guardian-0")
    guardian_id = guardian.get_attribute("action").rsplit("/", 1)[1]
    guardian.locator("input[name=phone]").fill("call me")
    submit(page, guardian.locator("button"))
    expect(page.locator("#form-error")).to_contain_text("phone")
    expect(page.locator("#form-error")).to_contain_text("Nothing was saved")
    page.screenshot(path=f"{shots}/11b-bad-phone.png", full_page=True)
    if status(page, url)["queued"] != queued:
        raise AssertionError("a refused phone queued an edit")
    guardian = page.locator("#edit-guardian-0")
    guardian.locator("input[name=phone]").fill(rec["typed_phone"])
    submit(page, guardian.locator("button"))
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#edit-guardian-0 input[name=phone]")).to_have_value(rec["typed_phone_kept"])
    expect(page.locator(".queued-edit").first).to_contain_text("phone")

    page.fill("#student-given_name", rec["new_given_name"])
    submit(page, page.locator("#edit-student button"))
    expect(page.locator("#student-name")).to_contain_text(rec["new_given_name"])

    page.locator("#admit-sibling").click()
    page.wait_for_url("**/admit?family=*")
    expect(page.locator("#into-family")).to_contain_text(rec["family_name"])
    page.fill("#admission-no", rec["student_admission_no"])
    page.fill("#given-name", "Noor")
    page.fill("#family-name", rec["student_family_name"])
    page.fill("#dob", "2019-04-02")
    page.select_option("#admit-class", index=1)
    class_id = page.locator("#admit-class").input_value()
    submit(page, page.locator("#admit button"))
    expect(page.locator("#form-error")).to_contain_text("admission no.")
    if status(page, url)["queued"] != queued + 2:
        raise AssertionError("a refused admission queued an edit")
    page.fill("#admission-no", rec["new_admission_no"])
    submit(page, page.locator("#admit button"))
    page.wait_for_url("**/student/*?admitted=1")
    expect(page.locator("#saved")).to_contain_text("Admitted")
    expect(page.locator("#family-link")).to_contain_text(rec["family_name"])
    admitted = page.url.split("/student/", 1)[1].split("?", 1)[0]
    page.screenshot(path=f"{shots}/12-admitted.png", full_page=True)
    # The cashier finds the new child's family by the new admission number at once.
    page.goto(url + "/cashier")
    page.locator("#search").press_sequentially(rec["new_admission_no"])
    expect(page.locator("#results a.result").first).to_have_attribute("href", "/family/" + rec["family_id"])

    # Reports need the server, and say so.
    page.goto(url + "/reports?name=collections")
    expect(page.locator("#needs-server")).to_contain_text("needs the server")
    page.screenshot(path=f"{shots}/13-report-offline.png", full_page=True)
    if status(page, url)["queued"] != queued + 3:
        raise AssertionError("the phone, the name and the admission are three queued edits")
    return {"guardian_id": guardian_id, "admitted_id": admitted, "class_id": class_id}


def office_phase(page, plan, shots):
    """The server is back and the queue drained: the phone conflict needs attention and is
    resolved; a report online, downloaded as CSV and Excel; a page updates itself when a pull
    brings a change made elsewhere."""
    url, rec = plan["url"], plan["records"]
    sign_in(page, url, plan["cashier"], plan["password"])
    page.goto(url + "/attention")
    item = page.locator("section.attention")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("phone")
    expect(item.locator("table.conflicts")).to_contain_text(rec["server_phone"])
    expect(item.locator("table.conflicts")).to_contain_text(rec["typed_phone_kept"])
    expect(page.locator("#sync-attention")).to_contain_text("1 need attention")
    page.screenshot(path=f"{shots}/14-needs-attention.png", full_page=True)
    item.locator("input[name=note]").fill("called the father: the number on the server is right")
    with page.expect_navigation():
        item.locator("input[name=note]").press("Enter")
    expect(page.locator("#notice")).to_contain_text("here and on the server")
    expect(page.locator("#nothing")).to_be_visible()

    page.goto(url + "/reports")
    page.select_option("#report-name", "collections")
    submit(page, page.locator("#report-form button"))
    expect(page.locator("#report-title")).to_be_visible()
    rows = page.locator("#report tr")
    if rows.count() < 3:
        raise AssertionError("a collections report with rows and totals")
    expect(page.locator("#report")).to_contain_text(plan["cashier_name"])
    page.screenshot(path=f"{shots}/15-report.png", full_page=True)
    csv = page.request.get(url + page.locator("#download-csv").get_attribute("href"))
    if not csv.headers.get("content-type", "").startswith("text/csv"):
        raise AssertionError(f"not CSV: {csv.headers}")
    xlsx = page.request.get(url + page.locator("#download-xlsx").get_attribute("href"))
    if not xlsx.body().startswith(b"PK"):
        raise AssertionError("not an Excel workbook")
    open(f"{shots}/collections.xlsx", "wb").write(xlsx.body())

    # Live: someone at the server renames the admitted child; the open profile shows it
    # without anyone reloading it.
    admitted = plan["admitted_id"]
    page.goto(url + "/student/" + admitted)
    expect(page.locator("#student-name")).to_contain_text("Noor")
    api = plan["server_url"] + "/api/v1"
    login = page.request.post(api + "/auth/login", data={
        "school": "demo", "username": "admin", "password": plan["password"]})
    token = login.json()["access_token"]
    changed = page.request.patch(api + "/students/" + admitted, data={"given_name": "Noor-ul-Ain"},
                                 headers={"Authorization": "Bearer " + token})
    if not changed.ok:
        raise AssertionError(f"PATCH refused: {changed.status} {changed.text()}")
    expect(page.locator("#student-name")).to_contain_text("Noor-ul-Ain", timeout=30_000)
    page.screenshot(path=f"{shots}/16-live-update.png", full_page=True)
    audit_log(page, plan, shots, admitted)
    return {"csv": csv.text()}


def audit_log(page, plan, shots, admitted):
    """The audit log (issue #17): the cashier is refused it; the admin sees the admitted child's
    history — admitted offline at the front desk, renamed on the server — with the rename's
    before and after side by side, and narrows the log to the front desk's changes."""
    url = plan["url"]
    if page.locator("#nav-audit").count():
        raise AssertionError("the cashier's menu offers the audit log")
    page.goto(url + "/audit")
    expect(page.locator("#page-error")).to_contain_text("for the admin")
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-audit")
    page.fill("#entity", "student")
    page.fill("#entity-id", admitted)
    submit(page, page.locator("#audit-form button"))
    entries = page.locator("#audit tr.entry")
    expect(entries).to_have_count(2)
    rename = page.locator("#audit tr.entry[data-action=update]")
    field = rename.locator("tr[data-field=given_name]")
    expect(field.locator("td.before")).to_have_text("Noor")
    expect(field.locator("td.after")).to_have_text("Noor-ul-Ain")
    expect(rename).to_contain_text("admin")
    admission = page.locator("#audit tr.entry[data-action=create]")
    expect(admission.locator("a.device")).to_have_text(plan["device_name"])
    page.screenshot(path=f"{shots}/17-audit-log.png", full_page=True)
    with page.expect_navigation():
        admission.locator("a.device").click()
    expect(page.locator("#device-filter")).to_be_visible()
    page.fill("#entity", "")
    page.fill("#entity-id", "")
    submit(page, page.locator("#audit-form button"))
    devices = page.locator("#audit tr.entry a.device")
    if devices.count() < 5:
        raise AssertionError(f"the front desk's changes: only {devices.count()} entries")
    if page.locator("#audit tr.entry").count() != devices.count():
        raise AssertionError("an entry from elsewhere in the front desk's log")
    for name in devices.all_inner_texts():
        if name != plan["device_name"]:
            raise AssertionError(f"an entry from device {name!r} in the front desk's log")
    page.goto(url + "/audit?from=yesterday")
    expect(page.locator("#audit-error")).to_contain_text("from")


def devices_phase(page, plan, shots):
    """Devices (issue #17): the cashier is refused the page; the admin sees every device with
    its user, series and the unsent edits it reported, cannot revoke the computer in use, and
    revokes the back office after a confirmation page that says what revoking does."""
    url, back = plan["url"], plan["back_office"]
    sign_in(page, url, plan["cashier"], plan["password"])
    if page.locator("#nav-devices").count():
        raise AssertionError("the cashier's menu offers the devices page")
    page.goto(url + "/devices")
    expect(page.locator("#page-error")).to_contain_text("for the admin")
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-devices")
    here = page.locator(f"#devices tr.device[data-name='{plan['device_name']}']")
    expect(here.locator("#this-computer")).to_be_visible()
    expect(here.locator("a.revoke")).to_have_count(0)
    row = page.locator(f"#devices tr.device[data-name='{back['name']}']")
    expect(row).to_have_attribute("data-state", "active")
    expect(row).to_contain_text("accountant")
    expect(row.locator("td.queued")).to_have_text(str(back["queued"]))
    page.screenshot(path=f"{shots}/19-devices.png", full_page=True)
    with page.expect_navigation():
        row.locator("a.revoke").click()
    expect(page.locator("h1")).to_contain_text(back["name"])
    expect(page.locator("#queued")).to_have_text(str(back["queued"]))
    expect(page.locator("main")).to_contain_text("never given to another device")
    page.screenshot(path=f"{shots}/20-revoke-confirm.png", full_page=True)
    with page.expect_navigation():
        page.click("#confirm-revoke")
    expect(page.locator("#notice")).to_contain_text("is revoked")
    expect(row).to_have_attribute("data-state", "revoked")
    expect(row.locator("td.state")).to_contain_text("Revoked")
    expect(row.locator("a.revoke")).to_have_count(0)


def import_phase(page, plan, shots):
    """The back office's exported outbox is imported on the Devices page: its payment is
    applied with the receipt number printed there; a second import changes nothing; a file
    that is not an export is refused by name."""
    url, back = plan["url"], plan["back_office"]
    sign_in(page, url, "admin", plan["password"])
    page.goto(url + "/devices")
    page.set_input_files("#import-file", back["export_file"])
    with page.expect_navigation():
        page.click("#import-form button")
    notice = page.locator("#notice")
    expect(notice).to_contain_text("1 applied")
    expect(notice).to_contain_text(back["receipt_no"])
    page.screenshot(path=f"{shots}/21-outbox-imported.png", full_page=True)
    page.set_input_files("#import-file", back["export_file"])
    with page.expect_navigation():
        page.click("#import-form button")
    expect(page.locator("#notice")).to_contain_text("0 applied")
    expect(page.locator("#notice")).to_contain_text("1 already on the server")
    page.set_input_files("#import-file", files=[{
        "name": "notes.json", "mimeType": "application/json", "buffer": b'{"format": "notes/1"}'}])
    with page.expect_navigation():
        page.click("#import-form button")
    expect(page.locator("#import-error")).to_contain_text("notes.json")
    expect(page.locator("#import-error")).to_contain_text("not an outbox export")


def add_year(page, y):
    """Submits the new-year form with the year's name, dates and terms."""
    page.fill("#year-name", y["name"])
    page.fill("#year-starts", y["starts_on"])
    page.fill("#year-ends", y["ends_on"])
    for i, t in enumerate(y["terms"]):
        page.fill(f"#term-{i}-name", t["name"])
        page.fill(f"#term-{i}-starts", t["starts_on"])
        page.fill(f"#term-{i}-ends", t["ends_on"])
    with page.expect_navigation():
        page.click("#create-year")


def add_schedule(page, term_label, f):
    """Submits what class f["class"] pays for fee head f["head"] in the term."""
    page.select_option("#schedule-term", label=term_label)
    page.select_option("#schedule-class", label=f["class"])
    page.select_option("#schedule-head", label=f["head"])
    page.fill("#schedule-amount", f["amount"])
    page.fill("#schedule-due", f["due_on"])
    with page.expect_navigation():
        page.click("#create-schedule")


def setup_phase(page, plan, shots):
    """School setup (issue #17): the admin adds next year with its terms, six classes with a
    homeroom teacher, a fee head and what each class pays, through the console's forms; a
    mistyped amount is refused naming the field and nothing is added."""
    url, st = plan["url"], plan["setup"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-setup")
    expect(page.locator("h1")).to_have_text("School setup")
    # Settings: the currency cannot change under recorded money; the edit window can.
    expect(page.locator("#school-name")).to_have_value(plan["school_name"])
    page.fill("#school-currency", "USD")
    page.fill("#school-edit-window", "2")
    with page.expect_navigation():
        page.click("#save-school")
    expect(page.locator("#setup-error")).to_contain_text("currency")
    expect(page.locator("#school-currency")).to_have_value(st["currency"])
    expect(page.locator("#school-edit-window")).to_have_value(str(st["edit_window_before"]))
    page.fill("#school-edit-window", "2")
    with page.expect_navigation():
        page.click("#save-school")
    expect(page.locator("#setup-done")).to_contain_text("Saved the settings")
    expect(page.locator("#school-edit-window")).to_have_value("2")
    page.fill("#code-code", "SL")
    page.fill("#code-label", "Sick leave")
    page.select_option("#code-category", label="excused")
    with page.expect_navigation():
        page.click("#create-code")
    expect(page.locator("tr.code[data-code='SL']")).to_contain_text("excused")
    page.screenshot(path=f"{shots}/29-setup-settings.png", full_page=True)
    y = st["year"]
    add_year(page, y)
    expect(page.locator("#setup-done")).to_contain_text(f"{len(y['terms'])} terms")
    expect(page.locator(f"table.year[data-year='{y['name']}'] tr.term")).to_have_count(len(y["terms"]))
    # The same name again: the server refuses it and the page says so.
    add_year(page, dict(y, terms=[]))
    expect(page.locator("#setup-error")).to_be_visible()
    expect(page.locator(f"table.year[data-year='{y['name']}']")).to_have_count(1)
    page.screenshot(path=f"{shots}/30-setup-year.png", full_page=True)
    for i, c in enumerate(st["classes"]):
        page.select_option("#class-year", label=y["name"])
        page.fill("#class-grade", c["grade"])
        page.fill("#class-section", c["section"])
        if i == 0:
            page.select_option("#class-teacher", label=st["homeroom_label"])
        with page.expect_navigation():
            page.click("#create-class")
        expect(page.locator("#setup-done")).to_contain_text(c["name"])
    expect(page.locator(f"tr.class[data-class='{st['classes'][0]['name']}']")).to_contain_text(st["homeroom_label"].split(" (")[0])
    page.fill("#head-name", st["new_head"])
    with page.expect_navigation():
        page.click("#create-head")
    expect(page.locator(f".fee-head[data-head='{st['new_head']}']")).to_be_visible()
    term_label = f"{y['name']} {y['terms'][0]['name']}"
    # A mistyped amount names the field and adds nothing.
    add_schedule(page, term_label, dict(st["schedules"][0], **{"class": st["classes"][0]["name"], "amount": "45OO"}))
    expect(page.locator("#setup-error")).to_contain_text("Amount")
    expect(page.locator("tr.schedule")).to_have_count(st["schedules_before"])
    for f in st["schedules"]:
        add_schedule(page, term_label, f)
        expect(page.locator("#setup-done")).to_contain_text(f["shown"])
    expect(page.locator("tr.schedule")).to_have_count(st["schedules_before"] + len(st["schedules"]))
    page.screenshot(path=f"{shots}/31-setup-classes-fees.png", full_page=True)


def new_school_phase(page, plan, shots):
    """A school set up from nothing on the console (issue #17): its settings (name, receipt
    address, currency, time zone), a year with three terms, six classes, two fee heads, what
    each class pays, and a cashier's login (its password shown once, written to --out)."""
    url, ns = plan["url"], plan["new_school"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-setup")
    expect(page.locator("h1")).to_have_text("School setup")
    expect(page.locator("table.year")).to_have_count(0)
    page.fill("#school-name", ns["name"])
    page.fill("#school-address", ns["address"])
    page.fill("#school-currency", ns["currency"])
    page.fill("#school-timezone", ns["timezone"])
    with page.expect_navigation():
        page.click("#save-school")
    expect(page.locator("#setup-done")).to_contain_text("Saved the settings")
    expect(page.locator("#school-name")).to_have_value(ns["name"])
    expect(page.locator("#school-currency")).to_have_value(ns["currency"])
    # The receipt logo: a file that is not an image is refused by name, then the real one.
    expect(page.locator("#no-logo")).to_be_visible()
    page.set_input_files("#logo-file", files=[{"name": "letterhead.docx", "mimeType": "application/octet-stream", "buffer": b"PK not an image"}])
    with page.expect_navigation():
        page.click("#upload-logo")
    expect(page.locator("#setup-error")).to_contain_text("letterhead.docx")
    page.set_input_files("#logo-file", ns["logo"])
    with page.expect_navigation():
        page.click("#upload-logo")
    expect(page.locator("#setup-done")).to_contain_text("Saved the logo")
    logo = page.locator("#current-logo")
    expect(logo).to_be_visible()
    if page.evaluate("() => document.getElementById('current-logo').naturalWidth") == 0:
        raise AssertionError("the uploaded logo does not display")
    y = ns["year"]
    add_year(page, y)
    expect(page.locator(f"table.year[data-year='{y['name']}'] tr.term")).to_have_count(len(y["terms"]))
    for c in ns["classes"]:
        page.select_option("#class-year", label=y["name"])
        page.fill("#class-grade", c["grade"])
        page.fill("#class-section", c["section"])
        with page.expect_navigation():
            page.click("#create-class")
        expect(page.locator("#setup-done")).to_contain_text(c["name"])
    expect(page.locator("tr.class")).to_have_count(len(ns["classes"]))
    for head in ns["heads"]:
        page.fill("#head-name", head)
        with page.expect_navigation():
            page.click("#create-head")
        expect(page.locator(f".fee-head[data-head='{head}']")).to_be_visible()
    term_label = f"{y['name']} {y['terms'][0]['name']}"
    for f in ns["schedules"]:
        add_schedule(page, term_label, f)
        expect(page.locator("#setup-done")).to_contain_text(f["shown"])
    expect(page.locator("tr.schedule")).to_have_count(len(ns["schedules"]))
    page.screenshot(path=f"{shots}/40-new-school-setup.png", full_page=True)
    # The cashier's login.
    page.click("#nav-users")
    page.fill("#user-username", ns["cashier"])
    page.fill("#user-name", ns["cashier_name"])
    page.uncheck("#user-role-teacher")
    page.check("#user-role-accountant")
    with page.expect_navigation():
        page.click("#create-user")
    expect(page.locator("#password-shown")).to_have_attribute("data-username", ns["cashier"])
    page.screenshot(path=f"{shots}/41-new-school-cashier.png", full_page=True)
    return {"password": page.locator("#new-password").inner_text().strip()}


def late_fines_phase(page, plan, shots):
    """Late-fine rules (issue #17): a rule with a mistyped number of days is refused naming the
    field; the rule is added, previewed (how many overdue invoices, the total) and run; run
    again, it has nothing left to fine."""
    url, lf = plan["url"], plan["late_fines"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-setup")
    page.fill("#fine-name", lf["name"])
    page.fill("#fine-amount", lf["amount"])
    page.fill("#fine-days", "400")
    page.evaluate("document.getElementById('fine-days').removeAttribute('max')")
    with page.expect_navigation():
        page.click("#create-late-fine")
    expect(page.locator("#setup-error")).to_contain_text("Days past due")
    page.fill("#fine-name", lf["name"])
    page.fill("#fine-amount", lf["amount"])
    page.fill("#fine-days", str(lf["days"]))
    with page.expect_navigation():
        page.click("#create-late-fine")
    expect(page.locator("#setup-done")).to_contain_text(lf["name"])
    row = page.locator(f"tr.late-fine[data-rule='{lf['name']}']")
    expect(row.locator("td.fined")).to_have_text("0")
    with page.expect_navigation():
        row.locator("a.preview-fines").click()
    preview = page.locator("#late-fine-preview")
    expect(preview).to_have_attribute("data-invoices", str(lf["invoices"]))
    expect(preview).to_have_attribute("data-amount", str(lf["total"]))
    expect(preview).to_contain_text(lf["total_text"])
    page.screenshot(path=f"{shots}/45-late-fines-preview.png", full_page=True)
    with page.expect_navigation():
        page.click("#apply-late-fines")
    expect(page.locator("#late-fines-applied")).to_have_attribute("data-invoices", str(lf["invoices"]))
    page.screenshot(path=f"{shots}/46-late-fines-applied.png", full_page=True)
    page.goto(url + "/setup")
    expect(row.locator("td.fined")).to_have_text(str(lf["invoices"]))
    with page.expect_navigation():
        row.locator("a.preview-fines").click()
    expect(page.locator("#no-fines")).to_be_visible()


def pay_phase(page, plan, shots):
    """A cashier on a newly enrolled computer (issue #17) takes one payment by keyboard: the
    family found by a child's admission number, the amount, the receipt. With `expect_revoked`
    the computer has been revoked meanwhile: the payment is still taken and kept, and the sync
    bar says the computer was revoked."""
    url, pay = plan["url"], plan["pay"]
    sign_in(page, url, plan["cashier"], plan["password"])
    page.goto(url + "/cashier")
    search = page.locator("#search")
    search.press_sequentially(pay["query"])
    expect(page.locator("#results a.result").first).to_have_attribute("href", "/family/" + pay["family_id"])
    search.press("Enter")
    page.wait_for_url("**/family/" + pay["family_id"])
    amount = page.locator("#amount")
    amount.press_sequentially(pay["amount"])
    expect(page.locator("#understood")).to_contain_text(pay["understood"])
    amount.press("Enter")
    page.wait_for_url("**/receipt/*")
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text(pay["receipt_no"])
    expect(receipt).to_contain_text("Cashier: " + plan["cashier_name"])
    expect(receipt).to_contain_text(plan["school_name"])
    if pay.get("logo"):
        expect(page.locator("#receipt-logo")).to_be_visible()
        if page.evaluate("() => document.getElementById('receipt-logo').naturalWidth") == 0:
            raise AssertionError("the receipt's logo does not display")
    if pay.get("pdf_out"):
        pdf = page.request.get(url + page.locator("#receipt-pdf").get_attribute("href"))
        if not pdf.ok or pdf.headers.get("content-type") != "application/pdf":
            raise AssertionError(f"the PDF receipt: {pdf.status} {pdf.headers}")
        open(pay["pdf_out"], "wb").write(pdf.body())
    page.screenshot(path=f"{shots}/{pay['shot']}.png", full_page=True)
    if pay.get("expect_revoked"):
        revoked_phase(page, plan, shots)
        page.screenshot(path=f"{shots}/{pay['shot']}-revoked.png", full_page=True)


def revoke_phase(page, plan, shots):
    """The admin revokes the cashier's computer from the Devices page, after the confirmation."""
    url, name = plan["url"], plan["revoke"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-devices")
    row = page.locator(f"#devices tr.device[data-name='{name}']")
    expect(row).to_have_attribute("data-state", "active")
    with page.expect_navigation():
        row.locator("a.revoke").click()
    with page.expect_navigation():
        page.click("#confirm-revoke")
    expect(row).to_have_attribute("data-state", "revoked")
    page.screenshot(path=f"{shots}/44-new-school-revoked.png", full_page=True)


def invoices_phase(page, plan, shots):
    """The term's invoice run (issue #17): previewed first (count, families, total, per fee
    head), then issued; the preview afterwards has nothing left to issue."""
    url, inv = plan["url"], plan["invoices"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-setup")
    page.select_option("#invoice-term", label=inv["term_label"])
    with page.expect_navigation():
        page.click("#preview-invoices")
    preview = page.locator("#invoice-preview")
    expect(preview).to_have_attribute("data-invoices", str(inv["count"]))
    expect(preview).to_have_attribute("data-families", str(inv["families"]))
    expect(preview).to_have_attribute("data-amount", str(inv["amount"]))
    expect(preview).to_contain_text(inv["amount_text"])
    expect(page.locator("#invoice-heads tr")).to_have_count(1 + inv["heads"])
    page.screenshot(path=f"{shots}/32-invoice-preview.png", full_page=True)
    # While the run's request is out the page polls how far it got into a progress bar.
    # A run of a few hundred invoices is over in a second, so the first press is held on the
    # page (its submission cancelled) to watch the bar appear and the polling answer; then the
    # form is sent for real.
    progress_url = url + page.locator("#issue-form").get_attribute("data-progress")
    expect(page.locator("#invoice-progress")).to_have_attribute("max", str(inv["count"]))
    expect(page.locator("#invoice-progress")).to_be_hidden()
    page.evaluate("() => document.getElementById('issue-form').addEventListener('submit', e => e.preventDefault(), {once: true})")
    page.click("#issue-invoices")
    expect(page.locator("#invoice-progress")).to_be_visible()
    expect(page.locator("#invoice-progress-text")).to_contain_text(f"of {inv['count']} invoices")
    expect(page.locator("#issue-invoices")).to_be_disabled()
    page.screenshot(path=f"{shots}/32b-invoice-progress.png", full_page=True)
    with page.expect_navigation():
        page.evaluate("() => document.getElementById('issue-form').submit()")
    expect(page.locator("#invoices-issued")).to_have_attribute("data-invoices", str(inv["count"]))
    done = page.request.get(progress_url).json()
    if (done["running"], done["issued"], done["total"]) != (False, inv["count"], inv["count"]):
        raise AssertionError(f"the run's progress afterwards: {done}")
    page.screenshot(path=f"{shots}/33-invoices-issued.png", full_page=True)
    page.goto(url + "/setup")
    page.select_option("#invoice-term", label=inv["term_label"])
    with page.expect_navigation():
        page.click("#preview-invoices")
    expect(page.locator("#invoice-preview")).to_have_attribute("data-skipped", str(inv["count"]))
    expect(page.locator("#nothing-to-issue")).to_be_visible()


def users_phase(page, plan, shots):
    """Users (issue #17): the admin adds a login (its password shown once), is refused a
    username in use, assigns a teacher to a class; the new user signs in with the shown
    password; the admin resets it and locks the user. Returns the last password shown."""
    url, us = plan["url"], plan["users"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-users")
    expect(page.locator("h1")).to_have_text("Users")
    page.fill("#user-username", us["username"])
    page.fill("#user-name", us["name"])
    # Roles are ticked, several at once if need be; none ticked is refused.
    page.uncheck("#user-role-teacher")
    with page.expect_navigation():
        page.click("#create-user")
    expect(page.locator("#users-error")).to_contain_text("Roles")
    page.fill("#user-username", us["username"])
    page.fill("#user-name", us["name"])
    page.uncheck("#user-role-teacher")
    page.check("#user-role-accountant")
    with page.expect_navigation():
        page.click("#create-user")
    expect(page.locator("#password-shown")).to_have_attribute("data-username", us["username"])
    first = page.locator("#new-password").inner_text().strip()
    row = page.locator(f"tr.user[data-username='{us['username']}']")
    expect(row.locator("td.role")).to_have_text("accountant")
    page.screenshot(path=f"{shots}/34-users-added.png", full_page=True)
    # The bursar is also a parent at the school: a second role on the same login.
    row.locator("input[name='role_parent']").check()
    with page.expect_navigation():
        row.locator("button.change-roles").click()
    expect(page.locator("#users-done")).to_contain_text("accountant + parent")
    expect(row.locator("td.role")).to_have_text("accountant + parent")
    page.fill("#user-username", us["username"])
    page.fill("#user-name", "Someone else")
    with page.expect_navigation():
        page.click("#create-user")
    expect(page.locator("#users-error")).to_be_visible()
    expect(page.locator("#password-shown")).to_have_count(0)
    page.select_option("#assign-teacher", label=us["teacher_label"])
    page.select_option("#assign-class", label=us["class"])
    page.fill("#assign-subject", us["subject"])
    with page.expect_navigation():
        page.click("#assign-teacher-button")
    expect(page.locator(f"tr.user[data-username='{us['teacher']}'] td.classes")).to_contain_text(f"{us['class']} ({us['subject']})")
    page.click("#nav-setup")
    expect(page.locator(f"tr.class[data-class='{us['class']}'] td.subject-teachers")).to_contain_text(us["subject"])
    page.click("#nav-users")
    sign_out(page)
    sign_in(page, url, us["username"], first)
    expect(page.locator("#who")).to_contain_text(us["name"])
    sign_out(page)
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-users")
    with page.expect_navigation():
        row.locator("button.reset-password").click()
    second = page.locator("#new-password").inner_text().strip()
    if second == first:
        raise AssertionError("the reset password equals the old one")
    with page.expect_navigation():
        row.locator("button.lock").click()
    expect(row).to_have_attribute("data-state", "locked")
    expect(row.locator("button.unlock")).to_be_visible()
    page.screenshot(path=f"{shots}/35-users-locked.png", full_page=True)
    return {"first_password": first, "password": second}


def admissions_phase(page, plan, shots):
    """Spreadsheet admissions (issue #17): the preview names the bad cell by row and column
    and offers no import; the corrected file previews clean with its sibling groups and is
    imported in one go."""
    url, adm = plan["url"], plan["admissions"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-admissions")
    expect(page.locator("#template-xlsx")).to_be_visible()
    with page.expect_download() as d:
        page.click("#template-xlsx")
    if not d.value.suggested_filename.endswith(".xlsx"):
        raise AssertionError(f"template named {d.value.suggested_filename}")
    page.set_input_files("#admissions-file", adm["bad_file"])
    with page.expect_navigation():
        page.click("#admissions-upload button")
    counts = page.locator("#admissions-counts")
    expect(counts).to_have_attribute("data-error", "1")
    expect(counts).to_have_attribute("data-new", str(adm["count"] - 1))
    bad = page.locator(f"tr.admission-error[data-row='{adm['bad_row']}'][data-column='{adm['bad_column']}']")
    expect(bad).to_contain_text("date_of_birth")
    expect(bad).to_contain_text("month first")
    expect(page.locator("#import-admissions")).to_have_count(0)
    page.screenshot(path=f"{shots}/25-admissions-bad-row.png", full_page=True)
    page.set_input_files("#admissions-file", adm["good_file"])
    with page.expect_navigation():
        page.click("#admissions-upload button")
    expect(counts).to_have_attribute("data-error", "0")
    expect(counts).to_have_attribute("data-new", str(adm["count"]))
    expect(page.locator(f"tr.admission-family[data-key='{adm['key_group']}']")).to_contain_text("same family key")
    expect(page.locator(f"tr.admission-family[data-key='{adm['phone_group']}']")).to_contain_text("same guardian phone")
    expect(page.locator("tr.admission-row")).to_have_count(adm["count"])
    page.screenshot(path=f"{shots}/26-admissions-preview.png", full_page=True)
    with page.expect_navigation():
        page.click("#import-admissions")
    expect(page.locator("#admissions-imported")).to_have_attribute("data-new", str(adm["count"]))
    page.screenshot(path=f"{shots}/27-admissions-imported.png", full_page=True)
    if "oneroster_zip" not in adm:
        return
    # A OneRoster export gets the same preview (only previewed here).
    page.goto(url + "/admissions")
    page.set_input_files("#admissions-file", adm["oneroster_zip"])
    with page.expect_navigation():
        page.click("#admissions-upload button")
    expect(page.locator("h1")).to_contain_text("OneRoster")
    expect(page.locator("#oneroster-counts")).to_have_attribute("data-users", "8")
    expect(page.locator("#oneroster-warnings")).to_contain_text("manifest.csv")
    expect(page.locator("#import-admissions")).to_be_visible()
    page.screenshot(path=f"{shots}/28-oneroster-preview.png", full_page=True)


def totp(secret_base32, at=None):
    """The RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) an authenticator app shows at `at`."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    counter = int(time.time() if at is None else at) // 30
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def sign_out(page):
    with page.expect_navigation():
        page.click("#who button")


def two_factor_phase(page, plan, shots):
    """Two-factor login (issue #17): the admin turns it on from the console (QR code, the code
    from the app, ten recovery codes shown once); the bursar, who has it on and has never
    signed in on this computer, is asked for the code once, then signs in with the password."""
    url, bursar = plan["url"], plan["bursar"]
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-two-factor")
    page.fill("#password", "not my password")
    with page.expect_navigation():
        page.click("#two-factor-start button")
    expect(page.locator("#two-factor-error")).to_contain_text("not your password")
    page.fill("#password", plan["password"])
    with page.expect_navigation():
        page.click("#two-factor-start button")
    expect(page.locator("#two-factor-qr svg")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text().strip()
    page.screenshot(path=f"{shots}/22-two-factor-scan.png", full_page=True)
    page.fill("#code", "000000" if totp(secret) != "000000" else "111111")
    with page.expect_navigation():
        page.click("#two-factor-confirm button")
    expect(page.locator("#two-factor-error")).to_contain_text("not the code")
    page.fill("#code", totp(secret, time.time() - 30))
    with page.expect_navigation():
        page.click("#two-factor-confirm button")
    expect(page.locator("#two-factor-done")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.screenshot(path=f"{shots}/23-recovery-codes.png", full_page=True)
    sign_out(page)
    # The admin is remembered here: the password alone still signs them in on this computer.
    sign_in(page, url, "admin", plan["password"])
    expect(page.locator("#who")).to_contain_text("admin")
    sign_out(page)

    sign_in(page, url, bursar["username"], plan["password"], refused=True)
    expect(page.locator("#login-error")).to_contain_text("two-factor")
    expect(page.locator("#two-factor-code")).to_be_visible()
    page.screenshot(path=f"{shots}/24-sign-in-code.png", full_page=True)
    page.fill("#password", plan["password"])
    page.fill("#two-factor-code", "123456" if totp(bursar["secret"]) != "123456" else "654321")
    with page.expect_navigation():
        page.click("form[action='/login'] button")
    expect(page.locator("#login-error")).to_contain_text("wrong")
    page.fill("#password", plan["password"])
    page.fill("#two-factor-code", totp(bursar["secret"]))
    with page.expect_navigation():
        page.click("form[action='/login'] button")
    expect(page.locator("#who")).to_contain_text(bursar["username"])
    sign_out(page)
    sign_in(page, url, bursar["username"], plan["password"])
    expect(page.locator("#who")).to_contain_text(bursar["username"])
    sign_out(page)
    # The bursar's phone is lost: the admin turns their two-factor login off on Users.
    sign_in(page, url, "admin", plan["password"])
    page.click("#nav-users")
    row = page.locator(f"tr.user[data-username='{bursar['username']}']")
    with page.expect_navigation():
        row.locator("button.reset-two-factor").click()
    expect(page.locator("#users-done")).to_contain_text("Two-factor login is off")
    with page.expect_navigation():
        row.locator("button.reset-two-factor").click()
    expect(page.locator("#users-error")).to_contain_text("not on")


def revoked_phase(page, plan, shots):
    """The admin has revoked this computer (issue #17): every page's sync bar says so and that
    the unsent edits are kept and can be exported."""
    url = plan["url"]
    sign_in(page, url, plan["cashier"], plan["password"])
    page.goto(url + "/dashboard")
    deadline = time.time() + 30
    while not page.locator("#device-revoked").count():
        if time.time() > deadline:
            raise AssertionError("the sync bar never said the device was revoked")
        time.sleep(1)
        page.reload()
    expect(page.locator("#device-revoked")).to_contain_text("revoked")
    expect(page.locator("#device-revoked")).to_contain_text("export")
    if page.locator("#sync-online").count():
        raise AssertionError("a revoked computer still says it will send when online")
    page.screenshot(path=f"{shots}/18-device-revoked.png", full_page=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", required=True)
    ap.add_argument("--phase", required=True, choices=["teacher", "cashier", "office", "devices", "import", "setup", "admissions", "invoices", "users", "two_factor", "revoked", "new_school", "pay", "revoke", "late_fines"])
    ap.add_argument("--shots", required=True)
    ap.add_argument("--out")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    plan = json.load(open(a.plan))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=a.chromium, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(10_000)
        expect.set_options(timeout=10_000)
        try:
            if a.phase == "teacher":
                teacher_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "office":
                out = office_phase(page, plan, a.shots)
            elif a.phase == "devices":
                devices_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "import":
                import_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "setup":
                setup_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "admissions":
                admissions_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "users":
                out = users_phase(page, plan, a.shots)
            elif a.phase == "invoices":
                invoices_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "two_factor":
                two_factor_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "revoked":
                revoked_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "new_school":
                out = new_school_phase(page, plan, a.shots)
            elif a.phase == "late_fines":
                late_fines_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "pay":
                pay_phase(page, plan, a.shots)
                out = {}
            elif a.phase == "revoke":
                revoke_phase(page, plan, a.shots)
                out = {}
            else:
                out = cashier_phase(page, plan, a.shots)
        except Exception:
            page.screenshot(path=f"{a.shots}/failed-{a.phase}.png", full_page=True)
            print("at", page.url, file=sys.stderr)
            raise
        finally:
            browser.close()
    if a.out:
        json.dump(out, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
