"""Shared fixtures: where the real captures and peer vectors live, and the session's station keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundstation.keys import KEYS_ENV, ensure_keys

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


@pytest.fixture(scope="session", autouse=True)
def station_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A CURVE key directory for the whole session, in $TTC_KEYS (stations and clients, in-process or children,
    find it there): tests never touch ~/.config/ttc/keys."""
    path = ensure_keys(tmp_path_factory.mktemp("ttc-keys") / "keys")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEYS_ENV, str(path))
        mp.delenv("TTC_INSECURE", raising=False)
        yield path
