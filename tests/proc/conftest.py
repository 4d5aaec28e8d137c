"""Shared fixtures for the process-level tests: where the binaries are."""
import os
import pathlib

import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("PASAR_BUILD", ROOT / "build"))
BIN = pathlib.Path(os.environ.get("PASAR_BIN", ROOT / "bin"))


@pytest.fixture
def build_dir():
    return BUILD


@pytest.fixture
def pasar_bin():
    return BIN / "pasar"


@pytest.fixture(scope="module", params=["local", "redis"])
def node(request, tmp_path_factory):
    """A running single-node cluster shared by a test module; stopped with
    SIGTERM afterwards, and it must exit 0 (a clean drain). Every module
    that uses it runs twice: on node-local state, and with [redis] on a
    real redis-server of its own."""
    from node import Node
    from redisd import RedisServer
    tmp = tmp_path_factory.mktemp("node")
    redis = RedisServer(tmp).start() if request.param == "redis" else None
    n = Node(BIN / "pasar", tmp, redis_url=redis.url if redis else None).start()
    n.redis = redis
    yield n
    rc = n.stop()
    if redis:
        redis.kill()
    assert rc == 0, n.logs()
