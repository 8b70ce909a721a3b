"""Loading a mission dictionary by name: the I/O edge of :mod:`protocol.missionfile`.

``--mission SPEC`` (every ``ttc`` command and both processes) and the
``TTC_MISSION`` environment variable take one of

* a TOML file (``mission.toml``) or a JSON export (``mission.json``), read by
  :mod:`protocol.missionfile` (schema: ``docs/dictionary.md``);
* a Python file (``mission.py``) or an importable module (``mymission`` or
  ``pkg.mymission``), optionally ``:ATTRIBUTE``; the attribute (default
  ``MISSION``) must be a :class:`~protocol.dictionary.MissionDictionary`;
* nothing / ``reference``: the ttc reference satellite (:data:`protocol.mission.MISSION`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from ..dictionary import MissionDictionary
from ..errors import ProtocolError
from ..missionfile import parse_json, parse_toml

__all__ = ["MissionLoadError", "load_mission"]


class MissionLoadError(Exception):
    """A mission dictionary could not be loaded: the message says which file or module, and why."""


def _from_module(spec: str) -> MissionDictionary:
    target, _, attribute = spec.partition(":")
    attribute = attribute or "MISSION"
    path = Path(target)
    try:
        if target.endswith(".py"):
            if not path.is_file():
                raise MissionLoadError(f"mission {spec}: no such file {path}")
            module_name = f"_ttc_mission_{abs(hash(str(path.resolve())))}"
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise MissionLoadError(f"mission {spec}: {path} cannot be imported as a Python module")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[module_name] = module
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except MissionLoadError:
        raise
    except ProtocolError as e:  # the module's declarations were refused by the schema
        raise MissionLoadError(f"mission {spec}: {e}") from e
    except Exception as e:  # an import of someone else's code: whatever it raises, say so and stop
        raise MissionLoadError(f"mission {spec}: importing it failed: {type(e).__name__}: {e}") from e
    value = getattr(module, attribute, None)
    if not isinstance(value, MissionDictionary):
        found = [k for k, v in vars(module).items() if isinstance(v, MissionDictionary)]
        hint = f" (it has {', '.join(found)}: use {target}:{found[0]})" if found else ""
        raise MissionLoadError(f"mission {spec}: {attribute} is not a MissionDictionary{hint}")
    return value


def load_mission(spec: str | Path | None = None) -> MissionDictionary:
    """The mission dictionary ``spec`` names (None or "reference": the ttc reference satellite)."""
    if spec is None or str(spec) in ("", "reference"):
        from ..mission import MISSION
        return MISSION
    text_spec = str(spec)
    suffix = Path(text_spec).suffix.lower()
    if suffix in (".toml", ".json"):
        path = Path(text_spec)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise MissionLoadError(f"mission {path}: cannot be read: {e}") from e
        try:
            return (parse_toml if suffix == ".toml" else parse_json)(text, source=str(path))
        except ProtocolError as e:
            raise MissionLoadError(str(e)) from e
    return _from_module(text_spec)
