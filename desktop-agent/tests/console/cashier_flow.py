"""The office console as a cashier uses it, in real headless Chromium (Playwright).

Run by desktop-agent/tests/console.rs, which starts a real server and the agent's console and
hands over what to do as JSON (`--plan FILE`). Phases:
  teacher   a teacher signs in (server up) and is refused the cashier pages;
  cashier   with the server stopped: sign-in offline, bad input, then every payment of the
            plan by keyboard, each receipt checked; writes what the receipts said to --out.
Screenshots go to --shots. Any failed expectation raises (exit status 1) with what was seen.
"""

import argparse
import json
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
            for want in [number, plan["school_name"], "PKR"]:
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

    # The dashboard, offline: today's collections are the console's nineteen kept payments.
    page.goto(url + "/dashboard")
    expect(page.locator("#registers-today")).to_contain_text("1 taken")
    expect(page.locator("#attendance-rate")).to_contain_text("% present or late")
    collected = page.locator("#collections-total").inner_text()
    page.screenshot(path=f"{shots}/10-dashboard.png", full_page=True)
    return {"receipts": receipts, "browser_seconds": elapsed, "reversal": reversal,
            "collected_today": collected, "discount": discount,
            "register": register}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", required=True)
    ap.add_argument("--phase", required=True, choices=["teacher", "cashier"])
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
