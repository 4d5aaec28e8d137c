"""Start a real `bin/pasar node` on a free loopback port for black-box tests."""
import os
import pathlib
import random
import signal
import socket
import subprocess
import time

import requests


def free_port():
    """A free port below the ephemeral range: a port the kernel hands out
    for outgoing connections (ZeroMQ reconnects make many) could be taken
    between choosing it here and the node binding it."""
    low = int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(10000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class Node:
    """One node of a generated single-node cluster.toml under tmp."""

    def __init__(self, pasar_bin, tmp, extra_toml="", redis_url=None):
        self.bin = pathlib.Path(pasar_bin)
        self.tmp = pathlib.Path(tmp)
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.conf = self.tmp / "cluster.toml"
        self.conf.write_text(f"""
[cluster]
name = "test"
shards = 16
[storage]
data_dir = "{self.tmp / 'data'}"
[security]
keys_dir = "{self.tmp / 'keys'}"
[auth]
jwt_secret_file = "{self.tmp / 'keys' / 'jwt.secret'}"
{extra_toml}
{f'[redis]{chr(10)}url = "{redis_url}"' if redis_url else ""}
[[node]]
id = "n1"
bind = "tcp://127.0.0.1:{free_port()}"
http = "127.0.0.1:{self.http_port}"
""")
        self.log = None
        self.proc = None

    def start(self):
        self.log = open(self.tmp / "node.log", "ab")
        subprocess.run([str(self.bin), "keys", "-c", str(self.conf)], check=True,
                       capture_output=True)
        self.proc = subprocess.Popen([str(self.bin), "node", "-c", str(self.conf), "-n", "n1"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            assert self.proc.poll() is None, self.logs()
            time.sleep(0.05)
        raise AssertionError("node did not start:\n" + self.logs())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        if self.log:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def restart(self):
        """SIGTERM, then start again on the same data, keys and port."""
        assert self.stop() == 0, self.logs()
        return self.start()

    def logs(self):
        if self.log:
            self.log.flush()
        return (self.tmp / "node.log").read_text(errors="replace")

    def wait_log(self, text, timeout=2.0):
        """The log once it holds text (the node writes its lines every
        RT_LOG_FLUSH_MS), or as it is after timeout."""
        deadline = time.monotonic() + timeout
        while text not in (logs := self.logs()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return logs
