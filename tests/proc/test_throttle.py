"""Failed-login throttling through real HTTP (its own node: counters are
per node and per client address)."""
import requests

PW = "correct horse battery"


def _login(node, email, password):
    return requests.post(node.url + "/v1/sessions",
                         json={"email": email, "password": password, "device_name": "t"})


def test_account_throttled_after_5_failures_even_with_the_right_password(node):
    requests.post(node.url + "/v1/users", json={"email": "t@example.com", "password": PW, "name": "T"})
    for _ in range(5):
        assert _login(node, "t@example.com", "wrong password").status_code == 401
    r = _login(node, "t@example.com", PW)
    assert r.status_code == 429
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/rate-limited"
    assert 800 < int(r.headers["Retry-After"]) <= 900
    # Other accounts from this address are still fine (below its limit).
    requests.post(node.url + "/v1/users", json={"email": "u@example.com", "password": PW, "name": "U"})
    assert _login(node, "u@example.com", PW).status_code == 201


def test_address_throttled_after_20_failures_across_accounts(node):
    # 5 failures already counted for this address by the test above.
    for i in range(15):
        assert _login(node, f"nobody{i}@example.com", "wrong password").status_code == 401
    r = _login(node, "u@example.com", PW)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
