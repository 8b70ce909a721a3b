"""Shared fixtures: where the real captures and peer vectors live, and the session's station keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundstation.keys import KEYS_ENV, ensure_keys

DATA = Path(__file__).resolve().parent / "data"
REAL = DATA / "real"  # public real captures with their SOURCES.txt and ground truth
VECTORS = DATA / "vectors"  # peer test vectors, with their sources in README.md


def _need(path: Path) -> Path:
    if not path.exists():  # they are in the repository: absent only in a partial checkout
        pytest.fail(f"test data missing: {path} (tests/data/ belongs to the repository)")
    return path


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """tests/data/real: the real captures (SOURCES.txt says where each comes from)."""
    return _need(REAL)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """tests/data/vectors: the peer test vectors."""
    return _need(VECTORS)


@pytest.fixture(scope="session")
def crc_vectors(vectors_dir: Path) -> list[dict]:
    """The CRC-16 vectors file."""
    return json.loads((vectors_dir / "crc16.json").read_text())["vectors"]


@pytest.fixture(scope="session", autouse=True)
def station_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A CURVE key directory for the whole session, in $TTC_KEYS (stations and clients, in-process or children,
    find it there): tests never touch ~/.config/ttc/keys."""
    path = ensure_keys(tmp_path_factory.mktemp("ttc-keys") / "keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEYS_ENV, str(path))
        mp.delenv("TTC_INSECURE", raising=False)
        yield path
