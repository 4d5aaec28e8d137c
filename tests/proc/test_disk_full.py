"""A node whose disk fills up: writes from outside get 503 and change
nothing, reads go on, the node stays up, and once space is freed writes
resume; every acknowledged write is still there after a restart.

Before store/st_space.c the node died here: LMDB's file is holes until
written, and a page written into a hole on a full disk is a SIGBUS (or
the log's write failed and the node stopped itself).

The disk is a small tmpfs mounted for the test (root only). The store's
reservation is set small (storage.reserve_mb = 2) so it runs out after a
few hundred users rather than 32 MiB of them."""
import concurrent.futures
import os
import subprocess
import time
import uuid

import pytest
import requests

from node import Node

PW = "correct horse battery"


def _metric(node, name):
    for line in requests.get(node.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def _register(node):
    email = f"d{uuid.uuid4().hex[:12]}@example.com"
    r = requests.post(node.url + "/v1/users", timeout=10,
                      json={"email": email, "password": PW, "name": "D"})
    return r, email


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_refuses_writes_keeps_reads_and_recovers(pasar_bin, tmp_path, small_disk):
    n = Node(pasar_bin, tmp_path, extra_toml="")
    n.conf.write_text(n.conf.read_text().replace(
        f'data_dir = "{tmp_path / "data"}"',
        f'data_dir = "{small_disk / "data"}"\nmap_size_mb = 16\nreserve_mb = 2'))
    n.start()
    try:
        acked = {}
        for _ in range(5):
            r, email = _register(n)
            assert r.status_code == 201, r.text
            acked[r.json()["id"]] = email
        # Leave 1 MiB: less than the reservation wants next and than the
        # log's next segment.
        st = os.statvfs(small_disk)
        with open(small_disk / "filler", "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - (1 << 20)))

        refused = []
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for _ in range(20):
                for r, email in pool.map(lambda _: _register(n), range(100)):
                    if r.status_code == 201:
                        acked[r.json()["id"]] = email
                    else:
                        assert r.status_code == 503, r.text
                        refused.append(r)
                if len(refused) >= 50:
                    break
        assert refused, "the disk never filled"
        p = refused[-1]
        assert p.headers["Content-Type"].startswith("application/problem+json")
        assert p.json()["type"].endswith("/unavailable"), p.text
        assert "disk space" in p.json()["detail"], p.text
        assert int(p.headers["Retry-After"]) >= 1
        assert n.proc.poll() is None, n.logs()[-2000:]

        # Reads go on; a refused write changed nothing (its email is free
        # once space is back: registering it again succeeds below).
        some = next(iter(acked))
        assert requests.get(f"{n.url}/v1/users/{some}", timeout=5).status_code == 200
        assert _metric(n, "pasar_store_space_low") == 1
        assert _metric(n, "pasar_refused_no_space_total") >= len(refused)
        assert _metric(n, "pasar_store_failed") == 0
        assert '"event":"store.space_low"' in n.wait_log("store.space_low")

        # Space freed: writes resume within a few retries.
        os.remove(small_disk / "filler")
        deadline = time.monotonic() + 15
        while True:
            r, email = _register(n)
            if r.status_code == 201:
                acked[r.json()["id"]] = email
                break
            assert r.status_code == 503 and time.monotonic() < deadline, r.text
            time.sleep(0.2)
        assert _metric(n, "pasar_store_space_low") == 0
        assert '"event":"store.space_ok"' in n.wait_log("store.space_ok")

        # Every acknowledged user is there after a restart.
        n.restart()
        for uid in acked:
            r = requests.get(f"{n.url}/v1/users/{uid}", timeout=5)
            assert r.status_code == 200, (uid, r.text)
        assert n.proc.poll() is None
    finally:
        n.stop()
