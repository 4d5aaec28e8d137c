"""The HTTP edge through real HTTP against a real node: routing, problem
documents, the operations endpoints, trace context and request metrics."""
import json
import re
import time

import requests

PROBLEM = "application/problem+json"


def _problem(r, status, slug):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == PROBLEM
    body = r.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def test_health_ready_meta(node):
    assert requests.get(node.url + "/healthz").json() == {"status": "ok"}
    r = requests.get(node.url + "/readyz")
    assert r.status_code == 200 and r.json()["node_id"] == "n1"
    meta = requests.get(node.url + "/v1/meta").json()
    assert meta["node_id"] == "n1"
    assert meta["idempotency_retention_s"] == 86400
    assert meta["limits"]["body_max_bytes"] == 65536
    assert meta["limits"]["money_amount_max"] == 10 ** 13
    assert meta["limits"]["page_limit_max"] == 100


def test_unknown_path_is_404_problem(node):
    body = _problem(requests.get(node.url + "/v1/nope"), 404, "not-found")
    assert body["instance"] == "/v1/nope"
    _problem(requests.get(node.url + "/" + "a/" * 40), 404, "not-found")
    _problem(requests.get(node.url + "/v1/meta/extra"), 404, "not-found")


def test_wrong_method_is_405_with_allow(node):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = requests.request(method, node.url + "/v1/meta")
        _problem(r, 405, "method-not-allowed")
        assert r.headers["Allow"] == "GET"


def test_body_on_a_route_without_one_is_refused(node):
    r = requests.get(node.url + "/v1/meta", data=b"x" * 10,
                     headers={"Content-Type": "application/json"})
    _problem(r, 413, "payload-too-large")


def test_chunked_bodies_are_read_whole_and_bounded(node):
    """A body without Content-Length (chunked) is read into a buffer that
    grows from 4 KiB up to the route's limit: a padded registration of
    ~20 KiB in 1 KiB chunks is read whole; one past the limit is 413."""
    def chunks(body, size=1024):
        for i in range(0, len(body), size):
            yield body[i:i + size]
    body = json.dumps({"email": f"chunk-{time.time_ns()}@example.com",
                       "password": "correct horse battery", "name": "C"}).encode()
    padded = body[:-1] + b" " * 20000 + b"}"
    r = requests.post(node.url + "/v1/users", data=chunks(padded),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    huge = body[:-1] + b" " * 200000 + b"}"
    r = requests.post(node.url + "/v1/users", data=chunks(huge, 8192),
                      headers={"Content-Type": "application/json"})
    _problem(r, 413, "payload-too-large")


def test_problem_pages_exist_for_every_type(node):
    slugs = ["malformed-request", "idempotency-key-missing", "unauthorized", "forbidden",
             "not-found", "method-not-allowed", "conflict", "idempotency-in-flight",
             "version-mismatch", "payload-too-large", "unsupported-media-type",
             "validation-failed", "idempotency-key-reused", "insufficient-funds",
             "rate-limited", "unavailable"]
    for slug in slugs:
        r = requests.get(node.url + "/problems/" + slug)
        assert r.status_code == 200, slug
        assert r.headers["Content-Type"].startswith("text/html")
        assert f"/problems/{slug}" in r.text
    _problem(requests.get(node.url + "/problems/../etc"), 404, "not-found")


def test_traceparent_kept_when_valid_replaced_when_not(node):
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = requests.get(node.url + "/healthz", headers={"traceparent": tp})
    assert r.headers["traceparent"] == tp
    for bad in ["garbage", "00-" + "0" * 32 + "-b7ad6b7169203331-01",
                "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", tp + "x"]:
        got = requests.get(node.url + "/healthz", headers={"traceparent": bad}).headers["traceparent"]
        assert got != bad
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", got)


def test_request_log_line_per_request_without_secrets(node):
    # The line is written right after the response is sent: find ours by
    # its trace id, waiting briefly.
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    requests.get(node.url + "/v1/meta",
                 headers={"Authorization": "Bearer secret-token-xyz", "traceparent": tp})
    mine = []
    for _ in range(100):
        lines = [json.loads(l) for l in node.logs().splitlines() if l.startswith("{")]
        mine = [l for l in lines if l.get("trace_id") == tp[3:35]]
        if mine:
            break
        time.sleep(0.02)
    assert len(mine) == 1
    line = mine[0]
    assert line["event"] == "http.request" and line["method"] == "GET"
    assert line["path"] == "/v1/meta" and line["route"] == "/v1/meta" and line["status"] == 200
    assert isinstance(line["latency_us"], int)
    assert "secret-token-xyz" not in node.logs()


def _metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[-1])
    return 0


