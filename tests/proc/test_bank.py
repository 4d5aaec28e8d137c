"""The bank workload (Jepsen's): 3 real nodes, 200 wallets credited by an
admin, concurrent random transfers and orders (wallet escrow: placed, then
shipped and confirmed, or cancelled) retried under their Idempotency-Keys
on any node, while a seeded nemesis SIGKILLs and restarts nodes, SIGSTOPs
one, and kills wallet and order actors (by the admin route and [debug]
kill_actors_per_min). A third of the way in a fourth node joins
(cluster.toml edited, epoch bumped, SIGHUP), so wallets, their outboxes,
dedup marks and the receipts in flight move between nodes while money
moves and the nemesis goes on. Every few seconds a reader checks that no wallet it
can read is negative; at the end, after recovery, the checker proves money
was conserved: the wallets hold exactly what was credited less the fees
taken, the ledger (wallets + in transit + system accounts) sums to zero
with nothing left in transit, the held funds are exactly the open orders' prices, every acknowledged transfer is in its payer's and its payee's
entries exactly once, no entry belongs to a transfer that was refused, and
every wallet's balance is the sum of its entries.

PASAR_CHAOS_SEED replays a schedule; PASAR_BANK_SECONDS sets its length."""
import concurrent.futures
import os
import random
import signal
import threading
import time
import uuid

import requests

from cluster import Cluster
from conftest import BIN
from test_chaos import History, _call

PW = "correct horse battery"
SECONDS = float(os.environ.get("PASAR_BANK_SECONDS", "20"))
WALLETS = int(os.environ.get("PASAR_BANK_WALLETS", "200"))
CREDIT = 100000
CLIENTS = 8
FEE_BPS = 300
SELLERS = 20


def _register(c, i):
    url = c.url(c.ids[i % len(c.ids)])
    email = f"bank{i}-{uuid.uuid4().hex[:6]}@example.com"
    r = requests.post(url + "/v1/users", json={"email": email, "password": PW, "name": f"b{i}"})
    assert r.status_code == 201, r.text
    t = requests.post(url + "/v1/sessions", json={"email": email, "password": PW,
                                                  "device_name": "bank"})
    assert t.status_code == 201, t.text
    return {"id": r.json()["id"], "token": t.json()["access_token"]}


def _order(c, hist, rng, users, listings, orders, n, k):
    """Place a wallet order for a free listing; then ship and confirm it,
    cancel it, or leave it paid."""
    with listings["lock"]:
        if not listings["free"]:
            return
        lid, seller, price = listings["free"].pop(rng.randrange(len(listings["free"])))
    buyer = rng.randrange(len(users))
    if buyer == seller:
        buyer = (buyer + 1) % len(users)
    key = f"o-{n}-{k}"
    r = _call(c, hist, rng, "POST", "/v1/orders", "order", key=key, token=users[buyer]["token"],
              body={"listing_id": lid, "payment_method": "wallet"})
    if r is None or r.status_code != 201:
        if r is not None and r.status_code == 422 and "insufficient-funds" in r.text:
            with listings["lock"]:
                listings["free"].append((lid, seller, price))
        return
    oid = r.json()["id"]
    assert r.json()["amount"]["amount"] == price
    orders[oid] = {"buyer": buyer, "seller": seller, "price": price}
    roll = rng.random()
    steps = ([("ship", seller), ("confirm", buyer)] if roll < 0.5
             else [("cancel", buyer)] if roll < 0.75 else [])
    for step, who in steps:
        r = _call(c, hist, rng, "POST", f"/v1/orders/{oid}/{step}", step, key=f"{key}-{step}",
                  token=users[who]["token"])
        if r is None or r.status_code != 200:
            break


def _client(c, hist, seed, n, stop, users, acked, refused, unknown, listings, orders):
    rng = random.Random(seed * 1000 + n)
    k = 0
    while not stop.is_set():
        k += 1
        if rng.random() < 0.15:
            _order(c, hist, rng, users, listings, orders, n, k)
            continue
        src, dst = rng.sample(range(len(users)), 2)
        amount = rng.randint(1, 30000)
        key = f"t-{n}-{k}"
        r = _call(c, hist, rng, "POST", "/v1/wallet/transfers", "transfer", key=key,
                  token=users[src]["token"],
                  body={"to_user_id": users[dst]["id"], "amount": {"amount": amount,
                                                                   "currency": "IDR"}})
        if r is not None and r.status_code == 201:
            t = r.json()
            assert t["amount"]["amount"] == amount and t["to_user_id"] == users[dst]["id"]
            acked[t["id"]] = (src, dst, amount)
        elif r is not None and r.status_code == 422:
            assert "insufficient-funds" in r.text, r.text
            refused.append(key)
        else:
            unknown.append(key)


