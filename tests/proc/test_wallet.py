"""Wallets and the ledger (API.md §Wallet and payments) through real HTTP on a
real 3-node cluster: admin credits, transfers with their Idempotency-Key
rules, insufficient funds, every validation error (and that it moves
nothing), entries paged across the archive pages, 1,000 concurrent copies
of one transfer, a random transfer storm, and the ledger summary summing to
zero with wallets that equal what was credited."""
import concurrent.futures
import random
import time
import uuid

import pytest
import requests

from cluster import Cluster
from conftest import BIN

PW = "correct horse battery"


@pytest.fixture(scope="module")
def c3(tmp_path_factory):
    c = Cluster(BIN / "pasar", tmp_path_factory.mktemp("wallet"), 3,
                extra_toml='admin_emails = ["boss@example.com"]').start()
    yield c
    codes = c.stop()
    assert set(codes.values()) <= {0}, codes


def _url(c, n=0):
    return c.url(c.ids[n % len(c.ids)])


def _user(c, n=0, email=None):
    email = email or f"w{uuid.uuid4().hex[:12]}@example.com"
    r = requests.post(_url(c, n) + "/v1/users", json={"email": email, "password": PW, "name": "W"})
    assert r.status_code in (201, 409), r.text
    t = requests.post(_url(c, n) + "/v1/sessions",
                      json={"email": email, "password": PW, "device_name": "t"}).json()
    return {"id": t["user_id"], "h": {"Authorization": f"Bearer {t['access_token']}"}}


@pytest.fixture(scope="module")
def admin(c3):
    return _user(c3, email="boss@example.com")


def _key():
    return uuid.uuid4().hex


def _money(n):
    return {"amount": n, "currency": "IDR"}


def _credit(c, admin, uid, amount, key=None, n=0, body=None):
    return requests.post(_url(c, n) + f"/v1/admin/wallets/{uid}/credits",
                         json=body if body is not None else {"amount": _money(amount),
                                                             "reason": "test"},
                         headers=dict(admin["h"], **{"Idempotency-Key": key or _key()}))


def _transfer(c, u, to, amount, key=None, n=0, body=None, timeout=10):
    h = dict(u["h"])
    if key is not False:
        h["Idempotency-Key"] = key or _key()
    return requests.post(_url(c, n) + "/v1/wallet/transfers",
                         json=body if body is not None else {"to_user_id": to,
                                                             "amount": _money(amount)},
                         headers=h, timeout=timeout)


def _wallet(c, u, n=0):
    r = requests.get(_url(c, n) + "/v1/wallet", headers=u["h"])
    assert r.status_code == 200, r.text
    return r.json()


def _balance(c, u, n=0):
    return _wallet(c, u, n)["balance"]["amount"]


def _eventually(read, want, timeout=15):
    """read() until it gives want: effects that follow through the outbox
    (a credit, a capture) land a moment after the answer that caused them."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if got == want or time.monotonic() > deadline:
            assert got == want, (got, want)
            return got
        time.sleep(0.05)


def _problem(r, status, slug):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/problem+json", r.headers
    assert r.json()["type"] == f"/problems/{slug}", r.text
    return r.json()


def _entries(c, u, limit=None, n=0):
    """Every entry, newest first, following the cursor."""
    got, cursor = [], None
    while True:
        p = {}
        if limit:
            p["limit"] = limit
        if cursor:
            p["cursor"] = cursor
        r = requests.get(_url(c, n) + "/v1/wallet/entries", params=p, headers=u["h"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= (limit or 20)
        got += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return got
        n += 1          # each page from another node


def _settled_summary(c, admin, timeout=10):
    """The summary once nothing is in transit (the outbox has delivered)."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        r = requests.get(_url(c) + "/v1/admin/ledger/summary", headers=admin["h"])
        assert r.status_code == 200, r.text
        s = r.json()
        if (s["in_transit_total"] == 0 and s["total"] == 0) or time.monotonic() > deadline:
            return s
        time.sleep(0.1)


def test_a_new_wallet_is_empty(c3):
    u = _user(c3)
    w = _wallet(c3, u, 1)
    assert w == {"user_id": u["id"], "balance": _money(0), "held": _money(0),
                 "available": _money(0)}
    r = requests.get(_url(c3, 2) + "/v1/wallet/entries", headers=u["h"])
    assert r.json() == {"items": [], "next_cursor": None}


