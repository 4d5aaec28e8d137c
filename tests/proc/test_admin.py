"""Admin routes through real HTTP: only admins (admin_emails) may use them;
flags from throttled logins and replayed refresh tokens reach the review
queue; banning a user ends their sessions at once."""
import time

import pytest
import requests

from node import Node

PW = "correct horse battery"


@pytest.fixture(scope="module")
def anode(tmp_path_factory, pasar_bin_path):
    n = Node(pasar_bin_path, tmp_path_factory.mktemp("admin"),
             extra_toml='admin_emails = [" Admin@Example.com "]').start()
    yield n
    assert n.stop() == 0, n.logs()


@pytest.fixture(scope="module")
def pasar_bin_path():
    from conftest import BIN
    return BIN / "pasar"


def _user(node, email):
    r = requests.post(node.url + "/v1/users", json={"email": email, "password": PW, "name": "N"})
    assert r.status_code == 201, r.text
    t = requests.post(node.url + "/v1/sessions",
                      json={"email": email, "password": PW, "device_name": "t"}).json()
    return r.json(), t


def _h(t):
    return {"Authorization": f"Bearer {t['access_token']}"}


def _flags(node, admin):
    r = requests.get(node.url + "/v1/admin/flags", headers=_h(admin))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _wait_flag(node, admin, kind, user_id):
    for _ in range(100):
        found = [f for f in _flags(node, admin) if f["kind"] == kind and f["user_id"] == user_id]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no {kind} flag for {user_id}")


def test_only_admins(anode):
    admin_user, admin = _user(anode, "admin@example.com")
    assert admin_user["role"] == "admin"
    plain_user, plain = _user(anode, "plain@example.com")
    assert plain_user["role"] == "user"
    assert requests.get(anode.url + "/v1/admin/flags").status_code == 401
    r = requests.get(anode.url + "/v1/admin/flags", headers=_h(plain))
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"
    r = requests.post(anode.url + f"/v1/admin/users/{plain_user['id']}/status",
                      json={"status": "banned", "reason": "x"}, headers=_h(plain))
    assert r.status_code == 403
    assert requests.get(anode.url + "/v1/me", headers=_h(plain)).status_code == 200


def test_flags_from_refresh_reuse_and_throttling(anode):
    admin = requests.post(anode.url + "/v1/sessions",
                          json={"email": "admin@example.com", "password": PW, "device_name": "t"}).json()
    victim, t1 = _user(anode, "victim@example.com")
    t2 = requests.post(anode.url + "/v1/sessions/refresh", json={"refresh_token": t1["refresh_token"]}).json()
    requests.post(anode.url + "/v1/sessions/refresh", json={"refresh_token": t2["refresh_token"]})
    r = requests.post(anode.url + "/v1/sessions/refresh", json={"refresh_token": t1["refresh_token"]})
    assert r.status_code == 401
    f = _wait_flag(anode, admin, "refresh_reuse", victim["id"])
    assert f["created_at"].endswith("Z") and f["detail"]
    for _ in range(5):
        requests.post(anode.url + "/v1/sessions",
                      json={"email": "victim@example.com", "password": "wrong one!", "device_name": "t"})
    _wait_flag(anode, admin, "login_throttled", victim["id"])
    # Once per window, not once per refused attempt.
    for _ in range(3):
        requests.post(anode.url + "/v1/sessions",
                      json={"email": "victim@example.com", "password": "wrong one!", "device_name": "t"})
    time.sleep(0.2)
    n = [f for f in _flags(anode, admin) if f["kind"] == "login_throttled" and f["user_id"] == victim["id"]]
    assert len(n) == 1


def test_ban_ends_sessions_and_reactivate(anode):
    admin = requests.post(anode.url + "/v1/sessions",
                          json={"email": "admin@example.com", "password": PW, "device_name": "t"}).json()
    bad, t = _user(anode, "bad@example.com")
    url = anode.url + f"/v1/admin/users/{bad['id']}/status"
    r = requests.post(url, json={"status": "restricted", "reason": "spam"}, headers=_h(admin))
    assert r.status_code == 200 and r.json()["status"] == "restricted"
    assert "revoked" not in r.json()
    # Restricted: reads and session management go on; content writes are
    # refused at once, and change nothing.
    assert requests.get(anode.url + "/v1/me", headers=_h(t)).status_code == 200
    r = requests.patch(anode.url + "/v1/me", json={"name": "Spammer"}, headers=_h(t))
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"
    assert r.json()["detail"] == "account restricted"
    assert requests.get(anode.url + "/v1/me", headers=_h(t)).json()["name"] != "Spammer"
    assert requests.post(anode.url + "/v1/presence/heartbeat", headers=_h(t)).status_code == 204
    r = requests.post(url, json={"status": "active", "reason": "ok"}, headers=_h(admin))
    assert r.status_code == 200
    r = requests.patch(anode.url + "/v1/me", json={"name": "Reformed"}, headers=_h(t))
    assert r.status_code == 200 and r.json()["name"] == "Reformed"
    r = requests.post(url, json={"status": "restricted", "reason": "spam"}, headers=_h(admin))
    assert r.status_code == 200
    r = requests.post(url, json={"status": "banned", "reason": "fraud"}, headers=_h(admin))
    assert r.status_code == 200 and r.json()["status"] == "banned"
    assert requests.get(anode.url + "/v1/me", headers=_h(t)).status_code == 401
    assert requests.post(anode.url + "/v1/sessions/refresh",
                         json={"refresh_token": t["refresh_token"]}).status_code == 401
    r = requests.post(anode.url + "/v1/sessions",
                      json={"email": "bad@example.com", "password": PW, "device_name": "t"})
    assert r.status_code == 403
    assert requests.get(anode.url + f"/v1/users/{bad['id']}").status_code == 404
    r = requests.post(url, json={"status": "active", "reason": "appeal"}, headers=_h(admin))
    assert r.status_code == 200
    r = requests.post(anode.url + "/v1/sessions",
                      json={"email": "bad@example.com", "password": PW, "device_name": "t"})
    assert r.status_code == 201
    for body in [{"status": "deleted", "reason": "x"}, {"status": "banned"},
                 {"status": "banned", "reason": "x", "role": "admin"}]:
        assert requests.post(url, json=body, headers=_h(admin)).status_code == 422, body
    r = requests.post(anode.url + "/v1/admin/users/usr_00000000000000000000000000/status",
                      json={"status": "banned", "reason": "x"}, headers=_h(admin))
    assert r.status_code == 404


