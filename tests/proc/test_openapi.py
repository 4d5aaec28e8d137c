"""docs/openapi.yaml and the server agree: the same routes, and every answer
to a matrix of good and bad requests has a documented status, content type
and body schema."""
import json
import pathlib
import re

import jsonschema
import requests
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())


def _table_routes():
    text = (ROOT / "edge" / "ed_routes.c").read_text()
    return {(m.lower(), p) for m, p in re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', text)}


def test_route_table_and_spec_list_the_same_routes():
    spec = {(m, p) for p, ops in SPEC["paths"].items() for m in ops if m != "parameters"}
    assert spec == _table_routes()


def _resolve(obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = SPEC
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def _check(method, template, resp):
    op = SPEC["paths"][template][method]
    responses = op["responses"]
    code = str(resp.status_code)
    assert code in responses, f"{method.upper()} {template} answered undocumented {code}: {resp.text}"
    doc = _resolve(responses[code])
    content = doc.get("content", {})
    if resp.status_code == 204:
        assert not resp.content and not content and "Content-Type" not in resp.headers
        return
    ctype = resp.headers.get("Content-Type", "").split(";")[0]
    assert ctype in content, f"{method.upper()} {template} {code}: {ctype} not in {list(content)}"
    schema = content[ctype]["schema"]
    if ctype.endswith("json"):
        resolver = jsonschema.RefResolver.from_schema(SPEC)
        jsonschema.validate(resp.json(), schema, resolver=resolver)


def test_answers_match_the_spec(node):
    J = {"Content-Type": "application/json"}
    good = {"email": "spec@example.com", "password": "correct horse battery", "name": "Spec"}
    cases = [
        ("get", "/healthz", "/healthz", {}),
        ("get", "/readyz", "/readyz", {}),
        ("get", "/metrics", "/metrics", {}),
        ("get", "/v1/meta", "/v1/meta", {}),
        ("get", "/problems/{slug}", "/problems/conflict", {}),
        ("get", "/problems/{slug}", "/problems/nope", {}),
        ("post", "/v1/users", "/v1/users", {"headers": J, "data": json.dumps(good)}),
        ("post", "/v1/users", "/v1/users", {"headers": J, "data": json.dumps(good)}),
        ("post", "/v1/users", "/v1/users", {"headers": J, "data": "{"}),
        ("post", "/v1/users", "/v1/users", {"headers": J, "data": json.dumps({"x": 1})}),
        ("post", "/v1/users", "/v1/users", {"headers": {"Content-Type": "text/plain"}, "data": "{}"}),
        ("post", "/v1/users", "/v1/users", {"headers": J, "data": "x" * 70000}),
        ("post", "/v1/users", "/v1/users",
         {"headers": dict(J, **{"Idempotency-Key": "spec-1"}),
          "data": json.dumps(dict(good, email="spec2@example.com"))}),
        ("post", "/v1/users", "/v1/users",
         {"headers": dict(J, **{"Idempotency-Key": "spec-1"}),
          "data": json.dumps(dict(good, email="spec2@example.com"))}),
    ]
    login = {"email": "spec@example.com", "password": "correct horse battery", "device_name": "t"}
    cases += [
        ("post", "/v1/sessions", "/v1/sessions", {"headers": J, "data": json.dumps(login)}),
        ("post", "/v1/sessions", "/v1/sessions",
         {"headers": J, "data": json.dumps(dict(login, password="wrong one"))}),
        ("post", "/v1/sessions", "/v1/sessions", {"headers": J, "data": json.dumps({"x": 1})}),
        ("get", "/v1/me", "/v1/me", {}),
    ]
    seen = set()
    for method, template, path, kw in cases:
        r = requests.request(method, node.url + path, **kw)
        _check(method, template, r)
        seen.add((method, template, r.status_code))
        if template == "/v1/sessions" and r.status_code == 201:
            login_answer = r.json()
            token = login_answer["access_token"]
            auth = {"Authorization": "Bearer " + token}
            r = requests.get(node.url + "/v1/me", headers=auth)
            _check("get", "/v1/me", r)
            seen.add(("get", "/v1/me", r.status_code))
            uid = r.json()["id"]
            r = requests.get(node.url + "/v1/admin/flags", headers=auth)
            _check("get", "/v1/admin/flags", r)
            seen.add(("get", "/v1/admin/flags", r.status_code))
            r = requests.post(node.url + f"/v1/admin/users/{uid}/status", headers=auth,
                              json={"status": "banned", "reason": "x"})
            _check("post", "/v1/admin/users/{id}/status", r)
            seen.add(("post", "/v1/admin/users/{id}/status", r.status_code))
            for body in ({"city": "Bogor"}, {"role": "admin"}):
                r = requests.patch(node.url + "/v1/me", json=body, headers=auth)
                _check("patch", "/v1/me", r)
                seen.add(("patch", "/v1/me", r.status_code))
            r = requests.get(node.url + "/v1/sessions", headers=auth)
            _check("get", "/v1/sessions", r)
            seen.add(("get", "/v1/sessions", r.status_code))
            for tok in ("garbage", login_answer["refresh_token"]):
                r = requests.post(node.url + "/v1/sessions/refresh", json={"refresh_token": tok})
                _check("post", "/v1/sessions/refresh", r)
                seen.add(("post", "/v1/sessions/refresh", r.status_code))
            for sid in ("ses_00000000000000000000000000", login_answer["session_id"]):
                r = requests.delete(node.url + f"/v1/sessions/{sid}", headers=auth)
                _check("delete", "/v1/sessions/{id}", r)
                seen.add(("delete", "/v1/sessions/{id}", r.status_code))
            for method, path, tmpl in (("get", f"/v1/users/{uid}/presence", "/v1/users/{id}/presence"),
                                       ("post", "/v1/presence/heartbeat", "/v1/presence/heartbeat"),
                                       ("get", f"/v1/users/{uid}/presence", "/v1/users/{id}/presence")):
                r = requests.request(method, node.url + path, headers=auth)
                _check(method, tmpl, r)
                seen.add((method, tmpl, r.status_code))
            for path in (f"/v1/users/{uid}", "/v1/users/usr_nope"):
                r = requests.get(node.url + path)
                _check("get", "/v1/users/{id}", r)
                seen.add(("get", "/v1/users/{id}", r.status_code))
    # The matrix reached the statuses it was written for.
    wants = [("post", "/v1/users", s) for s in (201, 400, 409, 413, 415, 422)]
    wants += [("post", "/v1/sessions", s) for s in (201, 401, 422)]
    wants += [("get", "/v1/me", s) for s in (200, 401)]
    wants += [("patch", "/v1/me", s) for s in (200, 422)]
    wants += [("get", "/v1/users/{id}", s) for s in (200, 404)]
    wants += [("get", "/v1/sessions", 200), ("post", "/v1/sessions/refresh", 200),
              ("post", "/v1/sessions/refresh", 401), ("delete", "/v1/sessions/{id}", 204),
              ("delete", "/v1/sessions/{id}", 404),
              ("get", "/v1/admin/flags", 403), ("post", "/v1/admin/users/{id}/status", 403)]
    for want in wants:
        assert want in seen, want


def test_listing_answers_match_the_spec(node):
    pw = "correct horse battery"
    seller, other = "spec-seller@example.com", "spec-other@example.com"
    auth = {}
    for email in (seller, other):
        requests.post(node.url + "/v1/users", json={"email": email, "password": pw, "name": "S"})
        t = requests.post(node.url + "/v1/sessions",
                          json={"email": email, "password": pw, "device_name": "t"}).json()
        auth[email] = {"Authorization": "Bearer " + t["access_token"]}
    good = {"title": "Sepeda lipat", "category": "hobbies", "condition": "used",
            "price": {"amount": 1500000, "currency": "IDR"},
            "location": {"city": "Depok", "province": "Jawa Barat"},
            "images": ["https://img.example.com/1.jpg"]}
    seen = set()

    def call(method, template, path, **kw):
        r = requests.request(method, node.url + path, **kw)
        _check(method, template, r)
        seen.add((method, template, r.status_code))
        return r

    call("post", "/v1/listings", "/v1/listings", json=good)
    lid = call("post", "/v1/listings", "/v1/listings", json=good, headers=auth[seller]).json()["id"]
    call("post", "/v1/listings", "/v1/listings", json=dict(good, price={"amount": -1, "currency": "IDR"}),
         headers=auth[seller])
    call("post", "/v1/listings", "/v1/listings", data="{", headers=dict(auth[seller], **{"Content-Type": "application/json"}))
    one = f"/v1/listings/{lid}"
    call("get", "/v1/listings", "/v1/listings", params={"q": "sepeda", "limit": 1})
    call("get", "/v1/listings", "/v1/listings", params={"limit": 0})
    call("get", "/v1/listings", "/v1/listings", params={"seller_id": "me"})
    call("get", "/v1/listings", "/v1/listings", params={"seller_id": "me", "status": "sold"},
         headers=auth[seller])
    call("get", "/v1/listings/{id}", one)
    call("get", "/v1/listings/{id}", "/v1/listings/lst_nope")
    call("patch", "/v1/listings/{id}", one, json={"title": "Sepeda lipat murah"}, headers=auth[seller])
    call("patch", "/v1/listings/{id}", one, json={"title": "Not yours"}, headers=auth[other])
    call("patch", "/v1/listings/{id}", one, json={"title": "Stale"},
         headers=dict(auth[seller], **{"If-Match": '"1"'}))
    call("patch", "/v1/listings/{id}", one, json={"colour": "red"}, headers=auth[seller])
    call("post", "/v1/listings/{id}/renew", one + "/renew", headers=auth[seller])
    call("post", "/v1/listings/{id}/renew", one + "/renew", headers=auth[other])
    call("delete", "/v1/listings/{id}", one, headers=auth[other])
    call("delete", "/v1/listings/{id}", one, headers=auth[seller])
    call("delete", "/v1/listings/{id}", one, headers=auth[seller])
    wants = [("post", "/v1/listings", s) for s in (201, 400, 401, 422)]
    wants += [("get", "/v1/listings/{id}", s) for s in (200, 404)]
    wants += [("get", "/v1/listings", s) for s in (200, 400, 401)]
    wants += [("patch", "/v1/listings/{id}", s) for s in (200, 403, 412, 422)]
    wants += [("post", "/v1/listings/{id}/renew", s) for s in (200, 403)]
    wants += [("delete", "/v1/listings/{id}", s) for s in (204, 403, 404)]
    for want in wants:
        assert want in seen, want