def test_admin_credit_and_its_rules(c3, admin):
    u = _user(c3)
    key = _key()
    r = _credit(c3, admin, u["id"], 150000, key)
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["kind"] == "admin_credit" and e["amount"] == 150000 and e["balance_after"] == 150000
    assert e["id"].startswith("ent_") and e["ref"].startswith("trf_")
    # the same request again: the same entry, replayed, credited once
    again = _credit(c3, admin, u["id"], 150000, key, n=1)
    assert again.status_code == 201 and again.json() == e
    assert again.headers.get("Idempotency-Replayed") == "true"
    assert _balance(c3, u, 2) == 150000
    # the audit trail: one log line (not one per replay), with the reason;
    # nodes write their lines every 20 ms, so wait for it, then a little
    # longer for a second one that should not come
    deadline = time.monotonic() + 2
    while not any(e["ref"] in c3.logs(i) for i in c3.ids) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    audit = [line for i in c3.ids for line in c3.logs(i).splitlines()
             if '"ledger.admin_credit"' in line and e["ref"] in line]
    assert len(audit) == 1 and '"reason":"test"' in audit[0] and admin["id"] in audit[0]

    _problem(_credit(c3, admin, u["id"], 1, key), 422, "idempotency-key-reused")
    # not an admin; no key; no such user; bad amounts and fields
    _problem(_credit(c3, u, u["id"], 5), 403, "forbidden")
    r = requests.post(_url(c3) + f"/v1/admin/wallets/{u['id']}/credits",
                      json={"amount": _money(5), "reason": "x"}, headers=admin["h"])
    _problem(r, 400, "idempotency-key-missing")
    _problem(_credit(c3, admin, "usr_01JDNOSUCHUSER0000000000000", 5), 404, "not-found")
    _problem(_credit(c3, admin, "nonsense", 5), 404, "not-found")
    for body in ({"amount": _money(0), "reason": "x"}, {"amount": _money(-5), "reason": "x"},
                 {"amount": _money(10 ** 13 + 1), "reason": "x"},
                 {"amount": {"amount": 5, "currency": "USD"}, "reason": "x"},
                 {"amount": {"amount": 5.5, "currency": "IDR"}, "reason": "x"},
                 {"amount": _money(5)}, {"amount": _money(5), "reason": ""},
                 {"amount": _money(5), "reason": "x", "extra": 1}):
        _problem(_credit(c3, admin, u["id"], 0, body=body), 422, "validation-failed")
    assert _balance(c3, u) == 150000


def test_transfer_moves_money_once(c3, admin):
    a, b = _user(c3, 0), _user(c3, 1)
    assert _credit(c3, admin, a["id"], 100000).status_code == 201
    key = _key()
    r = _transfer(c3, a, b["id"], 30000, key, body={"to_user_id": b["id"], "amount": _money(30000),
                                                    "note": "bayar helm"})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["id"].startswith("trf_") and t["status"] == "completed"
    assert t["from_user_id"] == a["id"] and t["to_user_id"] == b["id"]
    assert t["amount"] == _money(30000) and t["note"] == "bayar helm"
    again = _transfer(c3, a, b["id"], 30000, key, n=2,
                      body={"to_user_id": b["id"], "amount": _money(30000), "note": "bayar helm"})
    assert again.status_code == 201 and again.json() == t
    assert again.headers.get("Idempotency-Replayed") == "true"
    _problem(_transfer(c3, a, b["id"], 30001, key), 422, "idempotency-key-reused")
    _settled_summary(c3, admin)
    assert _balance(c3, a, 1) == 70000
    assert _balance(c3, b, 2) == 30000
    ea, eb = _entries(c3, a), _entries(c3, b)
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ea] == \
        [("transfer_out", -30000, 70000), ("admin_credit", 100000, 100000)]
    assert [(e["kind"], e["amount"], e["balance_after"], e["ref"]) for e in eb] == \
        [("transfer_in", 30000, 30000, t["id"])]
    assert ea[0]["ref"] == t["id"]