def test_status_change_honours_the_idempotency_key(anode):
    """A retried status change is the same change; the key reused for
    another status is refused and changes nothing (it used to run, and
    a retried "active" could undo a later restriction)."""
    requests.post(anode.url + "/v1/users",          # 409 when an earlier test made it
                  json={"email": "admin@example.com", "password": PW, "name": "A"})
    admin = requests.post(anode.url + "/v1/sessions",
                          json={"email": "admin@example.com", "password": PW, "device_name": "t"}).json()
    u, t = _user(anode, "idem-status@example.com")
    url = anode.url + f"/v1/admin/users/{u['id']}/status"
    h = {**_h(admin), "Idempotency-Key": "status-change-1"}
    first = requests.post(url, json={"status": "restricted", "reason": "spam"}, headers=h)
    assert first.status_code == 200 and "Idempotency-Replayed" not in first.headers
    again = requests.post(url, json={"status": "restricted", "reason": "spam"}, headers=h)
    assert again.status_code == 200 and again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    other = requests.post(url, json={"status": "active", "reason": "spam"}, headers=h)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    # Nothing changed: still restricted. And the change was logged once.
    r = requests.patch(anode.url + "/v1/me", json={"name": "Still"}, headers=_h(t))
    assert r.status_code == 403 and r.json()["detail"] == "account restricted"
    time.sleep(0.1)                         # the log thread writes every 20 ms
    logged = [line for line in anode.logs().splitlines()
              if "admin.user_status" in line and u["id"] in line]
    assert len(logged) == 1, logged


def test_lone_node_cluster_view_and_flag_pages(pasar_bin_path, tmp_path):
    # A node of its own: the failed logins below count against the
    # address, and the module's node has had its share.
    n = Node(pasar_bin_path, tmp_path, extra_toml='admin_emails = ["admin@example.com"]').start()
    try:
        requests.post(n.url + "/v1/users", json={"email": "admin@example.com", "password": PW, "name": "A"})
        admin = requests.post(n.url + "/v1/sessions",
                              json={"email": "admin@example.com", "password": PW, "device_name": "t"}).json()
        view = requests.get(n.url + "/v1/cluster", headers=_h(admin)).json()
        assert [x["http"] for x in view["nodes"]] == [n.url.split("//", 1)[1]]
        for k in range(2):                  # each a login_throttled flag
            for _ in range(6):
                requests.post(n.url + "/v1/sessions",
                              json={"email": f"nobody{k}@example.com", "password": "wrong password x",
                                    "device_name": "t"})
        for _ in range(100):
            whole = _flags(n, admin)
            if len(whole) >= 2:
                break
            time.sleep(0.02)
        assert len(whole) >= 2, whole
        r = requests.get(n.url + "/v1/admin/flags", headers=_h(admin), params={"limit": 1})
        assert r.status_code == 200 and len(r.json()["items"]) == 1 and r.json()["next_cursor"]
        r2 = requests.get(n.url + "/v1/admin/flags", headers=_h(admin),
                          params={"limit": 1, "cursor": r.json()["next_cursor"]})
        assert r2.json()["items"] == whole[1:2]
        for q in ({"limit": 0}, {"cursor": "bad"}):
            assert requests.get(n.url + "/v1/admin/flags", headers=_h(admin),
                                params=q).status_code == 400, q
    finally:
        assert n.stop() == 0, n.logs()


def test_presence_of_no_such_user_is_404(anode):
    u, t = _user(anode, "present@example.com")
    r = requests.get(anode.url + f"/v1/users/{u['id']}/presence", headers=_h(t))
    assert r.status_code == 200 and r.json() == {"status": "offline", "last_seen_at": None}
    assert requests.post(anode.url + "/v1/presence/heartbeat", headers=_h(t)).status_code == 204
    assert requests.get(anode.url + f"/v1/users/{u['id']}/presence",
                        headers=_h(t)).json()["status"] == "online"
    for nobody in ("usr_01M8T64RF0VAWRXAMQNGT4HCKZ", "garbage"):
        r = requests.get(anode.url + f"/v1/users/{nobody}/presence", headers=_h(t))
        assert r.status_code == 404 and r.json()["type"] == "/problems/not-found", nobody