def _nemesis(c, seed, stop, faults, users, admin_token, orders):
    rng = random.Random(seed)
    while not stop.wait(rng.uniform(1.5, 3.0)):
        action = rng.choice(["kill", "stop", "actors"])
        victim = rng.choice(c.ids)
        if action == "kill":
            faults.append((time.monotonic(), f"SIGKILL {victim}"))
            c.kill(victim)
            stop.wait(rng.uniform(0.3, 1.0))
            c.start(victim, wait=False)
        elif action == "stop":
            faults.append((time.monotonic(), f"SIGSTOP {victim}"))
            c.procs[victim].send_signal(signal.SIGSTOP)
            stop.wait(rng.uniform(0.5, 1.5))
            c.procs[victim].send_signal(signal.SIGCONT)
        else:
            faults.append((time.monotonic(), "kill wallet actors"))
            h = {"Authorization": f"Bearer {admin_token}"}
            targets = [("wallet", u["id"]) for u in rng.sample(users, 10)]
            targets += [("order", o) for o in rng.sample(list(orders), min(5, len(orders)))]
            for kind, key in targets:
                try:
                    requests.post(c.url(rng.choice(c.ids)) + f"/v1/admin/actors/{kind}/{key}/kill",
                                  headers=h, timeout=2)
                except requests.RequestException:
                    pass
    faults.append((time.monotonic(), "end"))


def _wallet(c, u, rng):
    for _ in range(50):
        try:
            r = requests.get(c.url(rng.choice(c.ids)) + "/v1/wallet",
                             headers={"Authorization": f"Bearer {u['token']}"}, timeout=2)
            if r.status_code == 200:
                return r.json()
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"wallet {u['id']} not readable")


def _entries(c, u):
    got, cursor = [], None
    h = {"Authorization": f"Bearer {u['token']}"}
    while True:
        p = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        r = requests.get(c.url(c.ids[0]) + "/v1/wallet/entries", params=p, headers=h, timeout=5)
        assert r.status_code == 200, r.text
        got += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return got