def test_transfer_refusals_move_nothing(c3, admin):
    a, b = _user(c3, 1), _user(c3, 2)
    assert _credit(c3, admin, a["id"], 5000).status_code == 201
    p = _problem(_transfer(c3, a, b["id"], 5001), 422, "insufficient-funds")
    assert "available" in p["detail"]
    _problem(_transfer(c3, a, a["id"], 1), 422, "validation-failed")
    _problem(_transfer(c3, a, "usr_01JDNOSUCHUSER0000000000000", 1), 422, "validation-failed")
    _problem(_transfer(c3, a, "someone", 1), 422, "validation-failed")
    _problem(_transfer(c3, a, b["id"], 1, key=False), 400, "idempotency-key-missing")
    for body in ({"to_user_id": b["id"], "amount": _money(0)},
                 {"to_user_id": b["id"], "amount": _money(-1)},
                 {"to_user_id": b["id"], "amount": _money(10 ** 13 + 1)},
                 {"to_user_id": b["id"], "amount": _money(2 ** 63)},
                 {"to_user_id": b["id"], "amount": {"amount": 1, "currency": "usd"}},
                 {"to_user_id": b["id"], "amount": 100},
                 {"to_user_id": b["id"]}, {"amount": _money(1)},
                 {"to_user_id": b["id"], "amount": _money(1), "note": "x" * 201},
                 {"to_user_id": b["id"], "amount": _money(1), "memo": "?"}):
        _problem(_transfer(c3, a, b["id"], 0, body=body), 422, "validation-failed")
    h = dict(a["h"], **{"Idempotency-Key": _key(), "Content-Type": "application/json"})
    for raw in (b'{"to_user_id":', b'\xff\xfe{}', b'[' * 100 + b']' * 100):
        r = requests.post(_url(c3) + "/v1/wallet/transfers", data=raw, headers=h)
        _problem(r, 400, "malformed-request")
    r = requests.post(_url(c3) + "/v1/wallet/transfers", data=b" " * (65 * 1024), headers=h)
    _problem(r, 413, "payload-too-large")
    forged = {"Authorization": a["h"]["Authorization"][:-3] + "AAA", "Idempotency-Key": _key()}
    r = requests.post(_url(c3) + "/v1/wallet/transfers",
                      json={"to_user_id": b["id"], "amount": _money(1)}, headers=forged)
    _problem(r, 401, "unauthorized")
    _settled_summary(c3, admin)
    assert _balance(c3, a) == 5000 and _balance(c3, b) == 0
    assert len(_entries(c3, a)) == 1 and _entries(c3, b) == []
    # the whole balance may go; then nothing more
    assert _transfer(c3, a, b["id"], 5000).status_code == 201
    _problem(_transfer(c3, a, b["id"], 1), 422, "insufficient-funds")


def test_restricted_users_cannot_transfer(c3, admin):
    a, b = _user(c3, 0), _user(c3, 1)
    assert _credit(c3, admin, a["id"], 10).status_code == 201
    r = requests.post(_url(c3) + f"/v1/admin/users/{a['id']}/status",
                      json={"status": "restricted", "reason": "review"}, headers=admin["h"])
    assert r.status_code == 200, r.text
    _problem(_transfer(c3, a, b["id"], 5), 403, "forbidden")
    assert _balance(c3, a) == 10


def test_every_node_checks_payer_and_payee_alike(c3, admin):
    """The session, status and payee checks read the user's index entry on
    the node that holds the user, and the user's state on the others: the
    same answers from every node, at once after each change."""
    a, b = _user(c3, 0), _user(c3, 1)
    assert _credit(c3, admin, a["id"], 100).status_code == 201

    def status(u, st):
        r = requests.post(_url(c3) + f"/v1/admin/users/{u['id']}/status",
                          json={"status": st, "reason": "review"}, headers=admin["h"])
        assert r.status_code == 200, r.text

    for n in range(3):
        assert _transfer(c3, a, b["id"], 1, n=n).status_code == 201, n
    status(a, "restricted")
    for n in range(3):
        _problem(_transfer(c3, a, b["id"], 1, n=n), 403, "forbidden")
    status(a, "active")
    for n in range(3):
        assert _transfer(c3, a, b["id"], 1, n=n).status_code == 201, n
    status(b, "banned")
    for n in range(3):
        p = _problem(_transfer(c3, a, b["id"], 1, n=n), 422, "validation-failed")
        assert "to_user_id" in str(p), p
    assert _balance(c3, a) == 94


