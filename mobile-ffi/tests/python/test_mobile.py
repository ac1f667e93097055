"""Issue #5's proof from a foreign language: the generated Python bindings, loading the built
cdylib, used as a teacher's and a parent's phone against a real Daftar server.

Run by `mobile-ffi/tests/foreign.rs` (part of `cargo test --workspace`), which starts the server
on a seeded test database, generates the bindings into DAFTAR_BINDINGS, and stops/restarts the
server when this script prints `@harness stop` / `@harness start` (it answers `ok` on stdin).
The server's own answers are read over its REST API with urllib, as a second witness.
"""

import datetime
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.environ["DAFTAR_BINDINGS"])
import daftar_mobile_ffi as daftar  # noqa: E402  (generated; on the path set above)

URL = os.environ["DAFTAR_SERVER_URL"]
DATA = os.environ["DAFTAR_DATA_DIR"]
PASSWORD = os.environ["DAFTAR_PASSWORD"]
TODAY = os.environ["DAFTAR_TODAY"]
SCHOOL = "demo"


def harness(command):
    print(f"@harness {command}", flush=True)
    reply = sys.stdin.readline().strip()
    if reply != "ok":
        raise SystemExit(f"harness answered {reply!r} to {command}")


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}", flush=True)


def expect_error(variant, call, what):
    try:
        call()
    except variant as e:
        print(f"ok - {what}: {e}", flush=True)
        return e
    except daftar.DaftarError as e:
        raise AssertionError(f"{what}: expected {variant.__name__}, got {type(e).__name__}: {e}")
    raise AssertionError(f"{what}: no error")


def rest(method, path, token=None, body=None):
    req = urllib.request.Request(
        URL + "/api/v1" + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}") from None


def rest_login(username):
    return rest("POST", "/auth/login", body={"school": SCHOOL, "username": username, "password": PASSWORD})[
        "access_token"
    ]


def uuid7():
    """A UUIDv7 (RFC 9562): Daftar's row ids are created by whoever creates the row."""
    b = bytearray(int(time.time() * 1000).to_bytes(6, "big") + secrets.token_bytes(10))
    b[6] = (b[6] & 0x0F) | 0x70
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Listener(daftar.SyncListener):
    def __init__(self):
        self.data_changes = 0
        self.states = []

    def on_data_changed(self):
        self.data_changes += 1

    def on_sync_state_changed(self, status):
        self.states.append(status.pending_ops)


def teacher():
    phone = daftar.DaftarClient(URL, os.path.join(DATA, "teacher"))
    check(phone.current_user() is None, "a new phone has nobody logged in")
    expect_error(daftar.DaftarError.Auth, lambda: phone.login(SCHOOL, "teacher1", "nope", "py"), "wrong password")
    user = phone.login(SCHOOL, "teacher1", PASSWORD, "Python teacher phone")
    check(user.role == "teacher" and user.username == "teacher1", f"logged in as {user.display_name}")
    listener = Listener()
    phone.set_listener(listener)

    classes = phone.my_classes()
    check(len(classes) == 1, f"teacher1 sees only their class: {[c.name for c in classes]}")
    cls = classes[0]
    roster = phone.roster(cls.class_id)
    check(len(roster) >= 2, f"{cls.name} has {len(roster)} students")
    codes = {c.category: c.code for c in phone.attendance_codes()}
    check({"present", "absent"} <= set(codes), f"attendance codes {codes}")
    present, absent = codes["present"], codes["absent"]

    harness("stop")
    expect_error(daftar.DaftarError.Network, phone.sync_now, "sync while the server is down")
    marks = [daftar.Mark(student_id=s.student_id, code=absent if i == 0 else present) for i, s in enumerate(roster)]
    expect_error(
        daftar.DaftarError.Validation,
        lambda: phone.mark_register(cls.class_id, TODAY, marks[1:]),
        "a register that leaves a student out",
    )
    op_id = phone.mark_register(cls.class_id, TODAY, marks)
    check(len(op_id) == 36, f"marked offline as op {op_id}")
    check(phone.pending_op_count() == 1, "one edit waits in the outbox")
    check(listener.data_changes >= 1, "the listener heard the local edit")
    local = {e.student_id: e.code for e in phone.register(cls.class_id, TODAY)}
    check(local == {m.student_id: m.code for m in marks}, "the register shows the offline marks")

    harness("start")
    report = phone.sync_now()
    check((report.pushed, report.applied, report.rejected) == (1, 1, 0), f"synced: {report}")
    check(phone.pending_op_count() == 0, "the outbox drained")
    status = phone.sync_status()
    check(status.last_pull_at is not None and status.last_error is None, f"status {status.lag_seconds}s old")

    token = rest_login("teacher1")
    register = rest("GET", f"/classes/{cls.class_id}/registers/{TODAY}", token)
    on_server = {m["student_id"]: m["code"] for m in register["marks"]}
    check(on_server == {m.student_id: m.code for m in marks}, "the server's register holds exactly those marks")

    # The background loop: the office overrides one mark online; the phone hears the server's
    # poke (SSE), pulls, and tells the app through its listener.
    heard = listener.data_changes
    phone.start_sync(30)
    check(phone.sync_status().background_sync, "background sync runs")
    admin = rest_login("admin")
    excused = codes.get("excused", present)
    target = roster[1].student_id
    started = time.time()
    rest("PUT", f"/classes/{cls.class_id}/registers/{TODAY}", admin,
         {"period": 0, "exceptions": [{"student_id": target, "code": excused}], "reason": "doctor's note"})
    while time.time() < started + 20:
        line = {e.student_id: e for e in phone.register(cls.class_id, TODAY)}[target]
        if line.code == excused and listener.data_changes > heard:
            break
        time.sleep(0.02)
    check(line.code == excused and line.source == "office",
          f"the office's override reached the phone in {time.time() - started:.2f} s (poll interval 30 s)")
    check(listener.data_changes > heard and listener.states, "the listener was told")
    phone.stop_sync()
    check(not phone.sync_status().background_sync, "background sync stopped")
    phone.logout()
    check(phone.current_user() is None and phone.my_classes() == [], "logout leaves nothing behind")


