"""GET /v1/listings on a real 3-node cluster: random filter combinations
over ~1,500 listings (created, edited, sold and deleted through HTTP on
every node) against a reference model the test keeps; paging with the
cursor while another client creates, edits and deletes (never a listing
twice, never one skipped that stayed unchanged); bad query parameters."""
import concurrent.futures
import random
import re
import threading
import time
import uuid

import pytest
import requests

from cluster import Cluster
from conftest import BIN

PW = "correct horse battery"
CATS = ["cars", "motorcycles", "property", "electronics", "fashion", "hobbies", "jobs",
        "services", "other"]
PLACES = [("Bandung", "Jawa Barat"), ("Depok", "Jawa Barat"), ("Jakarta Selatan", "DKI Jakarta"),
          ("Surabaya", "Jawa Timur"), ("Medan", "Sumatera Utara")]
WORDS = ["motor", "mobil", "rumah", "honda", "yamaha", "murah", "baru", "bekas", "mulus",
         "nego", "lengkap", "antik", "kamera", "sepeda", "Jalan-jalan", "Ñandú", "HP"]
PRICES = [0, 50000, 150000, 1500000, 12500000, 99000000, 1500000000]


def _words(text):
    return set(re.findall(r"[^\W_]+", text.lower()))


@pytest.fixture(scope="module")
def c3(tmp_path_factory):
    c = Cluster(BIN / "pasar", tmp_path_factory.mktemp("search"), 3).start()
    yield c
    codes = c.stop()
    assert set(codes.values()) <= {0}, codes


def _seller(c, n):
    email = f"s{n}-{uuid.uuid4().hex[:8]}@example.com"
    url = c.url(c.ids[n % 3])
    r = requests.post(url + "/v1/users", json={"email": email, "password": PW, "name": "S"})
    assert r.status_code == 201, r.text
    t = requests.post(url + "/v1/sessions", json={"email": email, "password": PW,
                                                  "device_name": "t"}).json()
    return {"id": r.json()["id"], "h": {"Authorization": f"Bearer {t['access_token']}"}}


def _random_listing(rng):
    city, prov = rng.choice(PLACES)
    return {
        "title": " ".join(rng.sample(WORDS, 3)),
        "description": " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6))),
        "category": rng.choice(CATS),
        "price": {"amount": rng.choice(PRICES), "currency": "IDR"},
        "location": {"city": city, "province": prov},
        "condition": rng.choice(["new", "used"]),
    }


def _sorted(items, sort):
    if sort == "newest":
        return sorted(items, key=lambda x: x["id"], reverse=True)
    if sort == "price_asc":
        return sorted(items, key=lambda x: (x["price"]["amount"], x["id"]))
    return sorted(items, key=lambda x: (x["price"]["amount"], x["id"]), reverse=True)


def _page_all(url, params, headers=None, limit=None):
    """Every page of a search; the ids in the order given."""
    got, cursor, pages = [], None, 0
    while True:
        p = dict(params, **({"limit": limit} if limit else {}))
        if cursor:
            p["cursor"] = cursor
        r = requests.get(url + "/v1/listings", params=p, headers=headers or {}, timeout=10)
        assert r.status_code == 200, (params, r.status_code, r.text)
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        got += body["items"]
        cursor = body["next_cursor"]
        pages += 1
        assert pages < 2000
        if not cursor:
            return got


