"""The Redis read cache of GET /v1/listings/{id}, on two real nodes sharing
a real redis-server: hits after the first read, a write on one node read
at once on the other (never stale), the expiry reminder not hidden by the
cache, and Redis gone: reads still answer from the actors."""
import time
import uuid

import pytest
import requests

from cluster import Cluster
from conftest import BIN
from redisd import RedisServer

PW = "correct horse battery"
BODY = {"title": "Kulkas dua pintu", "category": "electronics", "condition": "used",
        "price": {"amount": 2500000, "currency": "IDR"},
        "location": {"city": "Bogor", "province": "Jawa Barat"}}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cache")
    redis = RedisServer(tmp).start()
    c = Cluster(BIN / "pasar", tmp, 2,
                extra_toml=f'[listings]\nlifetime_s = 3\n[redis]\nurl = "{redis.url}"').start()
    yield c, redis
    c.stop()
    redis.kill()


def _metric(url, name):
    for line in requests.get(url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(name)


def _seller(c):
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    r = requests.post(c.url("n1") + "/v1/users", json={"email": email, "password": PW, "name": "C"})
    assert r.status_code == 201, r.text
    t = requests.post(c.url("n1") + "/v1/sessions",
                      json={"email": email, "password": PW, "device_name": "t"}).json()
    return {"Authorization": f"Bearer {t['access_token']}"}


def test_hits_and_a_write_is_seen_at_once_everywhere(env):
    c, redis = env
    h = _seller(c)
    lst = requests.post(c.url("n1") + "/v1/listings", json=BODY, headers=h).json()
    url = {n: c.url(n) + f"/v1/listings/{lst['id']}" for n in ("n1", "n2")}
    hits0 = sum(_metric(c.url(n), "pasar_listing_cache_hits_total") for n in ("n1", "n2"))
    first = requests.get(url["n1"])             # a miss: fills the cache
    assert first.status_code == 200 and first.json() == lst
    assert redis.command("EXISTS", f"pasar:lst:{lst['id']}") == b":1\r\n"
    for _ in range(10):
        for n in ("n1", "n2"):
            r = requests.get(url[n])
            assert r.status_code == 200 and r.json() == lst and r.headers["ETag"] == '"1"'
    hits = sum(_metric(c.url(n), "pasar_listing_cache_hits_total") for n in ("n1", "n2"))
    assert hits - hits0 >= 19
    # Write through n1, read through n2 at once, many times: never the old copy.
    for i in range(20):
        body = {"price": {"amount": 1000 + i, "currency": "IDR"}}
        w = requests.patch(url["n1"], json=body, headers=h)
        assert w.status_code == 200, w.text
        r = requests.get(url["n2"])
        assert r.json()["price"]["amount"] == 1000 + i, (i, r.text)
        assert r.json()["version"] == w.json()["version"]
    assert requests.delete(url["n2"], headers=h).status_code == 204
    for n in ("n1", "n2"):
        assert requests.get(url[n]).status_code == 404


def test_expiry_is_not_hidden_by_the_cache(env):
    c, _ = env
    h = _seller(c)
    lst = requests.post(c.url("n2") + "/v1/listings", json=BODY, headers=h).json()
    url = c.url("n1") + f"/v1/listings/{lst['id']}"
    assert requests.get(url).json()["status"] == "active"    # cached while active
    deadline = time.monotonic() + 10
    while requests.get(url).json()["status"] != "expired":
        assert time.monotonic() < deadline, "still active from the cache"
        time.sleep(0.1)


def test_an_order_is_seen_at_once_through_the_cache(env):
    """An order reserves the listing by messages, not through the listing
    routes: the cached copy must not keep showing it active."""
    c, _ = env
    h, buyer = _seller(c), _seller(c)
    lid = requests.post(c.url("n1") + "/v1/listings", json=BODY, headers=h).json()["id"]
    for node in ("n1", "n2", "n1", "n2"):           # cached on both
        assert requests.get(c.url(node) + f"/v1/listings/{lid}").json()["status"] == "active"
    o = requests.post(c.url("n2") + "/v1/orders", json={"listing_id": lid, "payment_method": "cod"},
                      headers=dict(buyer, **{"Idempotency-Key": uuid.uuid4().hex}))
    assert o.status_code == 201, o.text
    deadline = time.monotonic() + 2
    while any(requests.get(c.url(n) + f"/v1/listings/{lid}").json()["status"] != "reserved"
              for n in ("n1", "n2")):
        assert time.monotonic() < deadline, "a cached copy still shows the listing active"
        time.sleep(0.05)
    r = requests.post(c.url("n1") + f"/v1/orders/{o.json()['id']}/cancel", headers=buyer)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 2
    while any(requests.get(c.url(n) + f"/v1/listings/{lid}").json()["status"] == "reserved"
              for n in ("n1", "n2")):
        assert time.monotonic() < deadline, "a cached copy still shows the listing reserved"
        time.sleep(0.05)


def test_redis_down_reads_still_answer(env):
    c, redis = env
    h = _seller(c)
    lst = requests.post(c.url("n1") + "/v1/listings", json=BODY, headers=h).json()
    url = c.url("n2") + f"/v1/listings/{lst['id']}"
    assert requests.get(url).status_code == 200
    redis.pause()
    try:
        t0 = time.monotonic()
        for _ in range(5):
            r = requests.get(url, timeout=10)
            assert r.status_code == 200 and r.json()["id"] == lst["id"]
        w = requests.patch(url, json={"title": "Kulkas tanpa Redis"}, headers=h, timeout=10)
        assert w.status_code == 200, w.text
        assert requests.get(url, timeout=10).json()["title"] == "Kulkas tanpa Redis"
        assert time.monotonic() - t0 < 10
    finally:
        redis.resume()
    # The invalidation Redis missed is sent once it answers again.
    deadline = time.monotonic() + 10
    while requests.get(url).json()["title"] != "Kulkas tanpa Redis" or \
            requests.get(c.url("n1") + f"/v1/listings/{lst['id']}").json()["title"] != "Kulkas tanpa Redis":
        assert time.monotonic() < deadline
        time.sleep(0.2)