def same_dues_as_the_server(phone, family, office):
    """The phone's dues for `family`, checked to the unit against the server's dues and family
    statement."""
    server_dues = rest("GET", f"/families/{family}/dues", office)
    statement = rest("GET", f"/families/{family}/statement", office)
    [dues] = phone.family_dues()
    check(dues.family_id == family and dues.currency == server_dues["currency"], f"dues in {dues.currency}")
    check(dues.net_due == statement["closing_balance"],
          f"net due {dues.net_due} equals the statement's closing balance {statement['closing_balance']}")
    check((dues.total_outstanding, dues.credit_balance, dues.net_due)
          == (server_dues["total_outstanding"], server_dues["credit_balance"], server_dues["net_due"]),
          f"outstanding {dues.total_outstanding}, credit {dues.credit_balance} as the server has them")
    check(
        {(c.student_id, c.outstanding) for c in dues.per_child}
        == {(c["student_id"], c["outstanding"]) for c in server_dues["per_student"]},
        "per child, to the unit",
    )
    check(
        [(i.invoice_id, i.outstanding) for i in dues.invoices]
        == [(i["invoice_id"], i["outstanding"]) for i in server_dues["invoices"]],
        "per invoice, oldest due first, to the unit",
    )
    check(dues.as_of is not None, f"as of {dues.as_of}")
    return dues


def parent():
    phone = daftar.DaftarClient(URL, os.path.join(DATA, "parent"))
    user = phone.login(SCHOOL, "parent", PASSWORD, "Python parent phone")
    check(user.role == "parent", f"logged in as {user.display_name}")
    children = phone.my_children()
    check(len(children) >= 2, f"children: {[(c.full_name, c.class_name) for c in children]}")
    family = children[0].family_id
    check(all(c.family_id == family for c in children), "all children are in one family")

    # The office, online: a cheque the family paid earlier bounces (its allocations must stop
    # counting on the phone too, which needs the reversing entry in the parent's scope), and
    # cash goes against half of the reopened invoices.
    office = rest_login("accountant")
    history = rest("GET", f"/families/{family}/payments", office)
    allocated = lambda p: sum(a["amount"] for a in p["allocations"])  # noqa: E731
    bounced = max(history, key=allocated)
    check(allocated(bounced) > 0, f"{bounced['receipt_no']} paid {allocated(bounced)} of invoices")
    rest("POST", f"/payments/{bounced['id']}/reversal", office, {"reason": "cheque bounced"})
    reopened = rest("GET", f"/families/{family}/dues", office)
    check(reopened["total_outstanding"] > 0, f"the family owes {reopened['total_outstanding']} again")
    currency = reopened["currency"]
    half = rest("POST", "/payments", office,
                {"id": uuid7(), "family_id": family, "amount": reopened["total_outstanding"] // 2,
                 "currency": currency, "method": "cash"})
    phone.sync_now()
    dues = same_dues_as_the_server(phone, family, office)
    check(dues.total_outstanding > 0, f"half is still owing: {dues.total_outstanding}")

    # Then the family pays everything and an advance: Family Credit, which the phone finds
    # through the chart of accounts.
    advance = rest("POST", "/payments", office,
                   {"id": uuid7(), "family_id": family, "amount": dues.net_due + 12_345,
                    "currency": currency, "method": "bank_transfer"})
    phone.sync_now()
    dues = same_dues_as_the_server(phone, family, office)
    check(dues.total_outstanding == 0 and dues.credit_balance == 12_345 and dues.net_due == -12_345,
          "paid up, with 12,345 in Family Credit")

    invoices = phone.invoices()
    check(sum(i.outstanding for i in invoices) == dues.total_outstanding, f"{len(invoices)} invoices add up")
    check(all(sum(l.amount for l in i.lines) == i.amount for i in invoices), "invoice lines add up")
    payments = phone.payments()
    receipts = {p.receipt_no for p in payments}
    check({half["receipt_no"], advance["receipt_no"], bounced["receipt_no"]} <= receipts,
          f"payments carry their receipts ({half['receipt_no']}, {advance['receipt_no']}, {bounced['receipt_no']})")
    server_payments = rest("GET", f"/families/{family}/payments", office)
    server_receipts = {p["receipt_no"] for p in server_payments}
    check(receipts == server_receipts, f"{len(receipts)} receipts, as the server lists them")

    child = children[0]
    today = datetime.date.fromisoformat(TODAY)
    history = phone.attendance_history(child.student_id, str(today - datetime.timedelta(days=30)), TODAY)
    check(len(history) > 0 and all(d.code and d.category for d in history),
          f"{child.full_name}: {len(history)} days of attendance")
    expect_error(daftar.DaftarError.Validation,
                 lambda: phone.attendance_history(child.student_id, TODAY, "2000-01-01"), "a backwards range")

    # Offline, the phone still answers from the last pull, and says how old it is.
    harness("stop")
    [offline] = phone.family_dues()
    check(offline.net_due == dues.net_due and offline.as_of == dues.as_of, "dues offline, same figures")
    expect_error(daftar.DaftarError.Network, phone.sync_now, "sync while the server is down")
    check(phone.sync_status().lag_seconds is not None, "the status says how stale the data is")
    harness("start")
    phone.logout()


teacher()
parent()
print("python: all checks passed", flush=True)
