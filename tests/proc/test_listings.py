"""Listings (API.md §Listings) through real HTTP against a real node: the
lifecycle, who may do what, every validation error (and that it changes
nothing), idempotent creates, If-Match, expiry by a short configured
lifetime, and the seller's active_listings."""
import datetime
import json
import re
import time
import uuid

import pytest
import requests

from conftest import BIN
from node import Node

PW = "correct horse battery"
GOOD = {
    "title": "Honda Beat 2019, mulus",
    "description": "Pajak hidup, surat lengkap. Ditawar boleh.",
    "category": "motorcycles",
    "price": {"amount": 12500000, "currency": "IDR"},
    "location": {"city": "Bandung", "province": "Jawa Barat"},
    "images": ["https://img.example.com/a.jpg", "http://img.example.com/b.png"],
    "condition": "used",
}


@pytest.fixture(scope="module")
def lnode(tmp_path_factory):
    n = Node(BIN / "pasar", tmp_path_factory.mktemp("listings"),
             extra_toml='admin_emails = ["boss@example.com"]').start()
    yield n
    assert n.stop() == 0, n.logs()


@pytest.fixture(scope="module")
def admin(lnode):
    return _user(lnode, email="boss@example.com")


def _user(node, name=None, email=None):
    email = email or f"{uuid.uuid4().hex[:12]}@example.com"
    r = requests.post(node.url + "/v1/users", json={"email": email, "password": PW, "name": name or "S"})
    assert r.status_code == 201, r.text
    t = requests.post(node.url + "/v1/sessions",
                      json={"email": email, "password": PW, "device_name": "t"}).json()
    return {"id": r.json()["id"], "h": {"Authorization": f"Bearer {t['access_token']}"}}


def _create(node, u, body=None, headers=None):
    return requests.post(node.url + "/v1/listings", json=GOOD if body is None else body,
                         headers=dict(u["h"], **(headers or {})))


def _problem(r, status, slug):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/problem+json", r.headers
    assert r.json()["type"] == f"/problems/{slug}", r.text
    return r.json()


def _active(node, u):
    r = requests.get(node.url + f"/v1/users/{u['id']}")
    assert r.status_code == 200, r.text
    return r.json()["active_listings"]


def _wait_active(node, u, want, seconds=5):
    """active_listings follows the listing through the outbox: soon, not at once."""
    deadline = time.monotonic() + seconds
    while _active(node, u) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _active(node, u) == want


def _ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_create_returns_every_field_and_reads_back(lnode):
    u = _user(lnode)
    r = _create(lnode, u)
    assert r.status_code == 201, r.text
    lst = r.json()
    assert set(lst) == set(GOOD) | {"id", "seller_id", "status", "version", "created_at",
                                    "updated_at", "expires_at"}
    assert re.fullmatch(r"lst_[0-9A-HJKMNP-TV-Z]{26}", lst["id"])
    for k, v in GOOD.items():
        assert lst[k] == v, k
    assert lst["seller_id"] == u["id"] and lst["status"] == "active" and lst["version"] == 1
    life = _ts(lst["expires_at"]) - _ts(lst["created_at"])
    assert life == datetime.timedelta(days=30)
    assert r.headers["Location"] == f"/v1/listings/{lst['id']}"
    assert r.headers["ETag"] == '"1"'
    g = requests.get(lnode.url + f"/v1/listings/{lst['id']}")       # public: no token
    assert g.status_code == 200 and g.json() == lst and g.headers["ETag"] == '"1"'
    _wait_active(lnode, u, 1)


def test_optional_fields_default(lnode):
    u = _user(lnode)
    body = {k: v for k, v in GOOD.items() if k not in ("description", "images")}
    r = _create(lnode, u, body)
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "" and r.json()["images"] == []


