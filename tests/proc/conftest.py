"""Shared fixtures for the process-level tests: where the binaries are."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("PASAR_BUILD", ROOT / "build"))
BIN = pathlib.Path(os.environ.get("PASAR_BIN", ROOT / "bin"))


@pytest.fixture
def build_dir():
    return BUILD


@pytest.fixture
def pasar_bin():
    return BIN / "pasar"
