"""Top-ups and partner callbacks (API.md §Wallet and payments) through real
HTTP on a real 3-node cluster: payments with plausible instructions,
Idempotency-Key rules, who may read a payment, Midtrans signatures and
Xendit tokens (bad ones change nothing), settlement crediting the wallet
exactly once, duplicates and out-of-order callbacks, amount mismatches
flagged, expiry by reminder, and a shuffled, duplicated stream of valid
callbacks giving the same ledger every time."""
import hashlib
import random
import time
import uuid

import pytest
import requests

from cluster import Cluster
from conftest import BIN
from test_wallet import _entries, _eventually, _key, _money, _problem, _settled_summary, _url, _user

SERVER_KEY = "SB-Mid-server-pasar-test"
XENDIT_TOKEN = "xnd-callback-pasar-test"
EXPIRY_S = 6


def money_cluster(tmp, payments="", more=""):
    """3 nodes with an admin, both partners' secrets, [payments] keys and
    more sections; yields the started cluster and checks it stops cleanly."""
    c = Cluster(BIN / "pasar", tmp, 3,
                extra_toml=f'admin_emails = ["boss@example.com"]\n[payments]\n{payments}'
                           f'[payments.midtrans]\nserver_key = "{SERVER_KEY}"\n'
                           f'[payments.xendit]\ncallback_token = "{XENDIT_TOKEN}"\n{more}').start()
    yield c
    codes = c.stop()
    assert set(codes.values()) <= {0}, codes


@pytest.fixture(scope="module")
def c3(tmp_path_factory):
    yield from money_cluster(tmp_path_factory.mktemp("payments"), f"expiry_s = {EXPIRY_S}\n")


@pytest.fixture(scope="module")
def admin(c3):
    return _user(c3, email="boss@example.com")


def _topup(c, u, amount, partner="midtrans", method="va_bca", key=None, n=0, body=None):
    h = dict(u["h"])
    if key is not False:
        h["Idempotency-Key"] = key or _key()
    return requests.post(_url(c, n) + "/v1/wallet/topups", headers=h,
                         json=body if body is not None else
                         {"amount": _money(amount), "partner": partner, "method": method})


def _midtrans(c, pay_id, amount, status="settlement", n=0, key=SERVER_KEY, code=None, extra=None,
              gross=None):
    gross = gross or f"{amount}.00"
    code = code or ("200" if status in ("settlement", "capture") else
                    "201" if status == "pending" else "202")
    sig = hashlib.sha512((pay_id + code + gross + key).encode()).hexdigest()
    body = {"order_id": pay_id, "status_code": code, "gross_amount": gross,
            "transaction_status": status, "signature_key": sig,
            "transaction_id": str(uuid.uuid4()), "payment_type": "bank_transfer",
            "transaction_time": "2026-12-01 10:00:00", "fraud_status": "accept",
            "currency": "IDR", **(extra or {})}
    return requests.post(_url(c, n) + "/v1/webhooks/midtrans", json=body)


def _xendit(c, pay_id, amount, status="PAID", n=0, token=XENDIT_TOKEN):
    h = {"x-callback-token": token} if token is not None else {}
    return requests.post(_url(c, n) + "/v1/webhooks/xendit", headers=h,
                         json={"id": "inv_" + uuid.uuid4().hex, "external_id": pay_id,
                               "status": status, "amount": amount, "merchant_name": "pasar",
                               "payment_method": "BANK_TRANSFER"})


def _payment(c, u, pid, n=0):
    return requests.get(_url(c, n) + f"/v1/payments/{pid}", headers=u["h"])


def _balance(c, u, n=0):
    return requests.get(_url(c, n) + "/v1/wallet", headers=u["h"]).json()["balance"]["amount"]


