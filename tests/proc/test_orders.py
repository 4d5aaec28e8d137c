"""Orders (API.md §Orders) through real HTTP on a real 3-node cluster: the
state machine for wallet escrow, partner payments and cash on delivery;
who may do each step (403 for the wrong party, 404 for strangers, 409 for
every transition not listed); the listing reserved, released and sold;
fees; refunds (and a seller who cannot cover one); auto-cancel of unpaid
orders and auto-complete of shipped ones by reminders; the buyer's and
seller's lists; and the ledger summing to zero after all of it."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from test_payments import _midtrans, money_cluster
from test_wallet import _eventually, _key, _money, _problem, _settled_summary, _url, _user

FEE_BPS = 250
PAY_TIMEOUT_S = 4
AUTO_COMPLETE_S = 3


@pytest.fixture(scope="module")
def c3(tmp_path_factory):
    yield from money_cluster(tmp_path_factory.mktemp("orders"), f"fee_bps = {FEE_BPS}\n",
                             f"[orders]\npayment_timeout_s = {PAY_TIMEOUT_S}\n"
                             f"auto_complete_s = {AUTO_COMPLETE_S}\n")


@pytest.fixture(scope="module")
def admin(c3):
    return _user(c3, email="boss@example.com")


def _listing(c, seller, price, n=0):
    r = requests.post(_url(c, n) + "/v1/listings", headers=seller["h"], json={
        "title": "Helm KYT bekas", "category": "hobbies", "condition": "used",
        "price": _money(price), "location": {"city": "Bandung", "province": "Jawa Barat"}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _fund(c, admin, u, amount):
    r = requests.post(_url(c) + f"/v1/admin/wallets/{u['id']}/credits",
                      json={"amount": _money(amount), "reason": "test"},
                      headers=dict(admin["h"], **{"Idempotency-Key": _key()}))
    assert r.status_code == 201, r.text


def _order(c, buyer, listing, method="wallet", key=None, n=0, **extra):
    h = dict(buyer["h"])
    if key is not False:
        h["Idempotency-Key"] = key or _key()
    return requests.post(_url(c, n) + "/v1/orders", headers=h,
                         json={"listing_id": listing, "payment_method": method, **extra})


def _act(c, u, oid, action, n=0, key=None):
    h = dict(u["h"])
    if action == "refund":
        h["Idempotency-Key"] = key or _key()
    return requests.post(_url(c, n) + f"/v1/orders/{oid}/{action}", headers=h)


def _get(c, u, oid, n=0):
    return requests.get(_url(c, n) + f"/v1/orders/{oid}", headers=u["h"])


def _wallet(c, u, n=0):
    w = requests.get(_url(c, n) + "/v1/wallet", headers=u["h"]).json()
    return w["balance"]["amount"], w["held"]["amount"]


def _listing_status(c, lid):
    return requests.get(_url(c) + f"/v1/listings/{lid}").json()["status"]


def _searched(c, params, who=None):
    r = requests.get(_url(c, 2) + "/v1/listings", params=params, headers=who["h"] if who else {})
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]]


def _editable(c, seller, lid):
    r = requests.patch(_url(c) + f"/v1/listings/{lid}", headers=seller["h"],
                       json={"title": "Helm KYT bekas mulus"})
    return r.status_code == 200


def _wait_status(c, u, oid, want, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        r = _get(c, u, oid)
        if r.status_code == 200 and r.json()["status"] == want:
            return r.json()
        assert time.monotonic() < deadline, (want, r.status_code, r.text)
        time.sleep(0.2)


def test_wallet_escrow_ship_confirm_refund(c3, admin):
    seller, buyer, stranger = _user(c3, 0), _user(c3, 1), _user(c3, 2)
    _fund(c3, admin, buyer, 1000000)
    lid = _listing(c3, seller, 500000)
    key = _key()
    r = _order(c3, buyer, lid, key=key)
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["id"].startswith("ord_") and o["status"] == "paid"
    assert o["listing_id"] == lid and o["buyer_id"] == buyer["id"] and o["seller_id"] == seller["id"]
    assert o["amount"] == _money(500000) and o["payment_method"] == "wallet"
    again = _order(c3, buyer, lid, key=key, n=2)
    assert again.status_code == 201 and again.json()["id"] == o["id"]
    assert again.headers.get("Idempotency-Replayed") == "true"
    _problem(_order(c3, buyer, _listing(c3, seller, 10), key=key), 422, "idempotency-key-reused")
    _eventually(lambda: _wallet(c3, buyer), (1000000, 500000))
    assert not _editable(c3, seller, lid)
    # a second buyer cannot have it
    other = _user(c3, 2)
    _fund(c3, admin, other, 600000)
    _problem(_order(c3, other, lid), 409, "conflict")
    _eventually(lambda: _wallet(c3, other), (600000, 0))
    # who may see and do what
    assert _get(c3, seller, o["id"], 1).json()["status"] == "paid"
    assert _get(c3, admin, o["id"], 2).status_code == 200
    _problem(_get(c3, stranger, o["id"]), 404, "not-found")
    _problem(_act(c3, stranger, o["id"], "ship"), 404, "not-found")
    _problem(_act(c3, buyer, o["id"], "ship"), 403, "forbidden")
    _problem(_act(c3, buyer, o["id"], "confirm"), 409, "conflict")
    _problem(_act(c3, seller, o["id"], "refund"), 409, "conflict")
    _problem(_act(c3, seller, o["id"], "cod-collected"), 409, "conflict")
    r = _act(c3, seller, o["id"], "ship", n=1)
    assert r.status_code == 200 and r.json()["status"] == "shipped", r.text
    _problem(_act(c3, seller, o["id"], "ship"), 409, "conflict")
    _problem(_act(c3, buyer, o["id"], "cancel"), 409, "conflict")
    _problem(_act(c3, seller, o["id"], "confirm"), 403, "forbidden")
    r = _act(c3, buyer, o["id"], "confirm", n=2)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    fee = 500000 * FEE_BPS // 10000
    _eventually(lambda: _wallet(c3, buyer), (500000, 0))
    _eventually(lambda: _wallet(c3, seller), (500000 - fee, 0))
    _eventually(lambda: _listing_status(c3, lid), "sold")
    s = _settled_summary(c3, admin)
    assert s["total"] == 0
    fees_before = s["system_accounts"]["fees"]
    # refund: the seller gives back their share, "fees" the fee
    _problem(_act(c3, buyer, o["id"], "refund"), 403, "forbidden")
    rkey = _key()
    r = _act(c3, seller, o["id"], "refund", key=rkey)
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    again = _act(c3, seller, o["id"], "refund", key=rkey, n=1)
    assert again.status_code == 200 and again.json()["status"] == "refunded"
    _problem(_act(c3, seller, o["id"], "refund"), 409, "conflict")
    _eventually(lambda: _wallet(c3, buyer), (1000000, 0))
    _eventually(lambda: _settled_summary(c3, admin)["system_accounts"]["fees"], fees_before - fee)
    assert _settled_summary(c3, admin)["total"] == 0
    _eventually(lambda: _wallet(c3, seller), (0, 0))


def test_refusals_place_no_order(c3, admin):
    seller, buyer = _user(c3, 0), _user(c3, 1)
    _fund(c3, admin, buyer, 1000)
    lid = _listing(c3, seller, 5000)
    _problem(_order(c3, buyer, lid), 422, "insufficient-funds")
    _eventually(lambda: _wallet(c3, buyer), (1000, 0))
    assert _editable(c3, seller, lid) and _listing_status(c3, lid) == "active"
    _problem(_order(c3, seller, lid), 422, "validation-failed")        # own listing
    _problem(_order(c3, buyer, "lst_01JDNOSUCHLISTING00000000"), 422, "validation-failed")
    _problem(_order(c3, buyer, "nonsense"), 422, "validation-failed")
    _problem(_order(c3, buyer, lid, method="barter"), 422, "validation-failed")
    _problem(_order(c3, buyer, lid, method="partner"), 422, "validation-failed")
    _problem(_order(c3, buyer, lid, method="wallet", partner="midtrans"), 422, "validation-failed")
    _problem(_order(c3, buyer, lid, key=False), 400, "idempotency-key-missing")
    r = requests.post(_url(c3) + "/v1/orders", headers=dict(buyer["h"], **{"Idempotency-Key": _key()}),
                      json={"listing_id": lid, "payment_method": "wallet", "qty": 2})
    _problem(r, 422, "validation-failed")
    lst = requests.get(_url(c3) + "/v1/orders", headers=buyer["h"]).json()
    assert lst == {"items": [], "next_cursor": None}
    # restricted buyers cannot order
    r = requests.post(_url(c3) + f"/v1/admin/users/{buyer['id']}/status",
                      json={"status": "restricted", "reason": "x"}, headers=admin["h"])
    assert r.status_code == 200
    _problem(_order(c3, buyer, lid), 403, "forbidden")


def test_cancel_releases_escrow_and_listing(c3, admin):
    seller, buyer = _user(c3, 2), _user(c3, 0)
    _fund(c3, admin, buyer, 300000)
    lid = _listing(c3, seller, 200000)
    o = _order(c3, buyer, lid).json()
    _eventually(lambda: _wallet(c3, buyer), (300000, 200000))
    # API.md: the listing becomes reserved, on every node, and leaves search
    for n in range(3):
        assert requests.get(_url(c3, n) + f"/v1/listings/{lid}").json()["status"] == "reserved"
    assert lid not in _searched(c3, {"seller_id": seller["id"]})
    assert lid in _searched(c3, {"seller_id": "me", "status": "reserved"}, seller)
    r = _act(c3, seller, o["id"], "cancel", n=1)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    _problem(_act(c3, buyer, o["id"], "cancel"), 409, "conflict")
    _problem(_act(c3, seller, o["id"], "ship"), 409, "conflict")
    _settled_summary(c3, admin)
    _eventually(lambda: _wallet(c3, buyer), (300000, 0))
    _eventually(lambda: _listing_status(c3, lid), "active")
    assert lid in _searched(c3, {"seller_id": seller["id"]})
    assert lid not in _searched(c3, {"seller_id": "me", "status": "reserved"}, seller)
    assert _editable(c3, seller, lid)
    # and it can be bought again
    o2 = _order(c3, buyer, lid).json()
    assert o2["status"] == "paid" and o2["id"] != o["id"]


def test_cash_on_delivery_records_the_fee_owed(c3, admin):
    seller, buyer = _user(c3, 1), _user(c3, 2)
    lid = _listing(c3, seller, 400000)
    before = _settled_summary(c3, admin)["system_accounts"]
    o = _order(c3, buyer, lid, method="cod").json()
    assert o["status"] == "awaiting_delivery" and "payment_id" not in o
    assert not _editable(c3, seller, lid)
    _problem(_act(c3, buyer, o["id"], "cod-collected"), 403, "forbidden")
    _problem(_act(c3, seller, o["id"], "ship"), 409, "conflict")
    r = _act(c3, seller, o["id"], "cod-collected")
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    fee = 400000 * FEE_BPS // 10000
    _eventually(lambda: (_settled_summary(c3, admin)["system_accounts"]["fees"],
                         _settled_summary(c3, admin)["system_accounts"]["cod"]),
                (before["fees"] + fee, before["cod"] - fee))
    assert _settled_summary(c3, admin)["total"] == 0
    _eventually(lambda: (_wallet(c3, buyer), _wallet(c3, seller)), ((0, 0), (0, 0)))
    _eventually(lambda: _listing_status(c3, lid), "sold")
    # a wallet order is not cash on delivery
    wb = _user(c3, 0)
    _fund(c3, admin, wb, 10)
    o2 = _order(c3, wb, _listing(c3, seller, 10)).json()
    _problem(_act(c3, seller, o2["id"], "cod-collected"), 409, "conflict")


def test_partner_payment_then_escrow(c3, admin):
    seller, buyer = _user(c3, 0), _user(c3, 1)
    lid = _listing(c3, seller, 250000)
    r = requests.post(_url(c3) + "/v1/orders", headers=dict(buyer["h"], **{"Idempotency-Key": _key()}),
                      json={"listing_id": lid, "payment_method": "partner", "partner": "midtrans",
                            "method": "va_bni"})
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["status"] == "awaiting_payment" and o["payment_id"].startswith("pay_")
    p = requests.get(_url(c3) + f"/v1/payments/{o['payment_id']}", headers=buyer["h"])
    assert p.status_code == 200 and p.json()["kind"] == "order" and p.json()["amount"] == _money(250000)
    assert p.json()["order_id"] == o["id"]
    _problem(_act(c3, seller, o["id"], "ship"), 409, "conflict")
    assert _midtrans(c3, o["payment_id"], 250000).status_code == 200
    _wait_status(c3, buyer, o["id"], "paid")
    _eventually(lambda: _wallet(c3, buyer), (250000, 250000))
    assert _act(c3, seller, o["id"], "ship").json()["status"] == "shipped"
    assert _act(c3, buyer, o["id"], "confirm").json()["status"] == "completed"
    _settled_summary(c3, admin)
    fee = 250000 * FEE_BPS // 10000
    _eventually(lambda: _wallet(c3, buyer), (0, 0))
    _eventually(lambda: _wallet(c3, seller), (250000 - fee, 0))


def test_partner_payment_readable_as_soon_as_the_order_is(c3):
    # The payment actor lives in another shard, often on another node: the
    # order is answered only once its payment exists, so the instructions
    # the buyer needs to pay are readable at once, on any node. Several
    # buyers at a time, so deliveries queue behind each other.
    seller = _user(c3, 2)
    lids = [_listing(c3, seller, 1000 + i) for i in range(24)]

    def buy(i):
        buyer = _user(c3, i % 3)
        r = requests.post(_url(c3, i % 3) + "/v1/orders",
                          headers=dict(buyer["h"], **{"Idempotency-Key": _key()}),
                          json={"listing_id": lids[i], "payment_method": "partner",
                                "partner": ("midtrans", "xendit")[i % 2], "method": "va_bni"})
        assert r.status_code == 201, r.text
        p = requests.get(_url(c3, (i + 1) % 3) + f"/v1/payments/{r.json()['payment_id']}",
                         headers=buyer["h"])
        assert p.status_code == 200, (i, p.text)
        assert p.json()["status"] == "pending" and p.json()["amount"] == _money(1000 + i)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(buy, range(len(lids))))


def test_unpaid_orders_cancel_and_shipped_ones_complete(c3, admin):
    seller, buyer = _user(c3, 2), _user(c3, 0)
    lid = _listing(c3, seller, 90000)
    o = requests.post(_url(c3) + "/v1/orders", headers=dict(buyer["h"], **{"Idempotency-Key": _key()}),
                      json={"listing_id": lid, "payment_method": "partner", "partner": "xendit",
                            "method": "qris"}).json()
    assert o["status"] == "awaiting_payment"
    _wait_status(c3, buyer, o["id"], "cancelled", timeout=PAY_TIMEOUT_S + 15)
    _eventually(lambda: _listing_status(c3, lid), "active")
    # auto-complete
    _fund(c3, admin, buyer, 90000)
    o2 = _order(c3, buyer, lid).json()
    assert _act(c3, seller, o2["id"], "ship").json()["status"] == "shipped"
    _wait_status(c3, buyer, o2["id"], "completed", timeout=AUTO_COMPLETE_S + 15)
    _settled_summary(c3, admin)
    _eventually(lambda: _wallet(c3, seller)[0], 90000 - 90000 * FEE_BPS // 10000)
    _eventually(lambda: _listing_status(c3, lid), "sold")


def test_a_refund_the_seller_cannot_cover(c3, admin):
    seller, buyer, friend = _user(c3, 0), _user(c3, 1), _user(c3, 2)
    _fund(c3, admin, buyer, 100000)
    lid = _listing(c3, seller, 100000)
    o = _order(c3, buyer, lid).json()
    _act(c3, seller, o["id"], "ship")
    _act(c3, buyer, o["id"], "confirm")
    bal = _eventually(lambda: _wallet(c3, seller)[0], 100000 - 100000 * FEE_BPS // 10000)
    r = requests.post(_url(c3) + "/v1/wallet/transfers",
                      headers=dict(seller["h"], **{"Idempotency-Key": _key()}),
                      json={"to_user_id": friend["id"], "amount": _money(bal)})
    assert r.status_code == 201
    _problem(_act(c3, seller, o["id"], "refund"), 422, "insufficient-funds")
    assert _get(c3, buyer, o["id"]).json()["status"] == "completed"
    # an admin can refund once the seller has the money again
    _fund(c3, admin, seller, bal)
    r = _act(c3, admin, o["id"], "refund")
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    _settled_summary(c3, admin)
    _eventually(lambda: _wallet(c3, buyer)[0], 100000)


def test_order_lists_by_role(c3, admin):
    seller, buyer = _user(c3, 1), _user(c3, 2)
    _fund(c3, admin, buyer, 10 ** 6)
    ids = [_order(c3, buyer, _listing(c3, seller, 1000 + i)).json()["id"] for i in range(5)]
    for role, who in (("buyer", buyer), ("seller", seller)):
        got, cursor = [], None
        while True:
            p = {"role": role, "limit": 2, **({"cursor": cursor} if cursor else {})}
            r = requests.get(_url(c3) + "/v1/orders", params=p, headers=who["h"])
            assert r.status_code == 200, r.text
            got += [x["id"] for x in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
        assert got == sorted(ids, reverse=True), role
    assert requests.get(_url(c3) + "/v1/orders", params={"role": "seller"},
                        headers=buyer["h"]).json()["items"] == []
    for bad in ({"role": "owner"}, {"limit": 0}, {"limit": 101}, {"cursor": "x"}):
        _problem(requests.get(_url(c3) + "/v1/orders", params=bad, headers=buyer["h"]),
                 400, "malformed-request")
    _problem(requests.get(_url(c3) + "/v1/orders"), 401, "unauthorized")
    s = _settled_summary(c3, admin)
    assert s["total"] == 0 and s["in_transit_total"] == 0


def test_payment_and_order_answers_match_the_spec(c3, admin):
    from test_openapi import _check
    from test_payments import _xendit
    seller, buyer = _user(c3, 0), _user(c3, 1)
    _fund(c3, admin, buyer, 10 ** 6)
    seen = set()

    def call(method, template, path, n=0, **kw):
        r = requests.request(method, _url(c3, n) + path, **kw)
        _check(method, template, r)
        seen.add((method, template, r.status_code))
        return r

    k = lambda h: dict(h, **{"Idempotency-Key": _key()})
    t = "/v1/wallet/topups"
    p = call("post", t, t, json={"amount": _money(5000), "partner": "midtrans", "method": "qris"},
             headers=k(buyer["h"])).json()
    call("post", t, t, json={"amount": _money(5000), "partner": "midtrans"}, headers=k(buyer["h"]))
    call("post", t, t, json={"amount": _money(5000), "partner": "midtrans", "method": "qris"},
         headers=buyer["h"])
    call("get", "/v1/payments/{id}", f"/v1/payments/{p['id']}", headers=buyer["h"])
    call("get", "/v1/payments/{id}", f"/v1/payments/{p['id']}", headers=seller["h"])
    wm = "/v1/webhooks/midtrans"
    r = _midtrans(c3, p["id"], 5000)
    _check("post", wm, r)
    seen.add(("post", wm, r.status_code))
    r = _midtrans(c3, p["id"], 5000, key="forged")
    _check("post", wm, r)
    seen.add(("post", wm, r.status_code))
    wx = "/v1/webhooks/xendit"
    for r in (_xendit(c3, p["id"], 5000, token="bad"), _xendit(c3, p["id"], 5000)):
        _check("post", wx, r)
        seen.add(("post", wx, r.status_code))
    lid = _listing(c3, seller, 20000)
    o = call("post", "/v1/orders", "/v1/orders", json={"listing_id": lid, "payment_method": "wallet"},
             headers=k(buyer["h"])).json()
    call("post", "/v1/orders", "/v1/orders", json={"listing_id": lid, "payment_method": "wallet"},
         headers=k(buyer["h"]))
    call("post", "/v1/orders", "/v1/orders", json={"listing_id": lid}, headers=k(buyer["h"]))
    call("get", "/v1/orders", "/v1/orders", params={"role": "seller"}, headers=seller["h"])
    call("get", "/v1/orders", "/v1/orders", params={"role": "x"}, headers=seller["h"])
    one = f"/v1/orders/{o['id']}"
    call("get", "/v1/orders/{id}", one, headers=buyer["h"])
    call("get", "/v1/orders/{id}", "/v1/orders/ord_nope", headers=buyer["h"])
    call("post", "/v1/orders/{id}/ship", one + "/ship", headers=buyer["h"])
    call("post", "/v1/orders/{id}/ship", one + "/ship", headers=seller["h"])
    call("post", "/v1/orders/{id}/cancel", one + "/cancel", headers=buyer["h"])
    call("post", "/v1/orders/{id}/cod-collected", one + "/cod-collected", headers=seller["h"])
    call("post", "/v1/orders/{id}/confirm", one + "/confirm", headers=buyer["h"])
    call("post", "/v1/orders/{id}/refund", one + "/refund", headers=k(seller["h"]))
    call("post", "/v1/orders/{id}/refund", one + "/refund", headers=k(seller["h"]))
    rec = "/v1/admin/reconciliations"
    r = call("post", rec, rec, data=b"partner,partner_ref,payment_id,amount,status,settled_at\n",
             headers=dict(admin["h"], **{"Content-Type": "text/csv"}))
    call("post", rec, rec, data=b"x\n", headers=dict(admin["h"], **{"Content-Type": "text/csv"}))
    time.sleep(0.5)
    call("get", "/v1/admin/reconciliations/{id}", f"{rec}/{r.json()['id']}", headers=admin["h"])
    call("get", "/v1/admin/reconciliations/{id}", f"{rec}/rec_nope", headers=admin["h"])
    wants = [("post", t, s) for s in (201, 400, 422)]
    wants += [("get", "/v1/payments/{id}", s) for s in (200, 404)]
    wants += [("post", wm, s) for s in (200, 401)] + [("post", wx, s) for s in (401, 422)]
    wants += [("post", "/v1/orders", s) for s in (201, 409, 422)]
    wants += [("get", "/v1/orders", s) for s in (200, 400)]
    wants += [("get", "/v1/orders/{id}", s) for s in (200, 404)]
    wants += [("post", "/v1/orders/{id}/ship", s) for s in (200, 403)]
    wants += [("post", "/v1/orders/{id}/cancel", 409), ("post", "/v1/orders/{id}/confirm", 200),
              ("post", "/v1/orders/{id}/cod-collected", 409),
              ("post", "/v1/orders/{id}/refund", 200), ("post", "/v1/orders/{id}/refund", 409)]
    wants += [("post", rec, 201), ("post", rec, 422), ("get", "/v1/admin/reconciliations/{id}", 200),
              ("get", "/v1/admin/reconciliations/{id}", 404)]
    for want in wants:
        assert want in seen, want


def test_a_free_listing(c3, admin):
    seller, buyer = _user(c3, 0), _user(c3, 1)
    lid = _listing(c3, seller, 0)
    r = requests.post(_url(c3) + "/v1/orders", headers=dict(buyer["h"], **{"Idempotency-Key": _key()}),
                      json={"listing_id": lid, "payment_method": "partner", "partner": "xendit",
                            "method": "qris"})
    _problem(r, 422, "validation-failed")
    _eventually(lambda: _listing_status(c3, lid), "active")
    assert _editable(c3, seller, lid)
    o = _order(c3, buyer, lid).json()
    assert o["status"] == "paid" and o["amount"] == _money(0)
    assert _act(c3, seller, o["id"], "ship").json()["status"] == "shipped"
    assert _act(c3, buyer, o["id"], "confirm").json()["status"] == "completed"
    r = _act(c3, seller, o["id"], "refund")
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    _eventually(lambda: _listing_status(c3, lid), "sold")
    assert _wallet(c3, buyer) == (0, 0) and _wallet(c3, seller) == (0, 0)