@pytest.fixture(scope="module")
def world(c3):
    """~1,500 listings by 6 sellers through all three nodes; some edited,
    sold, deleted. The model holds what the API last answered."""
    rng = random.Random(7)
    sellers = [_seller(c3, n) for n in range(6)]
    model = {}
    lock = threading.Lock()

    def make(i):
        r_ = random.Random(i)
        s = sellers[i % len(sellers)]
        url = c3.url(c3.ids[i % 3])
        r = requests.post(url + "/v1/listings", json=_random_listing(r_), headers=s["h"], timeout=10)
        assert r.status_code == 201, r.text
        with lock:
            model[r.json()["id"]] = (r.json(), s)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(make, range(1500)))
    ids = sorted(model)
    for lid in rng.sample(ids, 150):           # edits move listings in price order
        lst, s = model[lid]
        body = {"price": {"amount": rng.choice(PRICES), "currency": "IDR"},
                "title": " ".join(rng.sample(WORDS, 2))}
        r = requests.patch(c3.url(rng.choice(c3.ids)) + f"/v1/listings/{lid}", json=body,
                           headers=s["h"])
        assert r.status_code == 200, r.text
        model[lid] = (r.json(), s)
    for lid in rng.sample(ids, 100):
        lst, s = model[lid]
        if lst["status"] == "active" and rng.random() < 0.5:
            r = requests.patch(c3.url(rng.choice(c3.ids)) + f"/v1/listings/{lid}",
                               json={"status": "sold"}, headers=s["h"])
            assert r.status_code == 200, r.text
            model[lid] = (r.json(), s)
        else:
            r = requests.delete(c3.url(rng.choice(c3.ids)) + f"/v1/listings/{lid}", headers=s["h"])
            assert r.status_code in (204, 404), r.text
            model.pop(lid)
    return {"model": model, "sellers": sellers}


def _matches(lst, f):
    if "category" in f and lst["category"] != f["category"]:
        return False
    if "condition" in f and lst["condition"] != f["condition"]:
        return False
    if "city" in f and lst["location"]["city"].lower() != f["city"].lower():
        return False
    if "province" in f and lst["location"]["province"].lower() != f["province"].lower():
        return False
    if "min_price" in f and lst["price"]["amount"] < f["min_price"]:
        return False
    if "max_price" in f and lst["price"]["amount"] > f["max_price"]:
        return False
    if "seller_id" in f and lst["seller_id"] != f["seller_id"]:
        return False
    if "q" in f and not _words(f["q"]) <= _words(lst["title"] + " " + lst["description"]):
        return False
    return True


def test_random_filters_match_the_model(c3, world):
    rng = random.Random(11)
    model = world["model"]
    sizes = []
    for round_ in range(60):
        f = {}
        if rng.random() < 0.4:
            f["category"] = rng.choice(CATS)
        if rng.random() < 0.3:
            city, prov = rng.choice(PLACES)
            f["city"] = rng.choice([city, city.upper(), city.lower()])
        if rng.random() < 0.2:
            f["province"] = rng.choice(PLACES)[1]
        if rng.random() < 0.3:
            f["min_price"] = rng.choice(PRICES)
        if rng.random() < 0.3:
            f["max_price"] = rng.choice(PRICES[2:])
            if f.get("min_price", 0) > f["max_price"]:
                del f["min_price"]
        if rng.random() < 0.4:
            f["q"] = " ".join(w if rng.random() < 0.5 else w.upper()
                              for w in rng.sample(WORDS, rng.randint(1, 2)))
        if rng.random() < 0.2:
            f["seller_id"] = rng.choice(world["sellers"])["id"]
        if rng.random() < 0.3:
            f["condition"] = rng.choice(["new", "used"])
        sort = rng.choice(["newest", "price_asc", "price_desc"])
        want = _sorted([l for l, _ in model.values() if l["status"] == "active" and _matches(l, f)],
                       sort)
        limit = rng.choice([1, 3, 20, 100])
        if len(want) > 300 and limit < 20:
            limit = 20                  # keep the run short
        url = c3.url(rng.choice(c3.ids))
        got = _page_all(url, dict(f, sort=sort), limit=limit)
        assert [g["id"] for g in got] == [w["id"] for w in want], (round_, f, sort, limit)
        sizes.append(len(want))
        for g in got[:5]:
            assert g == model[g["id"]][0]       # the whole listing, as last answered
    print("result sizes", sorted(sizes))
    # The rounds asked for empty, small and large result sets alike.
    assert min(sizes) == 0 and max(sizes) > 300 and sum(1 for n in sizes if 0 < n < 50) > 10


def test_a_seller_sees_their_own_sold_listings(c3, world):
    model = world["model"]
    for s in world["sellers"]:
        sold = [l for l, o in model.values() if o is s and l["status"] == "sold"]
        got = _page_all(c3.url("n2"), {"seller_id": "me", "status": "sold"}, headers=s["h"])
        assert sorted(g["id"] for g in got) == sorted(l["id"] for l in sold)
    other = world["sellers"][0]
    r = requests.get(c3.url("n1") + "/v1/listings",
                     params={"seller_id": world["sellers"][1]["id"], "status": "sold"},
                     headers=other["h"])
    assert r.status_code == 403, r.text
    r = requests.get(c3.url("n1") + "/v1/listings", params={"seller_id": "me"})
    assert r.status_code == 401, r.text