def test_a_thousand_copies_of_one_transfer_make_one(c3, admin):
    a, b = _user(c3, 0), _user(c3, 2)
    assert _credit(c3, admin, a["id"], 1000000).status_code == 201
    key = _key()
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        rs = list(pool.map(lambda i: _transfer(c3, a, b["id"], 777, key, n=i), range(1000)))
    codes = {r.status_code for r in rs}
    assert codes <= {201, 409}, codes
    ids = {r.json()["id"] for r in rs if r.status_code == 201}
    assert len(ids) == 1, ids
    for r in rs:
        if r.status_code == 409:
            assert r.json()["type"] == "/problems/idempotency-in-flight"
    _settled_summary(c3, admin)
    assert _balance(c3, a) == 1000000 - 777
    assert _balance(c3, b) == 777
    assert len(_entries(c3, b)) == 1


def test_entries_page_across_the_archive(c3, admin):
    u = _user(c3, 1)
    amounts = [random.randint(1, 10 ** 9) for _ in range(150)]
    for x in amounts:
        assert _credit(c3, admin, u["id"], x).status_code == 201
    _settled_summary(c3, admin)
    for limit in (7, 100, None):
        es = _entries(c3, u, limit=limit)
        assert [e["amount"] for e in es] == amounts[::-1], limit
        assert len({e["id"] for e in es}) == len(amounts)
        running = 0
        for e in reversed(es):
            running += e["amount"]
            assert e["balance_after"] == running
    assert _balance(c3, u) == sum(amounts)
    # the older entries came from page actors (150 entries: 9 pages of 16 stored, the last perhaps still on its way)
    pages = 0
    for i in c3.ids:
        for line in requests.get(c3.url(i) + "/metrics").text.splitlines():
            if line.startswith('pasar_actor_activations_total{type="ledger_page"}'):
                pages += int(line.split()[1])
    assert pages >= 8
    # a whole number of pages: once the last one is stored the wallet
    # itself holds no entry, and every one comes from the pages
    v = _user(c3, 2)
    whole = [random.randint(1, 10 ** 6) for _ in range(32)]
    for x in whole:
        assert _credit(c3, admin, v["id"], x).status_code == 201
    _settled_summary(c3, admin)
    time.sleep(1)
    for limit in (5, 16, 100):
        assert [e["amount"] for e in _entries(c3, v, limit=limit)] == whole[::-1], limit
    for bad in ("x", "e", "e1", "e-5", "e12abc"):
        r = requests.get(_url(c3) + "/v1/wallet/entries", params={"cursor": bad}, headers=u["h"])
        _problem(r, 400, "malformed-request")
    for bad in ("0", "101", "-1", "many"):
        r = requests.get(_url(c3) + "/v1/wallet/entries", params={"limit": bad}, headers=u["h"])
        _problem(r, 400, "malformed-request")
    r = requests.get(_url(c3) + "/v1/wallet/entries")
    _problem(r, 401, "unauthorized")


def test_transfer_storm_conserves_money(c3, admin):
    """Random transfers among 8 wallets from every node at once, with
    retries under the same key; then every wallet equals its entries, none
    is negative, the wallets hold what was credited and the ledger sums to
    zero."""
    rng = random.Random(7)
    users = [_user(c3, i) for i in range(8)]
    for u in users:
        assert _credit(c3, admin, u["id"], 50000).status_code == 201
    plan = [(rng.randrange(8), rng.randrange(7), rng.randint(1, 20000), _key())
            for _ in range(600)]

    def go(i):
        src, off, amount, key = plan[i]
        dst = (src + 1 + off) % 8
        r = _transfer(c3, users[src], users[dst]["id"], amount, key, n=i)
        if rng.random() < 0.3:      # a client that retries what it sent
            r2 = _transfer(c3, users[src], users[dst]["id"], amount, key, n=i + 1)
            if r.status_code == 201:
                assert r2.status_code == 201 and r2.json() == r.json()
        return r.status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(go, range(len(plan))))
    assert set(codes) <= {201, 422}, set(codes)
    assert codes.count(201) > 100
    s = _settled_summary(c3, admin)
    assert s["total"] == 0 and s["in_transit_total"] == 0, s
    assert s["wallets_balance_total"] == -s["system_accounts"]["adjustments"], s
    total = 0
    for u in users:
        b = _balance(c3, u)
        es = _entries(c3, u, limit=100)
        assert b >= 0
        assert b == sum(e["amount"] for e in es)
        assert es[0]["balance_after"] == b
        total += b
    assert total == 8 * 50000