def test_topup_gives_instructions_and_follows_the_key_rules(c3):
    u = _user(c3)
    key = _key()
    r = _topup(c3, u, 150000, key=key)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["id"].startswith("pay_") and p["kind"] == "topup" and p["status"] == "pending"
    assert p["amount"] == _money(150000) and p["partner"] == "midtrans" and p["method"] == "va_bca"
    assert p["instructions"]["va_number"].startswith("70012")
    assert p["instructions"]["va_number"].isdigit() and len(p["instructions"]["va_number"]) == 16
    assert p["instructions"]["expires_at"] > p["created_at"]
    again = _topup(c3, u, 150000, key=key, n=1)
    assert again.status_code == 201 and again.json() == p
    assert again.headers.get("Idempotency-Replayed") == "true"
    _problem(_topup(c3, u, 150001, key=key), 422, "idempotency-key-reused")
    _problem(_topup(c3, u, 1, key=False), 400, "idempotency-key-missing")
    for body in ({"amount": _money(0), "partner": "midtrans", "method": "qris"},
                 {"amount": _money(-1), "partner": "midtrans", "method": "qris"},
                 {"amount": _money(10 ** 13 + 1), "partner": "midtrans", "method": "qris"},
                 {"amount": _money(10), "partner": "paypal", "method": "qris"},
                 {"amount": _money(10), "partner": "xendit", "method": "cash"},
                 {"amount": _money(10), "partner": "xendit"},
                 {"amount": _money(10), "partner": "xendit", "method": "qris", "tip": 1}):
        _problem(_topup(c3, u, 0, body=body), 422, "validation-failed")
    qr = _topup(c3, u, 25000, partner="xendit", method="qris").json()
    assert qr["instructions"]["qr_string"].startswith("000201") and "25000" in qr["instructions"]["qr_string"]
    ew = _topup(c3, u, 25000, partner="xendit", method="ewallet_dana").json()
    assert ew["instructions"]["redirect_url"].startswith("https://checkout.xendit.co/web/pay_")
    assert _balance(c3, u) == 0


def test_who_may_read_a_payment(c3, admin):
    u, other = _user(c3), _user(c3)
    p = _topup(c3, u, 50000).json()
    assert _payment(c3, u, p["id"], 1).json() == p
    assert _payment(c3, admin, p["id"], 2).json() == p
    _problem(_payment(c3, other, p["id"]), 404, "not-found")
    _problem(_payment(c3, u, "pay_nope"), 404, "not-found")
    _problem(requests.get(_url(c3) + f"/v1/payments/{p['id']}"), 401, "unauthorized")


def test_midtrans_settlement_credits_once(c3, admin):
    u = _user(c3)
    p = _topup(c3, u, 150000).json()
    before = _settled_summary(c3, admin)["system_accounts"]["partner:midtrans"]
    # forged: wrong key, tampered amount, a signed "pending" replayed as a settlement
    _problem(_midtrans(c3, p["id"], 150000, key="guess"), 401, "unauthorized")
    _problem(_midtrans(c3, p["id"], 150000, status="settlement", code="201"), 401, "unauthorized")
    assert _payment(c3, u, p["id"]).json()["status"] == "pending"
    r = _midtrans(c3, p["id"], 150000)
    forged = r.request.body.replace(b'"150000.00"', b'"990000.00"')
    r2 = requests.post(_url(c3) + "/v1/webhooks/midtrans", data=forged,
                       headers={"Content-Type": "application/json"})
    _problem(r2, 401, "unauthorized")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "settled"
    for n in range(3):      # duplicates, and a late "pending" and "expire"
        assert _midtrans(c3, p["id"], 150000, n=n).status_code == 200
    assert _midtrans(c3, p["id"], 150000, status="pending", code="201").json()["status"] == "settled"
    assert _midtrans(c3, p["id"], 150000, status="expire").json()["status"] == "settled"
    s = _settled_summary(c3, admin)
    _eventually(lambda: _balance(c3, u), 150000)
    assert [(e["kind"], e["amount"], e["ref"]) for e in _entries(c3, u)] == [("topup", 150000, p["id"])]
    assert s["system_accounts"]["partner:midtrans"] == before - 150000
    assert _payment(c3, u, p["id"]).json()["status"] == "settled"
    # unknown payments, malformed bodies, missing fields
    _problem(_midtrans(c3, "pay_01JDNOSUCHPAYMENT000000000", 5), 404, "not-found")
    _problem(_midtrans(c3, "nonsense", 5), 404, "not-found")
    r = requests.post(_url(c3) + "/v1/webhooks/midtrans", data=b'{"order_id":',
                      headers={"Content-Type": "application/json"})
    _problem(r, 400, "malformed-request")
    r = requests.post(_url(c3) + "/v1/webhooks/midtrans", json={"order_id": p["id"]})
    _problem(r, 422, "validation-failed")


