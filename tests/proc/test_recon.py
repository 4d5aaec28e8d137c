"""Reconciliation (API.md §Fraud and administration) through real HTTP on a
real 3-node cluster: a partner's CSV settlement report against payments
settled by real callbacks — matched, amount mismatches, missing in the
ledger, missing in the report, bad rows counted — and a report of tens of
thousands of rows streamed in (spooled, never held whole), with progress
readable on any node while it runs."""
import datetime
import os
import signal
import time

import pytest
import requests

from cluster import Cluster
from conftest import BIN
from test_payments import _midtrans, _topup, _xendit, money_cluster
from test_wallet import _problem, _url, _user

HEADER = "partner,partner_ref,payment_id,amount,status,settled_at\n"


@pytest.fixture(scope="module")
def c3(tmp_path_factory):
    yield from money_cluster(tmp_path_factory.mktemp("recon"))


@pytest.fixture(scope="module")
def admin(c3):
    return _user(c3, email="boss@example.com")


def _post(c, who, body, n=0, ctype="text/csv"):
    return requests.post(_url(c, n) + "/v1/admin/reconciliations", data=body,
                         headers=dict(who["h"], **{"Content-Type": ctype}))


def _done(c, admin, rid, timeout=60):
    deadline, seen = time.monotonic() + timeout, []
    while True:
        r = requests.get(_url(c, len(seen)) + f"/v1/admin/reconciliations/{rid}", headers=admin["h"])
        assert r.status_code == 200, r.text
        seen.append((r.json()["status"], r.json()["rows"]))
        if r.json()["status"] == "done":
            return r.json(), seen
        assert time.monotonic() < deadline, seen[-5:]
        time.sleep(0.05)