@pytest.mark.parametrize("sort", ["newest", "price_asc"])
def test_paging_while_others_write(c3, sort):
    """Page through one city's listings 5 at a time while a writer creates,
    edits (moving listings in the order) and deletes: no listing twice,
    none skipped that was there and untouched throughout."""
    city = f"Kota{uuid.uuid4().hex[:6]}"
    s = _seller(c3, 1)
    rng = random.Random(3)

    def create():
        body = dict(_random_listing(rng), location={"city": city, "province": "Banten"})
        r = requests.post(c3.url(rng.choice(c3.ids)) + "/v1/listings", json=body, headers=s["h"])
        assert r.status_code == 201, r.text
        return r.json()["id"]

    before = [create() for _ in range(120)]
    touched = set()
    stop = threading.Event()
    errors = []

    def writer():
        w = random.Random(5)
        try:
            while not stop.is_set():
                lid = w.choice(before)
                roll = w.random()
                touched.add(lid)
                url = c3.url(w.choice(c3.ids)) + f"/v1/listings/{lid}"
                if roll < 0.5:
                    requests.patch(url, json={"price": {"amount": w.choice(PRICES), "currency": "IDR"}},
                                   headers=s["h"])
                elif roll < 0.7:
                    requests.delete(url, headers=s["h"])
                else:
                    create()
                time.sleep(0.005)
        except Exception as e:             # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        got = _page_all(c3.url("n3"), {"city": city, "sort": sort}, limit=5)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    ids = [g["id"] for g in got]
    assert len(ids) == len(set(ids)), "a listing came twice"
    untouched = set(before) - touched
    assert untouched, "the writer touched everything: the test proves nothing"
    assert untouched <= set(ids), untouched - set(ids)


@pytest.mark.parametrize("qs, status", [
    ("bogus=1", 400), ("limit=0", 400), ("limit=101", 400), ("limit=x", 400),
    ("sort=cheapest", 400), ("category=weapons", 400), ("condition=broken", 400),
    ("min_price=-1", 400), ("min_price=1.5", 400), ("max_price=10000000000001", 400),
    ("min_price=10&max_price=5", 400), ("seller_id=usr_nope", 400), ("status=gone", 400),
    ("cursor=garbage", 400), ("q=" + "x" * 201, 400), ("q=%20%2C%20", 400),
    ("q=" + "+".join(["a", "b", "c", "d", "e", "f", "g", "h", "i"]), 400),
    ("city=" + "x" * 101, 400), ("province=", 400), ("city=" + "%C8%BA" * 100, 200),
    ("status=sold", 403), ("limit=100", 200), ("q=MURAH+murah", 200),
])
def test_bad_queries(c3, qs, status):
    r = requests.get(c3.url("n1") + "/v1/listings?" + qs)
    assert r.status_code == status, (qs, r.text)
    if status != 200:
        assert r.headers["Content-Type"] == "application/problem+json"


def test_a_cursor_belongs_to_its_query(c3, world):
    r = requests.get(c3.url("n1") + "/v1/listings", params={"limit": 2})
    cur = r.json()["next_cursor"]
    assert cur
    r = requests.get(c3.url("n2") + "/v1/listings", params={"limit": 2, "cursor": cur})
    assert r.status_code == 200                 # any node, same query
    r = requests.get(c3.url("n2") + "/v1/listings", params={"category": "cars", "cursor": cur})
    assert r.status_code == 400, r.text
    r = requests.get(c3.url("n2") + "/v1/listings", params={"sort": "price_asc", "cursor": cur})
    assert r.status_code == 400, r.text


def test_a_node_down_is_503_not_a_short_page(c3, world):
    c3.kill("n3")
    try:
        deadline = time.monotonic() + 5
        while True:
            r = requests.get(c3.url("n1") + "/v1/listings", timeout=10)
            if r.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.status_code == 503, r.text
        assert r.headers.get("Retry-After") == "1"
    finally:
        c3.start("n3")
    deadline = time.monotonic() + 10
    while requests.get(c3.url("n1") + "/v1/listings").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
