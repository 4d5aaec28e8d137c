"""A local cluster of real `bin/pasar node` processes on loopback: one
generated cluster.toml, one data dir and log per node, CURVE keys made by
`bin/pasar keys`."""
import pathlib
import signal
import subprocess
import time

import requests

from node import free_port


class Cluster:
    def __init__(self, pasar_bin, tmp, n, extra_toml="", peer_down_ms=1000):
        self.bin = pathlib.Path(pasar_bin)
        self.tmp = pathlib.Path(tmp)
        self.ids = [f"n{i + 1}" for i in range(n)]
        self.http = {i: free_port() for i in self.ids}
        self.zmq = {i: free_port() for i in self.ids}
        self.conf = self.tmp / "cluster.toml"
        self.extra_toml, self.peer_down_ms, self.epoch = extra_toml, peer_down_ms, 1
        self._write()
        subprocess.run([str(self.bin), "keys", "-c", str(self.conf)], check=True,
                       capture_output=True)
        self.procs = {}

    def _write(self):
        nodes = "".join(f"""
[[node]]
id = "{i}"
bind = "tcp://127.0.0.1:{self.zmq[i]}"
http = "127.0.0.1:{self.http[i]}"
""" for i in self.ids)
        self.conf.write_text(f"""
[cluster]
name = "test"
shards = 32
epoch = {self.epoch}
peer_down_ms = {self.peer_down_ms}
[storage]
data_dir = "{self.tmp / 'data'}"
[security]
keys_dir = "{self.tmp / 'keys'}"
[auth]
jwt_secret_file = "{self.tmp / 'keys' / 'jwt.secret'}"
{self.extra_toml}
{nodes}""")

    def add_node(self):
        """Scale out the way an operator does: a new [[node]], the epoch
        bumped, keys made, the node started, SIGHUP to the others."""
        i = f"n{len(self.ids) + 1}"
        self.http[i], self.zmq[i] = free_port(), free_port()
        self.epoch += 1
        self.ids = self.ids + [i]
        self._write()
        subprocess.run([str(self.bin), "keys", "-c", str(self.conf)], check=True,
                       capture_output=True)
        self.start(i, wait=False)
        for j, p in self.procs.items():
            if j != i and p.poll() is None:
                p.send_signal(signal.SIGHUP)
        return i

    def moving(self):
        """Shards moving (out + in) over every node that answers."""
        total = 0
        for i in self.ids:
            try:
                text = requests.get(self.url(i) + "/metrics", timeout=1).text
            except requests.RequestException:
                return None
            for line in text.splitlines():
                if line.startswith(("pasar_shards_moving_out ", "pasar_shards_moving_in ")):
                    total += int(float(line.split()[1]))
        return total

    def url(self, i):
        return f"http://127.0.0.1:{self.http[i]}"

    def log_path(self, i):
        return self.tmp / f"{i}.log"

    def logs(self, i):
        return self.log_path(i).read_text(errors="replace")

    def wait_log(self, i, text, timeout=2.0):
        """Node i's log once it holds text (a node writes its lines every
        RT_LOG_FLUSH_MS), or as it is after timeout."""
        deadline = time.monotonic() + timeout
        while text not in (logs := self.logs(i)) and time.monotonic() < deadline:
            time.sleep(0.02)
        return logs

    def start(self, *ids, wait=True):
        for i in ids or self.ids:
            log = open(self.log_path(i), "ab")
            self.procs[i] = subprocess.Popen(
                [str(self.bin), "node", "-c", str(self.conf), "-n", i],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
        if wait:
            self.wait_ready(*(ids or self.ids))
        return self

    def wait_ready(self, *ids, timeout=10):
        deadline = time.monotonic() + timeout
        for i in ids:
            while True:
                try:
                    if requests.get(self.url(i) + "/readyz", timeout=0.5).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert self.procs[i].poll() is None, self.logs(i)
                assert time.monotonic() < deadline, f"{i} not ready:\n" + self.logs(i)
                time.sleep(0.05)

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait(timeout=10)

    def stop(self):
        codes = {}
        for i, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i, p in self.procs.items():
            p.wait(timeout=20)
            codes[i] = p.returncode
        return codes