def _at(offset_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_report_against_the_payments(c3, admin):
    u = _user(c3)
    mid = [_topup(c3, u, 10000 + i, partner="midtrans", method="va_bca").json() for i in range(12)]
    xen = [_topup(c3, u, 20000 + i, partner="xendit", method="qris").json() for i in range(4)]
    for p in mid[:10]:
        assert _midtrans(c3, p["id"], p["amount"]["amount"]).status_code == 200
    for p in xen[:3]:
        assert _xendit(c3, p["id"], p["amount"]["amount"]).status_code == 200
    rows = [HEADER]
    # matched: mid 0..6 and xen 0..1
    for i, p in enumerate(mid[:7] + xen[:2]):
        rows.append(f"{p['partner']},ref-{p['id'][-6:]},{p['id']},{p['amount']['amount']}.00,"
                    f"settlement,{_at(-60 if i % 2 else 60)}\n")
    # amount mismatch: mid 7
    rows.append(f"midtrans,r,{mid[7]['id']},999,settlement,{_at(-30)}\n")
    # missing in ledger: pending mid 10, unknown id, another partner's (xen 2 as midtrans)
    rows.append(f"midtrans,r,{mid[10]['id']},{mid[10]['amount']['amount']},settlement,{_at()}\n")
    rows.append(f"midtrans,r,pay_01JD0000000000000000000000,5000,settlement,{_at()}\n")
    rows.append(f"midtrans,r,{xen[2]['id']},{xen[2]['amount']['amount']},settlement,{_at()}\n")
    # bad rows: short, bad amount, unknown partner, duplicate, bad time
    rows.append("midtrans,r,oops\n")
    rows.append(f"midtrans,r,{mid[11]['id']},12.5,settlement,{_at()}\n")
    rows.append(f"paypal,r,{mid[11]['id']},1,settlement,{_at()}\n")
    rows.append(f"midtrans,r,{mid[0]['id']},{mid[0]['amount']['amount']},settlement,{_at()}\n")
    rows.append(f"midtrans,r,{mid[11]['id']},1,settlement,yesterday\n")
    r = _post(c3, admin, "".join(rows).encode(), n=1)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "running" and r.json()["id"].startswith("rec_")
    res, _ = _done(c3, admin, r.json()["id"])
    assert res["rows"] == len(rows) - 1
    assert res["matched"] == 9
    assert res["bad_rows"] == 5
    assert res["amount_mismatch"] == [{"payment_id": mid[7]["id"], "report_amount": 999,
                                       "ledger_amount": mid[7]["amount"]["amount"]}]
    missing = {m["payment_id"] for m in res["missing_in_ledger"]}
    assert missing == {mid[10]["id"], "pay_01JD0000000000000000000000", xen[2]["id"]}
    # settled, inside the report's period, not in it: mid 8, 9 (midtrans); xen 2 (xendit)
    assert {m["payment_id"] for m in res["missing_in_report"]} == \
        {mid[8]["id"], mid[9]["id"], xen[2]["id"]}
    assert res["missing_in_report_count"] == 3 and res["missing_in_ledger_count"] == 3


def test_bad_uploads_are_refused(c3, admin):
    u = _user(c3)
    _problem(_post(c3, u, HEADER.encode()), 403, "forbidden")
    _problem(_post(c3, admin, HEADER.encode(), ctype="application/json"), 415, "unsupported-media-type")
    _problem(_post(c3, admin, b"payment_id,amount\nx,1\n"), 422, "validation-failed")
    _problem(_post(c3, admin, b""), 422, "validation-failed")
    _problem(requests.get(_url(c3) + "/v1/admin/reconciliations/rec_nope", headers=admin["h"]),
             404, "not-found")
    _problem(requests.get(_url(c3) + "/v1/admin/reconciliations/rec_01JDNOSUCHRECON0000000000",
                          headers=admin["h"]), 404, "not-found")
    # an empty report (just the header) is done at once, with nothing found
    r = _post(c3, admin, HEADER.encode())
    res, _ = _done(c3, admin, r.json()["id"])
    assert res["rows"] == 0 and res["matched"] == 0


def test_a_retried_report_is_the_same_reconciliation(c3, admin):
    """With an Idempotency-Key a retry (through any node) gets the first
    reconciliation back and starts no second job; the key with another
    report is refused. Without a key each upload is a job of its own."""
    nobody = "pay_01JD" + "Z" * 22                 # well-formed, never made
    report = (HEADER + f"midtrans,m-1,{nobody},1000,settlement,{_at()}\n").encode()
    key = {"Idempotency-Key": "recon-retry-1"}
    post = lambda n, body, extra=key: requests.post(
        _url(c3, n) + "/v1/admin/reconciliations", data=body,
        headers=dict(admin["h"], **{"Content-Type": "text/csv"}, **extra))
    first = post(0, report)
    assert first.status_code == 201 and "Idempotency-Replayed" not in first.headers, first.text
    rid = first.json()["id"]
    for n in (0, 1, 2):
        again = post(n, report)
        assert again.status_code == 201, again.text
        assert again.headers["Idempotency-Replayed"] == "true"
        assert again.json() == {"id": rid, "status": "running"}
        assert again.headers["Location"] == f"/v1/admin/reconciliations/{rid}"
    _problem(post(1, report + f"xendit,x-1,pay_01JD{'Y' * 22},5,PAID,{_at()}\n".encode()),
             422, "idempotency-key-reused")
    res, _ = _done(c3, admin, rid)
    assert res["rows"] == 1 and res["missing_in_ledger_count"] == 1
    # the same report under no key (or another key) is a new job
    other = post(2, report, {})
    assert other.status_code == 201 and other.json()["id"] != rid
    _done(c3, admin, other.json()["id"])


def test_a_large_report_streams_with_progress(c3, admin):
    n = int(os.environ.get("PASAR_RECON_ROWS", "30000"))

    def body():
        yield HEADER.encode()
        for i in range(n):
            # ids that can exist but do not: each row is a real lookup
            yield f"xendit,inv{i},pay_01JD{i:022d},{1000 + i},PAID,{_at()}\n".encode()

    t0 = time.monotonic()
    r = requests.post(_url(c3) + "/v1/admin/reconciliations", data=body(),
                      headers=dict(admin["h"], **{"Content-Type": "text/csv"}))
    assert r.status_code == 201, r.text
    res, seen = _done(c3, admin, r.json()["id"], timeout=900)
    took = time.monotonic() - t0
    assert res["rows"] == n and res["missing_in_ledger_count"] == n and res["bad_rows"] == 0
    assert len(res["missing_in_ledger"]) == 500      # listed up to the limit, counted all
    progress = [rows for status, rows in seen if status == "running"]
    assert progress == sorted(progress)
    print(f"recon: {n} rows in {took:.1f} s ({n / took:.0f} rows/s); progress seen: {progress[:5]}...")


def test_a_node_stops_cleanly_during_a_reconciliation(tmp_path):
    """SIGTERM while a job runs: the job gives up, the node drains and exits 0."""
    c = Cluster(BIN / "pasar", tmp_path, 3, extra_toml='admin_emails = ["boss@example.com"]').start()
    try:
        boss = _user(c, email="boss@example.com")
        rows = HEADER + "".join(f"midtrans,r,pay_01JD{i:022d},1,settlement,\n" for i in range(30000))
        r = _post(c, boss, rows.encode())
        assert r.status_code == 201, r.text
        time.sleep(1.0)
        c.procs["n1"].send_signal(signal.SIGTERM)
        assert c.procs["n1"].wait(timeout=20) == 0, c.logs("n1")
        logs = c.logs("n1")
        assert "recon.abandoned" in logs or "recon.done" in logs, logs[-2000:]
    finally:
        c.stop()