def test_amount_mismatch_is_refused_and_flagged(c3, admin):
    u = _user(c3)
    p = _topup(c3, u, 80000).json()
    _problem(_midtrans(c3, p["id"], 8000), 422, "validation-failed")
    _problem(_midtrans(c3, p["id"], 80000, gross="80000.50"), 422, "validation-failed")
    assert _payment(c3, u, p["id"]).json()["status"] == "pending"
    flags = requests.get(_url(c3) + "/v1/admin/flags", headers=admin["h"]).json()["items"]
    assert any(f["kind"] == "payment_amount_mismatch" and f["user_id"] == u["id"] for f in flags)
    assert _balance(c3, u) == 0
    # the right amount still settles it
    assert _midtrans(c3, p["id"], 80000).json()["status"] == "settled"
    _settled_summary(c3, admin)
    _eventually(lambda: _balance(c3, u), 80000)
    # another partner's callback for this payment
    _problem(_xendit(c3, p["id"], 80000), 422, "validation-failed")


def test_xendit_token_and_settlement(c3, admin):
    u = _user(c3)
    p = _topup(c3, u, 99000, partner="xendit", method="va_bni").json()
    assert p["instructions"]["va_number"].startswith("8808")
    _problem(_xendit(c3, p["id"], 99000, token="wrong"), 401, "unauthorized")
    _problem(_xendit(c3, p["id"], 99000, token=None), 401, "unauthorized")
    _problem(_xendit(c3, p["id"], 99000, token=XENDIT_TOKEN[:-1]), 401, "unauthorized")
    assert _payment(c3, u, p["id"]).json()["status"] == "pending"
    r = _xendit(c3, p["id"], 99000.0, n=1)
    assert r.status_code == 200 and r.json()["status"] == "settled", r.text
    assert _xendit(c3, p["id"], 99000, status="EXPIRED", n=2).json()["status"] == "settled"
    _settled_summary(c3, admin)
    _eventually(lambda: _balance(c3, u), 99000)


def test_unpaid_payments_expire(c3, admin):
    u = _user(c3)
    p = _topup(c3, u, 12000).json()
    failed = _topup(c3, u, 13000, partner="xendit", method="ewallet_ovo").json()
    assert _xendit(c3, failed["id"], 13000, status="FAILED").json()["status"] == "failed"
    deadline = time.monotonic() + EXPIRY_S + 10
    while _payment(c3, u, p["id"]).json()["status"] == "pending":
        assert time.monotonic() < deadline, "not expired"
        time.sleep(0.3)
    assert _payment(c3, u, p["id"]).json()["status"] == "expired"
    # a settlement after expiry changes nothing
    assert _midtrans(c3, p["id"], 12000).json()["status"] == "expired"
    assert _xendit(c3, failed["id"], 13000).json()["status"] == "failed"
    _settled_summary(c3, admin)
    assert _balance(c3, u) == 0


def test_a_shuffled_duplicated_stream_gives_the_same_ledger(c3, admin):
    rng = random.Random(11)
    u = _user(c3)
    pays = []
    for i in range(12):
        partner = "midtrans" if i % 2 else "xendit"
        pays.append((_topup(c3, u, 1000 * (i + 1), partner=partner, method="qris").json(),
                     ["settled", "expired", "failed"][i % 3]))
    events = []
    for p, end in pays:
        a, pid = p["amount"]["amount"], p["id"]
        if p["partner"] == "midtrans":
            st = {"settled": "settlement", "expired": "expire", "failed": "deny"}[end]
            events += [lambda pid=pid, a=a, st=st, n=n: _midtrans(c3, pid, a, st, n=n) for n in range(3)]
            events.append(lambda pid=pid, a=a: _midtrans(c3, pid, a, "pending", code="201"))
        else:
            st = {"settled": "PAID", "expired": "EXPIRED", "failed": "FAILED"}[end]
            events += [lambda pid=pid, a=a, st=st, n=n: _xendit(c3, pid, a, st, n=n) for n in range(3)]
    rng.shuffle(events)
    for ev in events:
        assert ev().status_code == 200
    _settled_summary(c3, admin)
    want = sum(p["amount"]["amount"] for p, end in pays if end == "settled")
    _eventually(lambda: _balance(c3, u), want)
    assert sorted(e["ref"] for e in _entries(c3, u)) == sorted(p["id"] for p, end in pays
                                                             if end == "settled")
    for p, end in pays:
        assert _payment(c3, u, p["id"]).json()["status"] == end