def test_idempotent_create_returns_the_same_listing(lnode):
    u = _user(lnode)
    key = {"Idempotency-Key": "create-1"}
    a = _create(lnode, u, headers=key)
    b = _create(lnode, u, headers=key)
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert a.json()["id"] == b.json()["id"]
    assert b.headers.get("Idempotency-Replayed") == "true"
    _problem(_create(lnode, u, dict(GOOD, title="Another title"), headers=key),
             422, "idempotency-key-reused")
    # Another user's same key is their own: a new listing.
    v = _user(lnode)
    c = _create(lnode, v, headers=key)
    assert c.status_code == 201 and c.json()["id"] != a.json()["id"]
    # Without a key, two creates are two listings.
    assert _create(lnode, u).json()["id"] != _create(lnode, u).json()["id"]
    _wait_active(lnode, u, 3)


@pytest.mark.parametrize("patch, field", [
    ({"title": "ab"}, "title"),
    ({"title": "x" * 121}, "title"),
    ({"description": "d" * 5001}, "description"),
    ({"category": "weapons"}, "category"),
    ({"condition": "broken"}, "condition"),
    ({"price": {"amount": -1, "currency": "IDR"}}, "price.amount"),
    ({"price": {"amount": 10 ** 13 + 1, "currency": "IDR"}}, "price.amount"),
    ({"price": {"amount": 100.5, "currency": "IDR"}}, "price.amount"),
    ({"price": {"amount": 100, "currency": "USD"}}, "price.currency"),
    ({"price": {"amount": 100}}, "price.currency"),
    ({"price": {"amount": 100, "currency": "IDR", "tax": 1}}, "price.tax"),
    ({"price": 100}, "price"),
    ({"location": {"city": "Bandung"}}, "location.province"),
    ({"images": ["https://x.example/1.jpg"] * 21}, "images"),
    ({"images": ["ftp://x.example/1.jpg"]}, "images[0]"),
    ({"images": ["javascript:alert(1)"]}, "images[0]"),
    ({"images": ["https://x.example/a b.jpg"]}, "images[0]"),
    ({"images": ["https:///nohost"]}, "images[0]"),
    ({"images": [1]}, "images[0]"),
    ({"seller_id": "usr_0000000000000000000000000A"}, "seller_id"),
    ({"status": "sold"}, "status"),
    ({"version": 7}, "version"),
])
def test_validation_errors_name_the_field_and_create_nothing(lnode, patch, field):
    u = _user(lnode)
    body = _problem(_create(lnode, u, dict(GOOD, **patch)), 422, "validation-failed")
    assert [e["field"] for e in body["errors"]] == [field], body
    assert _active(lnode, u) == 0


def test_missing_fields_and_bad_bodies(lnode):
    u = _user(lnode)
    for k in ("title", "category", "price", "location", "condition"):
        body = _problem(_create(lnode, u, {x: v for x, v in GOOD.items() if x != k}),
                        422, "validation-failed")
        assert [e["field"] for e in body["errors"]] == [k]
    h = dict(u["h"], **{"Content-Type": "application/json"})
    _problem(requests.post(lnode.url + "/v1/listings", data="{nope", headers=h), 400,
             "malformed-request")
    _problem(requests.post(lnode.url + "/v1/listings", data="[" * 100 + "]" * 100, headers=h),
             400, "malformed-request")
    _problem(requests.post(lnode.url + "/v1/listings", data=b'{"title": "\xff\xfe"}', headers=h),
             400, "malformed-request")
    _problem(requests.post(lnode.url + "/v1/listings", data="x" * 70000, headers=h), 413,
             "payload-too-large")
    _problem(requests.post(lnode.url + "/v1/listings", json=GOOD), 401, "unauthorized")
    _problem(requests.post(lnode.url + "/v1/listings", json=GOOD,
                           headers={"Authorization": "Bearer forged.token.here"}),
             401, "unauthorized")
    assert _active(lnode, u) == 0


