"""Shared pytest set-up: tool paths and the per-test build directory."""

import os
from pathlib import Path

import pytest

from sim.toolchain import setup_path

setup_path()

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def build_root():
    """Root of the per-parameter-point build directories (``build/tests``, or ``$ZS_BUILD``)."""
    path = Path(os.environ.get("ZS_BUILD", ROOT / "build" / "tests"))
    path.mkdir(parents=True, exist_ok=True)
    return path
