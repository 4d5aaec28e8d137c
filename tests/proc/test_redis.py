"""[redis] through real processes: two nodes (separate data, one JWT secret)
share one real redis-server, so what one node writes there the other must
see: login-failure counters, revoked sessions (within 1 s, and after a
restart), presence. Then Redis is killed and hung: everything keeps
working on node-local state, with a warning and a metric, never a 5xx."""
import re
import shutil
import time

import pytest
import requests

from conftest import BIN
from node import Node
from redisd import RedisServer

PW = "correct horse battery"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    a = Node(BIN / "pasar", tmp_path_factory.mktemp("a"), redis_url=redis.url).start()
    tb = tmp_path_factory.mktemp("b")
    (tb / "keys").mkdir()
    shutil.copy(a.tmp / "keys" / "jwt.secret", tb / "keys" / "jwt.secret")
    b = Node(BIN / "pasar", tb, redis_url=redis.url).start()
    # B trusts A's tokens (one secret) but has none of A's users: tokens
    # issued in the second a node started are checked with their user
    # actor (iat has whole seconds), so let that second pass.
    time.sleep(1.1)
    yield a, b, redis
    rcs = (a.stop(), b.stop())
    redis.kill()
    assert rcs == (0, 0), a.logs() + b.logs()


def _register(node, email):
    r = requests.post(node.url + "/v1/users", json={"email": email, "password": PW, "name": "R"})
    assert r.status_code == 201, r.text
    return r.json()


def _login(node, email, password=PW):
    return requests.post(node.url + "/v1/sessions", json={"email": email, "password": password,
                                                           "device_name": "test"})


def _auth(t):
    return {"Authorization": f"Bearer {t['access_token']}"}


def _presence(node, t, uid):
    return requests.get(node.url + f"/v1/users/{uid}/presence", headers=_auth(t))


def _metric(node, name):
    text = requests.get(node.url + "/metrics").text
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    assert m, name
    return int(m.group(1))


def test_failure_counters_are_shared(pair):
    a, b, redis = pair
    _register(a, "shared-throttle@example.com")
    for _ in range(5):
        assert _login(a, "shared-throttle@example.com", "wrong password").status_code == 401
    assert b"5" in redis.command("GET", "pasar:tf:a:shared-throttle@example.com")
    # The other node refuses the account before looking at it.
    r = _login(b, "Shared-Throttle@example.com")
    assert r.status_code == 429, r.text
    assert 0 < int(r.headers["Retry-After"]) <= 900


def test_revocation_reaches_the_other_node_within_1s(pair):
    a, b, _ = pair
    u = _register(a, "revoke-far@example.com")
    t = _login(a, "revoke-far@example.com").json()
    # One secret: B trusts A's token (404: B has none of A's users, so
    # the presence of one it never saw heartbeat is "no such user").
    assert _presence(b, t, u["id"]).status_code == 404
    r = requests.delete(a.url + f"/v1/sessions/{t['session_id']}", headers=_auth(t))
    assert r.status_code == 204
    start = time.monotonic()
    while _presence(b, t, u["id"]).status_code != 401:
        assert time.monotonic() - start < 1.0, "revocation not seen by the other node in 1 s"
        time.sleep(0.02)


def test_presence_is_shared(pair):
    a, b, _ = pair
    u = _register(a, "pres-shared@example.com")
    t = _login(a, "pres-shared@example.com").json()
    assert _presence(a, t, u["id"]).json()["status"] == "offline"
    assert _presence(b, t, u["id"]).status_code == 404      # B has none of A's users ...
    assert requests.post(a.url + "/v1/presence/heartbeat", headers=_auth(t)).status_code == 204
    p = _presence(b, t, u["id"]).json()                     # ... but hears of it through Redis
    assert p["status"] == "online" and p["last_seen_at"].endswith("Z")


def test_revocations_survive_a_restart(pair):
    a, b, _ = pair
    _register(a, "revoke-restart@example.com")
    keep = _login(a, "revoke-restart@example.com").json()
    gone = _login(a, "revoke-restart@example.com").json()
    r = requests.delete(a.url + f"/v1/sessions/{gone['session_id']}", headers=_auth(keep))
    assert r.status_code == 204
    a.restart()
    assert requests.get(a.url + "/v1/me", headers=_auth(gone)).status_code == 401
    assert requests.get(a.url + "/v1/me", headers=_auth(keep)).status_code == 200


def test_redis_hung_costs_a_bounded_wait_not_an_error(pair):
    a, _, redis = pair
    redis.pause()
    try:
        for i in range(8):
            start = time.monotonic()
            r = _login(a, f"hung{i}@example.com", "wrong password")
            assert r.status_code == 401, r.text
            assert time.monotonic() - start < 2.0
    finally:
        redis.resume()


def test_redis_down_degrades_to_node_local_and_recovers(pair):
    a, b, redis = pair
    u = _register(a, "down@example.com")
    t = _login(a, "down@example.com").json()
    fallbacks = _metric(a, "pasar_redis_fallbacks_total")
    redis.kill()
    # Throttling goes on, counted on this node.
    for _ in range(5):
        assert _login(a, "down@example.com", "wrong password").status_code == 401
    assert _login(a, "down@example.com").status_code == 429
    # Presence and revocation keep working here.
    assert requests.post(a.url + "/v1/presence/heartbeat", headers=_auth(t)).status_code == 204
    assert _presence(a, t, u["id"]).json()["status"] == "online"
    r = requests.delete(a.url + f"/v1/sessions/{t['session_id']}", headers=_auth(t))
    assert r.status_code == 204
    assert requests.get(a.url + "/v1/me", headers=_auth(t)).status_code == 401
    assert _metric(a, "pasar_redis_up") == 0
    assert _metric(a, "pasar_redis_fallbacks_total") > fallbacks
    assert '"event":"redis.down"' in a.wait_log('"event":"redis.down"')
    # Redis back (empty) on the same port: the node uses it again.
    redis.proc = RedisServer(redis.tmp, port=redis.port).start().proc
    start = time.monotonic()
    while _metric(a, "pasar_redis_up") == 0 or _metric(b, "pasar_redis_up") == 0:
        _login(a, "back@example.com", "wrong password")
        _login(b, "back@example.com", "wrong password")
        assert time.monotonic() - start < 5.0, "not back on Redis"
        time.sleep(0.1)
    assert '"event":"redis.up"' in a.wait_log('"event":"redis.up"')
