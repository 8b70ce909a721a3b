"""Shared fixtures: where the real captures and peer vectors live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL = SHARED / "real"
VECTORS = SHARED / "vectors"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real/peer data not available here: {path} is missing (it lives in ../shared/data)")
    return path


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """../shared/data/real, or skip with the reason."""
    return _need(REAL)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """../shared/data/vectors, or skip with the reason."""
    return _need(VECTORS)


@pytest.fixture(scope="session")
def crc_vectors(vectors_dir: Path) -> list[dict]:
    """The CRC-16 vectors file."""
    return json.loads((vectors_dir / "crc16.json").read_text())["vectors"]
