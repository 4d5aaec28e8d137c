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


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A running single-node cluster shared by a test module; stopped with
    SIGTERM afterwards, and it must exit 0 (a clean drain)."""
    from node import Node
    n = Node(BIN / "pasar", tmp_path_factory.mktemp("node")).start()
    yield n
    assert n.stop() == 0, n.logs()
