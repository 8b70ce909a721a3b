"""The mission dictionary a ``ttc`` command works with: ``ttc --mission SPEC`` or ``TTC_MISSION``.

``ttc --mission my.toml send PING`` loads ``my.toml`` once (see
:mod:`protocol.links.missions` for what SPEC may be); the processes a
command starts (``ttc spacecraft``, ``ttc demo``) are given the same SPEC.
"""

from __future__ import annotations

import os

import click

from protocol.dictionary import MissionDictionary
from protocol.links.missions import MissionLoadError, load_mission

__all__ = ["choose", "selected", "spec"]

_spec: str | None = None
_loaded: MissionDictionary | None = None


def choose(spec: str | None) -> None:
    """Use the mission dictionary ``spec`` names (None: TTC_MISSION, else the reference satellite)."""
    global _spec, _loaded
    _spec, _loaded = spec, None


def spec() -> str | None:
    """The SPEC chosen (--mission, else TTC_MISSION), None for the reference satellite."""
    return _spec or os.environ.get("TTC_MISSION") or None


def selected() -> MissionDictionary:
    """The chosen mission dictionary, loaded on first use; a click error naming the problem if it cannot be."""
    global _loaded
    if _loaded is None:
        try:
            _loaded = load_mission(spec())
        except MissionLoadError as e:
            raise click.ClickException(str(e)) from e
    return _loaded