def test_unknown_and_malformed_ids_are_404(lnode):
    for bad in ["nope", "lst_", "lst_" + "0" * 25, "lst_" + "I" * 26, "usr_" + "0" * 26,
                "lst_" + "0" * 26]:
        _problem(requests.get(lnode.url + f"/v1/listings/{bad}"), 404, "not-found")


def test_patch_by_the_seller_with_if_match(lnode):
    u = _user(lnode)
    lst = _create(lnode, u).json()
    url = lnode.url + f"/v1/listings/{lst['id']}"
    r = requests.patch(url, json={"price": {"amount": 11000000, "currency": "IDR"},
                                  "title": "Honda Beat 2019, nego"}, headers=u["h"])
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["price"]["amount"] == 11000000
    assert r.json()["title"] == "Honda Beat 2019, nego"
    assert r.json()["description"] == GOOD["description"]       # untouched
    assert r.json()["created_at"] == lst["created_at"]
    assert r.json()["updated_at"] >= lst["updated_at"] and r.headers["ETag"] == '"2"'
    # A stale If-Match is refused and changes nothing.
    _problem(requests.patch(url, json={"title": "Stale write"},
                            headers=dict(u["h"], **{"If-Match": '"1"'})), 412, "version-mismatch")
    _problem(requests.patch(url, json={"title": "Stale write"},
                            headers=dict(u["h"], **{"If-Match": "garbage"})), 412,
             "version-mismatch")
    assert requests.get(url).json()["title"] == "Honda Beat 2019, nego"
    r = requests.patch(url, json={"title": "Fresh write"}, headers=dict(u["h"], **{"If-Match": '"2"'}))
    assert r.status_code == 200 and r.json()["version"] == 3, r.text
    r = requests.patch(url, json={"condition": "new"}, headers=dict(u["h"], **{"If-Match": "*"}))
    assert r.status_code == 200 and r.json()["version"] == 4, r.text
    # Bad bodies: nothing changes.
    _problem(requests.patch(url, json={"status": "expired"}, headers=u["h"]), 422,
             "validation-failed")
    _problem(requests.patch(url, json={"seller_id": "usr_X"}, headers=u["h"]), 422,
             "validation-failed")
    _problem(requests.patch(url, json={"images": ["data:image/png;base64,AAAA"]}, headers=u["h"]),
             422, "validation-failed")
    assert requests.get(url).json()["version"] == 4


def test_patch_idempotency_key_replays(lnode):
    u = _user(lnode)
    lst = _create(lnode, u).json()
    url = lnode.url + f"/v1/listings/{lst['id']}"
    h = dict(u["h"], **{"Idempotency-Key": "p-1"})
    a = requests.patch(url, json={"title": "Once only"}, headers=h)
    b = requests.patch(url, json={"title": "Once only"}, headers=h)
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json() and b.headers["Idempotency-Replayed"] == "true"
    assert requests.get(url).json()["version"] == 2


def test_only_the_seller_writes(lnode):
    seller, other = _user(lnode), _user(lnode)
    lst = _create(lnode, seller).json()
    url = lnode.url + f"/v1/listings/{lst['id']}"
    _problem(requests.patch(url, json={"title": "Mine now"}, headers=other["h"]), 403, "forbidden")
    _problem(requests.delete(url, headers=other["h"]), 403, "forbidden")
    _problem(requests.post(url + "/renew", headers=other["h"]), 403, "forbidden")
    _problem(requests.patch(url, json={"title": "Anon"}), 401, "unauthorized")
    _problem(requests.delete(url), 401, "unauthorized")
    assert requests.get(url).json() == lst


def test_sold_and_back_counts_on_the_profile(lnode):
    u = _user(lnode)
    lst = _create(lnode, u).json()
    url = lnode.url + f"/v1/listings/{lst['id']}"
    _wait_active(lnode, u, 1)
    r = requests.patch(url, json={"status": "sold"}, headers=u["h"])
    assert r.status_code == 200 and r.json()["status"] == "sold", r.text
    _wait_active(lnode, u, 0)
    r = requests.patch(url, json={"status": "active"}, headers=u["h"])
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    _wait_active(lnode, u, 1)