def test_ledger_summary_is_for_admins(c3, admin):
    u = _user(c3)
    _problem(requests.get(_url(c3) + "/v1/admin/ledger/summary", headers=u["h"]), 403, "forbidden")
    _problem(requests.get(_url(c3) + "/v1/admin/ledger/summary"), 401, "unauthorized")
    s = _settled_summary(c3, admin)
    assert set(s["system_accounts"]) == {"adjustments", "fees", "cod", "partner:midtrans",
                                         "partner:xendit"}
    assert s["wallets"] >= 1 and s["wallets_held_total"] == 0


def test_wallet_answers_match_the_spec(c3, admin):
    from test_openapi import _check
    u, v = _user(c3, 0), _user(c3, 1)
    seen = set()

    def call(method, template, path, n=0, **kw):
        r = requests.request(method, _url(c3, n) + path, **kw)
        _check(method, template, r)
        seen.add((method, template, r.status_code))
        return r

    credits = f"/v1/admin/wallets/{u['id']}/credits"
    tmpl = "/v1/admin/wallets/{user_id}/credits"
    call("post", tmpl, credits, json={"amount": _money(900), "reason": "spec"},
         headers=dict(admin["h"], **{"Idempotency-Key": _key()}))
    call("post", tmpl, credits, json={"amount": _money(900), "reason": "spec"}, headers=admin["h"])
    call("post", tmpl, credits, json={"amount": _money(9)},
         headers=dict(admin["h"], **{"Idempotency-Key": _key()}))
    call("post", tmpl, credits, json={"amount": _money(9), "reason": "x"},
         headers=dict(u["h"], **{"Idempotency-Key": _key()}))
    call("post", tmpl, "/v1/admin/wallets/usr_nope/credits", json={"amount": _money(9), "reason": "x"},
         headers=dict(admin["h"], **{"Idempotency-Key": _key()}))
    call("get", "/v1/wallet", "/v1/wallet", headers=u["h"])
    call("get", "/v1/wallet", "/v1/wallet")
    t = "/v1/wallet/transfers"
    call("post", t, t, json={"to_user_id": v["id"], "amount": _money(100), "note": "spec"},
         headers=dict(u["h"], **{"Idempotency-Key": _key()}), n=1)
    call("post", t, t, json={"to_user_id": v["id"], "amount": _money(10 ** 6)},
         headers=dict(u["h"], **{"Idempotency-Key": _key()}), n=2)
    call("post", t, t, json={"to_user_id": v["id"], "amount": _money(1)}, headers=u["h"])
    call("post", t, t, json={"to_user_id": v["id"], "amount": _money(1)})
    call("get", "/v1/wallet/entries", "/v1/wallet/entries", params={"limit": 1}, headers=u["h"])
    call("get", "/v1/wallet/entries", "/v1/wallet/entries", params={"cursor": "?"}, headers=u["h"])
    call("get", "/v1/admin/ledger/summary", "/v1/admin/ledger/summary", headers=admin["h"])
    call("get", "/v1/admin/ledger/summary", "/v1/admin/ledger/summary", headers=u["h"])
    wants = [("post", tmpl, s) for s in (201, 400, 403, 404, 422)]
    wants += [("get", "/v1/wallet", s) for s in (200, 401)]
    wants += [("post", t, s) for s in (201, 400, 401, 422)]
    wants += [("get", "/v1/wallet/entries", s) for s in (200, 400)]
    wants += [("get", "/v1/admin/ledger/summary", s) for s in (200, 403)]
    for want in wants:
        assert want in seen, want