def test_metrics_count_requests_per_route_and_status(node):
    ok = 'pasar_http_requests_total{route="GET /v1/meta",status="200"}'
    bad = 'pasar_http_requests_total{route="unmatched",status="405"}'
    count = 'pasar_http_request_duration_seconds_count{route="GET /v1/meta"}'
    before = requests.get(node.url + "/metrics").text
    for _ in range(3):
        requests.get(node.url + "/v1/meta")
    requests.post(node.url + "/v1/meta")
    after = requests.get(node.url + "/metrics").text
    assert _metric(after, ok) - _metric(before, ok) == 3
    assert _metric(after, bad) - _metric(before, bad) == 1
    assert _metric(after, count) - _metric(before, count) == 3
    assert "pasar_commit_batches_total" in after
    assert "pasar_store_failed 0" in after
    assert "pasar_transport_" not in after      # a lone node has no peers


def test_metrics_commit_histograms_follow_writes(node):
    batches = "pasar_commit_batch_records_count"
    inf = 'pasar_commit_duration_seconds_bucket{le="+Inf"}'
    before = requests.get(node.url + "/metrics").text
    r = requests.post(node.url + "/v1/users", json={"email": "histo@example.com",
                                                    "password": "correct horse battery",
                                                    "name": "H"})
    assert r.status_code == 201, r.text
    after = requests.get(node.url + "/metrics").text
    assert _metric(after, batches) > _metric(before, batches)
    assert _metric(after, inf) == _metric(after, "pasar_commit_duration_seconds_count")
    assert _metric(after, 'pasar_commit_batch_records_bucket{le="4096"}') <= _metric(after, batches)
    assert "# TYPE pasar_commit_duration_seconds histogram" in after


def test_threads_are_named_for_their_job(node):
    """top -H and perf show which job is busy: every runtime thread has a
    name (docs/architecture.md, Threads)."""
    import pathlib
    names = [p.read_text().strip()
             for p in pathlib.Path(f"/proc/{node.proc.pid}/task").glob("*/comm")]
    for want in ("pasar-commit", "pasar-pump", "pasar-timer", "pasar-worker-0", "pasar-base",
                 "pasar-log"):
        assert want in names, (want, sorted(set(names)))
    assert "civetweb-worker" in names


def _busy_clients(url, count):
    """count keep-alive connections that each send request after request
    until stopped: each holds one of civetweb's threads all along."""
    import threading
    stop = threading.Event()
    served = [0] * count

    def client(i):
        with requests.Session() as s:
            while not stop.is_set():
                if s.get(url + "/healthz", timeout=10).status_code == 200:
                    served[i] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while min(served) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert min(served) > 0, "a busy client was never served"
    return stop, threads


def test_http_threads_bound_the_connections_served_at_once(pasar_bin, tmp_path):
    """http.threads reaches the server: with every thread held by a busy
    keep-alive client, a new client is not served until one lets go; with
    threads to spare, it is served while they stay busy."""
    from node import Node
    for threads, busy, answered in ((8, 8, False), (16, 8, True)):
        (tmp_path / f"t{threads}").mkdir()
        n = Node(pasar_bin, tmp_path / f"t{threads}", extra_toml=f"[http]\nthreads = {threads}\n")
        n.start()
        try:
            stop, clients = _busy_clients(n.url, busy)
            try:
                r = requests.get(n.url + "/healthz", timeout=2)
                got = r.status_code == 200
            except requests.exceptions.ReadTimeout:
                got = False
            stop.set()
            for t in clients:
                t.join(timeout=10)
            assert got == answered, f"threads={threads}, busy={busy}"
            # Once the busy clients are gone, anyone is served again.
            assert requests.get(n.url + "/healthz", timeout=5).status_code == 200
        finally:
            assert n.stop() == 0, n.logs()