def test_delete_by_seller_and_by_admin(lnode, admin):
    u = _user(lnode)
    a, b = _create(lnode, u).json(), _create(lnode, u).json()
    _wait_active(lnode, u, 2)
    url = lnode.url + f"/v1/listings/{a['id']}"
    r = requests.delete(url, headers=u["h"])
    assert r.status_code == 204 and r.content == b""
    _problem(requests.get(url), 404, "not-found")
    _problem(requests.patch(url, json={"title": "Back again"}, headers=u["h"]), 404, "not-found")
    _problem(requests.delete(url, headers=u["h"]), 404, "not-found")
    _problem(requests.post(url + "/renew", headers=u["h"]), 404, "not-found")
    assert requests.delete(lnode.url + f"/v1/listings/{b['id']}", headers=admin["h"]).status_code == 204
    _wait_active(lnode, u, 0)
    # An admin may delete, not edit.
    c = _create(lnode, u).json()
    _problem(requests.patch(lnode.url + f"/v1/listings/{c['id']}", json={"title": "Admin edit"},
                            headers=admin["h"]), 403, "forbidden")


def test_a_retried_create_of_a_deleted_listing_stays_deleted(lnode):
    u = _user(lnode)
    key = {"Idempotency-Key": "c-del"}
    lst = _create(lnode, u, headers=key).json()
    assert requests.delete(lnode.url + f"/v1/listings/{lst['id']}", headers=u["h"]).status_code == 204
    _problem(_create(lnode, u, headers=key), 404, "not-found")


def test_restricted_sellers_cannot_create(lnode, admin):
    u = _user(lnode)
    lst = _create(lnode, u).json()
    r = requests.post(lnode.url + f"/v1/admin/users/{u['id']}/status", headers=admin["h"],
                      json={"status": "restricted", "reason": "spam"})
    assert r.status_code == 200, r.text
    _problem(_create(lnode, u), 403, "forbidden")
    _problem(requests.patch(lnode.url + f"/v1/listings/{lst['id']}", json={"title": "Still mine"},
                            headers=u["h"]), 403, "forbidden")
    # Taking a listing down stays possible.
    assert requests.delete(lnode.url + f"/v1/listings/{lst['id']}", headers=u["h"]).status_code == 204
    _wait_active(lnode, u, 0)


@pytest.fixture(scope="module")
def short_node(tmp_path_factory):
    """Listings live 2 s here: expiry and renewal in real time."""
    n = Node(BIN / "pasar", tmp_path_factory.mktemp("short"),
             extra_toml="[listings]\nlifetime_s = 2").start()
    yield n
    assert n.stop() == 0, n.logs()


def test_expiry_by_reminder_and_renew(short_node):
    n = short_node
    u = _user(n)
    lst = _create(n, u).json()
    url = n.url + f"/v1/listings/{lst['id']}"
    assert _ts(lst["expires_at"]) - _ts(lst["created_at"]) == datetime.timedelta(seconds=2)
    _wait_active(n, u, 1)
    deadline = time.monotonic() + 10
    while requests.get(url).json()["status"] != "expired" and time.monotonic() < deadline:
        time.sleep(0.1)
    got = requests.get(url).json()
    assert got["status"] == "expired" and got["version"] == 2, got
    _wait_active(n, u, 0)
    # An expired listing is not made active or sold by a patch: renew it.
    _problem(requests.patch(url, json={"status": "active"}, headers=u["h"]), 409, "conflict")
    _problem(requests.patch(url, json={"status": "sold"}, headers=u["h"]), 409, "conflict")
    r = requests.post(url + "/renew", headers=u["h"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["version"] == 3
    assert _ts(r.json()["expires_at"]) > _ts(got["expires_at"])
    _wait_active(n, u, 1)
    # A sold listing does not expire and is not renewed.
    s = _create(n, u).json()
    surl = n.url + f"/v1/listings/{s['id']}"
    assert requests.patch(surl, json={"status": "sold"}, headers=u["h"]).json()["status"] == "sold"
    time.sleep(2.5)
    assert requests.get(surl).json()["status"] == "sold"
    _problem(requests.post(surl + "/renew", headers=u["h"]), 409, "conflict")


def test_listings_survive_a_restart(short_node):
    n = short_node
    u = _user(n)
    lst = _create(n, u).json()
    n.restart()
    r = requests.get(n.url + f"/v1/listings/{lst['id']}")
    assert r.status_code == 200 and r.json()["id"] == lst["id"]


def _search_ids(node, **params):
    r = requests.get(node.url + "/v1/listings", params=dict(params, limit=100))
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]]


