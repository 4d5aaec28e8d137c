"""Registration (POST /v1/users) through real HTTP against a real node."""
import concurrent.futures as cf
import json
import re
import time

import requests

URL = "/v1/users"
GOOD = {"email": "ani@example.com", "password": "correct horse battery", "name": "Ani"}


def _post(node, body, headers=None, raw=None, ctype="application/json"):
    h = {"Content-Type": ctype}
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body)
    return requests.post(node.url + URL, data=data, headers=h)


def _problem(r, status, slug):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["type"] == f"/problems/{slug}"
    return r.json()


def test_register_returns_the_user(node):
    r = _post(node, dict(GOOD, email="  Reg1@Example.COM ", phone="+628123"))
    assert r.status_code == 201, r.text
    u = r.json()
    assert set(u) == {"id", "email", "name", "phone", "city", "avatar_url", "role",
                      "status", "created_at"}
    assert re.fullmatch(r"usr_[0-9A-HJKMNP-TV-Z]{26}", u["id"])
    assert u["email"] == "reg1@example.com"          # trimmed, lower-cased
    assert u["phone"] == "+628123" and u["city"] is None
    assert u["role"] == "user" and u["status"] == "active"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", u["created_at"])
    assert r.headers["Location"] == f"/v1/users/{u['id']}"
    assert "password" not in r.text and "argon2" not in r.text


def test_email_taken_is_409_whatever_the_case(node):
    assert _post(node, dict(GOOD, email="dup@example.com")).status_code == 201
    _problem(_post(node, dict(GOOD, email="DUP@example.com ")), 409, "conflict")


def test_validation_errors_name_the_fields_and_change_nothing(node):
    body = _problem(_post(node, {"email": "x@example.com", "password": "short", "name": "",
                                 "role": "admin", "id": "usr_X"}), 422, "validation-failed")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"password", "name", "role", "id"}
    for bad in ["not-an-email", "a@b", "@example.com", "a b@example.com", "a@@example.com"]:
        body = _problem(_post(node, dict(GOOD, email=bad)), 422, "validation-failed")
        assert body["errors"][0]["field"] == "email"
    _problem(_post(node, dict(GOOD, password="x" * 129)), 422, "validation-failed")
    _problem(_post(node, dict(GOOD, name="n" * 101)), 422, "validation-failed")
    _problem(_post(node, dict(GOOD, email=123)), 422, "validation-failed")
    _problem(_post(node, dict(GOOD, name="a\u0000b")), 400, "malformed-request")
    # Nothing was created by any of these: the address is still free.
    assert _post(node, dict(GOOD, email="x@example.com")).status_code == 201


def test_malformed_bodies_are_400(node):
    for raw in [b"{", b"[1,2", b"", b"null", b'{"email": "a"} x', b"\xff\xfe{}",
                b'{"name": "\xc3\x28"}', b'{"a":1,"a":2}']:
        r = _post(node, None, raw=raw)
        assert r.status_code in (400, 422), (raw, r.text)
        if raw in (b"{", b"[1,2", b"", b"\xff\xfe{}", b'{"name": "\xc3\x28"}', b'{"a":1,"a":2}'):
            _problem(r, 400, "malformed-request")
    deep = b'{"email":' + b"[" * 40 + b"]" * 40 + b"}"
    body = _problem(_post(node, None, raw=deep), 400, "malformed-request")
    assert "deeper" in body["detail"]


def test_media_type_and_size(node):
    _problem(_post(node, GOOD, ctype="text/plain"), 415, "unsupported-media-type")
    _problem(_post(node, GOOD, ctype="application/jsonx"), 415, "unsupported-media-type")
    assert _post(node, dict(GOOD, email="ct@example.com"),
                 ctype="application/json; charset=utf-8").status_code == 201
    big = json.dumps(dict(GOOD, name="x" * (70 * 1024)))
    _problem(_post(node, None, raw=big), 413, "payload-too-large")


def test_idempotent_registration_replays_byte_identical(node):
    h = {"Idempotency-Key": "reg-key-1"}
    body = dict(GOOD, email="idem@example.com")
    first = _post(node, body, h)
    assert first.status_code == 201
    assert "Idempotency-Replayed" not in first.headers
    again = _post(node, dict(reversed(list(body.items()))), h)   # same request, keys reordered
    assert again.status_code == 201
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.content == first.content
    _problem(_post(node, dict(body, name="Other"), h), 422, "idempotency-key-reused")
    for bad in ["", "x" * 256, "has space", "tab\tkey"]:
        _problem(_post(node, dict(GOOD, email="k@example.com"), {"Idempotency-Key": bad}),
                 400, "malformed-request")


def test_concurrent_identical_registrations_create_one_user(node):
    body = dict(GOOD, email="race@example.com")

    def one(_):
        # A client retries 503 (Retry-After) until it gets a definite answer.
        for _ in range(100):
            r = _post(node, body)
            if r.status_code != 503:
                return r.status_code
            time.sleep(float(r.headers.get("Retry-After", "1")) / 10)
        return 503

    with cf.ThreadPoolExecutor(max_workers=48) as pool:
        codes = list(pool.map(one, range(1000)))
    assert codes.count(201) == 1, {c: codes.count(c) for c in set(codes)}
    assert codes.count(409) == 999