def test_bank(tmp_path):
    seed = int(os.environ.get("PASAR_CHAOS_SEED", random.randrange(1 << 30)))
    print(f"bank seed {seed} (PASAR_CHAOS_SEED={seed} replays it)")
    c = Cluster(BIN / "pasar", tmp_path, 3, peer_down_ms=1000,
                extra_toml='admin_emails = ["admin@example.com"]\n'
                         f'[payments]\nfee_bps = {FEE_BPS}\n'
                         '[debug]\nchaos = true\nkill_actors_per_min = 60').start()
    hist = History(tmp_path / "history.jsonl")
    try:
        a = requests.post(c.url("n1") + "/v1/users",
                          json={"email": "admin@example.com", "password": PW, "name": "A"})
        assert a.status_code == 201
        admin = requests.post(c.url("n1") + "/v1/sessions", json={
            "email": "admin@example.com", "password": PW, "device_name": "a"}).json()
        ah = {"Authorization": f"Bearer {admin['access_token']}"}
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            users = list(pool.map(lambda i: _register(c, i), range(WALLETS)))
        for i, u in enumerate(users):
            r = requests.post(c.url(c.ids[i % 3]) + f"/v1/admin/wallets/{u['id']}/credits",
                              json={"amount": {"amount": CREDIT, "currency": "IDR"},
                                    "reason": "bank"},
                              headers=dict(ah, **{"Idempotency-Key": f"credit-{i}"}))
            assert r.status_code == 201, r.text

        listings = {"lock": threading.Lock(), "free": []}
        for s_ in range(SELLERS):
            for j in range(5):
                price = 1000 * (1 + (s_ * 5 + j) % 40)
                r = requests.post(c.url(c.ids[s_ % 3]) + "/v1/listings", headers={
                    "Authorization": f"Bearer {users[s_]['token']}"}, json={
                    "title": f"Barang {s_}-{j}", "category": "other", "condition": "used",
                    "price": {"amount": price, "currency": "IDR"},
                    "location": {"city": "Depok", "province": "Jawa Barat"}})
                assert r.status_code == 201, r.text
                listings["free"].append((r.json()["id"], s_, price))
        acked, refused, unknown, faults, orders = {}, [], [], [], {}
        stop = threading.Event()
        clients = [threading.Thread(target=_client,
                                    args=(c, hist, seed, n, stop, users, acked, refused, unknown,
                                          listings, orders))
                   for n in range(CLIENTS)]
        nemesis = threading.Thread(target=_nemesis,
                                   args=(c, seed, stop, faults, users, admin["access_token"], orders))
        for t in clients:
            t.start()
        nemesis.start()
        rng = random.Random(seed + 1)
        end = time.monotonic() + SECONDS
        checks = 0

        def read_one(u):
            try:
                r = requests.get(c.url(rng.choice(c.ids)) + "/v1/wallet",
                                 headers={"Authorization": f"Bearer {u['token']}"}, timeout=1)
                return r.json() if r.status_code == 200 else None
            except requests.RequestException:
                return None

        joined = None
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while time.monotonic() < end:
                if joined is None and time.monotonic() > end - SECONDS * 2 / 3:
                    joined = c.add_node()
                    faults.append((time.monotonic(), f"{joined} joined"))
                # every few seconds: every wallet a reader can reach now is
                # not negative, and holds no more than it has
                for w in pool.map(read_one, users):
                    if w is not None:
                        checks += 1
                        assert w["balance"]["amount"] >= 0, w
                        assert 0 <= w["held"]["amount"] <= w["balance"]["amount"], w
                        assert w["available"]["amount"] >= 0, w
                time.sleep(2)
        print(f"mid-run wallet reads checked: {checks}")
        stop.set()
        nemesis.join()
        for t in clients:
            t.join()
        for i in c.ids:
            if c.procs[i].poll() is not None:
                c.start(i, wait=False)
        c.wait_ready(timeout=20)
        hist.save()
        print(f"faults: {[w for _, w in faults]}")
        print(f"transfers acknowledged {len(acked)}, refused {len(refused)}, unknown {len(unknown)}; "
              f"orders placed {len(orders)}")
        assert len(acked) > 50 and len(orders) > 5

        # Every order as it ended, as its buyers list them (also those whose
        # answer was lost): completed ones paid their fee, paid and shipped
        # ones hold their price.
        fees = held = 0
        found = {}
        for u in users:
            cursor = None
            while True:
                p = {"role": "buyer", "limit": 100, **({"cursor": cursor} if cursor else {})}
                r = None
                for _ in range(50):
                    try:
                        r = requests.get(c.url(rng.choice(c.ids)) + "/v1/orders", params=p, timeout=5,
                                         headers={"Authorization": f"Bearer {u['token']}"})
                        if r.status_code == 200:
                            break
                    except requests.RequestException:
                        pass
                    time.sleep(0.1)
                assert r is not None and r.status_code == 200, r and r.text
                for o in r.json()["items"]:
                    found[o["id"]] = o
                cursor = r.json()["next_cursor"]
                if not cursor:
                    break
        assert set(orders) <= set(found), set(orders) - set(found)
        for oid, o in found.items():
            assert o["status"] in ("paid", "shipped", "completed", "cancelled"), o
            price = o["amount"]["amount"]
            if o["status"] == "completed":
                fees += price * FEE_BPS // 10000
            elif o["status"] in ("paid", "shipped"):
                held += price

        # Recovery: what the outboxes carry lands; then nothing is in
        # transit, the ledger sums to zero, the wallets hold what was
        # credited less the fees, the held funds are the open orders'.
        want = {"total": 0, "in_transit_total": 0, "wallets_held_total": held,
                "wallets_balance_total": WALLETS * CREDIT - fees,
                "adjustments": -WALLETS * CREDIT, "fees": fees}
        deadline = time.monotonic() + 30
        while True:
            r = requests.get(c.url("n1") + "/v1/admin/ledger/summary", headers=ah, timeout=5)
            s = r.json() if r.status_code == 200 else None
            got = s and dict({k: s[k] for k in ("total", "in_transit_total", "wallets_held_total",
                                                 "wallets_balance_total")},
                             adjustments=s["system_accounts"]["adjustments"],
                             fees=s["system_accounts"]["fees"])
            if got == want:
                break
            assert time.monotonic() < deadline, f"not settled: {got} != {want} ({r.status_code})"
            time.sleep(0.2)

        outs, ins = {}, {}
        total = 0
        for i, u in enumerate(users):
            w = _wallet(c, u, rng)
            es = _entries(c, u)
            b = w["balance"]["amount"]
            assert b >= 0, w
            assert b == sum(e["amount"] for e in es), (u["id"], b)
            assert not es or es[0]["balance_after"] == b
            total += b
            assert w["available"]["amount"] >= 0, w
            for e in es:
                book = outs if e["kind"] == "transfer_out" else ins if e["kind"] == "transfer_in" else None
                if book is not None:
                    assert e["ref"] not in book, f"{e['ref']} twice"
                    book[e["ref"]] = (i, abs(e["amount"]))
                else:
                    assert e["kind"] in ("admin_credit", "order_payment", "order_sale"), e
                    if e["kind"] != "admin_credit":
                        assert e["ref"] in found, e
        assert total == WALLETS * CREDIT - fees
        # every acknowledged transfer: once out of its payer, once into its payee
        for tid, (src, dst, amount) in acked.items():
            assert outs.get(tid) == (src, amount), tid
            assert ins.get(tid) == (dst, amount), tid
        # nothing else happened but transfers whose answer was lost
        assert set(outs) == set(ins)
        assert len(outs) - len(acked) <= len(unknown)
        # Much of that history went into log segments zero-filled ahead
        # (docs/storage.md) while nodes were killed: such a segment stays
        # exactly its prepared size.
        sizes = [p.stat().st_size for p in (tmp_path / "data").glob("*/wal/*.wal")]
        assert (64 << 20) in sizes, sorted(sizes)
    finally:
        hist.save()
        c.stop()