def test_reindex_rebuilds_a_lost_index(tmp_path):
    """The index is derived data: drop every index entry from the store
    (mdb_dump | drop kind 'X' | mdb_load), and `pasar reindex` brings
    searches back to what they were. A running node's store is refused."""
    import subprocess
    n = Node(BIN / "pasar", tmp_path).start()
    u = _user(n)
    made = [_create(n, u, dict(GOOD, title=f"Sepeda gunung {i}")).json()["id"] for i in range(12)]
    before = {k: _search_ids(n, **p) for k, p in {
        "all": {}, "q": {"q": "gunung"}, "price": {"sort": "price_asc"},
        "seller": {"seller_id": u["id"]}}.items()}
    assert sorted(before["all"]) == sorted(made)
    run = subprocess.run([str(BIN / "pasar"), "reindex", "-c", str(n.conf), "-n", "n1"],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "in use" in run.stderr, run.stderr
    assert n.stop() == 0, n.logs()

    store = tmp_path / "data" / "n1"
    dump = subprocess.run(["mdb_dump", "-n", str(store / "data.mdb")], capture_output=True,
                          text=True, check=True).stdout.splitlines(keepends=True)
    head = dump[:dump.index("HEADER=END\n") + 1]
    body, kept, dropped = dump[len(head):-1], [], 0
    for k, v in zip(body[0::2], body[1::2]):
        if k.strip()[4:6] == "58":              # [shard:2]['X']: an index entry
            dropped += 1
        else:
            kept += [k, v]
    assert dropped > 12 * 10
    for f in ("data.mdb", "lock.mdb"):
        (store / f).unlink()
    subprocess.run(["mdb_load", "-n", "-f", "/dev/stdin", str(store / "data.mdb")],
                   input="".join(head + kept + dump[-1:]), text=True, check=True)
    n.start()
    assert _search_ids(n) == []                 # no index: nothing found
    assert n.stop() == 0, n.logs()
    run = subprocess.run([str(BIN / "pasar"), "reindex", "-c", str(n.conf), "-n", "n1"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # the 12 listings and their seller (a user's index: its sessions)
    assert run.stdout.startswith("reindexed 13 states: "), run.stdout
    n.start()
    try:
        for k, p in {"all": {}, "q": {"q": "gunung"}, "price": {"sort": "price_asc"},
                     "seller": {"seller_id": u["id"]}}.items():
            assert _search_ids(n, **p) == before[k], k
    finally:
        assert n.stop() == 0, n.logs()


def test_words_longer_than_an_index_key_are_told_apart(lnode):
    """Index keys keep a word's first 32 bytes: two words that share them
    are the same key, and the text decides."""
    u = _user(lnode)
    stem = "pneumonoultramicroscopicsilicovolcano"          # 37 letters
    a = _create(lnode, u, dict(GOOD, title=f"Buku {stem}konis")).json()["id"]
    b = _create(lnode, u, dict(GOOD, title=f"Buku {stem}kosis")).json()["id"]
    assert _search_ids(lnode, q=f"{stem}KONIS") == [a]
    assert _search_ids(lnode, q=f"{stem}kosis buku") == [b]
    assert _search_ids(lnode, q=stem) == []
