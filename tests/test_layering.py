"""The package layering, checked on the source: who may import whom.

* ``protocol/`` is the sans-IO stack both ends share: it imports neither
  ``groundstation`` nor ``spacecraft``; outside ``protocol/links/`` (its I/O
  edge: sockets, recordings, loading mission files) it imports no I/O module
  and not ``protocol.links`` itself.
* The ground segment and the spacecraft only share ``protocol``: neither
  imports the other (the ground starts the spacecraft as a program,
  ``python -m spacecraft``, which is not an import).
* Nothing imports ``tools`` or ``tests``.

Imports are read with :mod:`ast` (relative ones resolved, and
``importlib.import_module("name")`` / ``__import__("name")`` with a literal
name counted too), so a lazy import inside a function counts as well.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocol", "groundstation", "spacecraft")

#: Modules that reach outside the process (files, sockets, processes, threads, signals, the clock).
#: ``time`` is here as a clock: a sans-IO layer is handed the time, it does not read it. ``datetime``
#: is not: protocol/ uses it for epochs and calendar arithmetic, and reads no clock with it
#: (test_protocol_core_reads_no_clock checks that).
IO_MODULES = frozenset({
    "socket", "zmq", "sqlite3", "subprocess", "threading", "asyncio", "selectors", "os", "pathlib", "io",
    "tempfile", "shutil", "signal", "time", "multiprocessing", "urllib", "http", "logging",
})
NEVER_IMPORTED = frozenset({"tools", "tests"})


@dataclass(frozen=True)
class Import:
    """One imported module name, where it is imported."""

    module: str
    line: int


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of a source file under ROOT, and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


@cache
def parsed(source: str) -> ast.Module:
    """The syntax tree of ``source`` (each file is read by two tests)."""
    return ast.parse(source)


def imports_of(source: str, *, module: str, is_package: bool = False) -> list[Import]:
    """Every module ``source`` imports (absolute names; ``from a import b`` counts ``a`` and ``a.b``)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(parsed(source)):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append(Import(target, node.lineno))
            found.extend(Import(f"{target}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__"):
                found.append(Import(node.args[0].value, node.lineno))
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(source: str, *, module: str, is_package: bool = False) -> list[str]:
    """The layering rules ``source`` (the text of ``module``) breaks, one line each."""
    out = []
    for imp in imports_of(source, module=module, is_package=is_package):
        top = _top(imp.module)
        where = f"{module}:{imp.line} imports {imp.module}"
        if top in NEVER_IMPORTED:
            out.append(f"{where} (nothing imports {top})")
        if _within(module, "protocol"):
            if top in ("groundstation", "spacecraft"):
                out.append(f"{where} (protocol is shared by both ends and imports neither)")
            if not _within(module, "protocol.links"):
                if top in IO_MODULES:
                    out.append(f"{where} (protocol outside protocol.links is sans-IO)")
                if _within(imp.module, "protocol.links"):
                    out.append(f"{where} (the sans-IO core does not depend on its I/O edge)")
        if _within(module, "groundstation") and top == "spacecraft":
            out.append(f"{where} (the ground segment never imports the spacecraft)")
        if _within(module, "spacecraft") and top == "groundstation":
            out.append(f"{where} (the spacecraft never imports the ground segment)")
    return out


def sources() -> list[Path]:
    """Every .py file of the three packages."""
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_the_packages_are_there() -> None:
    files = sources()
    for package in PACKAGES:
        assert any(module_name(p)[0] == package for p in files), f"{package}/__init__.py not found"
    assert any(_within(module_name(p)[0], "protocol.links") for p in files)


def test_no_module_breaks_the_layering() -> None:
    broken = []
    for path in sources():
        module, is_package = module_name(path)
        broken += violations(path.read_text(encoding="utf-8"), module=module, is_package=is_package)
    assert broken == []


def test_protocol_core_reads_no_clock() -> None:
    """``datetime`` is allowed in protocol/ for epochs; reading the wall clock through it is not."""
    reads = []
    for path in sources():
        module, _ = module_name(path)
        if not _within(module, "protocol") or _within(module, "protocol.links"):
            continue
        for node in ast.walk(parsed(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today", "fromtimestamp"):
                reads.append(f"{module}:{node.lineno} .{node.attr}")
    assert reads == []


# ------------------------------------------------------------------ the checker itself

@pytest.mark.parametrize("module, source, expected", [
    ("protocol.tmframe", "import groundstation.station\n", "protocol.tmframe:1 imports groundstation.station"),
    ("protocol.pus.body", "from ...spacecraft import onboard\n", "imports spacecraft.onboard"),
    ("protocol.sync", "from time import monotonic\n", "protocol.sync:1 imports time (protocol outside"),
    ("protocol.sync", "import os.path\n", "imports os.path (protocol outside protocol.links is sans-IO)"),
    ("protocol.sync", "def f():\n    import socket\n", "protocol.sync:2 imports socket"),
    ("protocol.sync", "import importlib\nimportlib.import_module('zmq')\n", "protocol.sync:2 imports zmq"),
    ("protocol.dictionary", "from .links import recording\n", "imports protocol.links.recording (the sans-IO"),
    ("groundstation.station", "from spacecraft.onboard import OnboardSoftware\n", "never imports the spacecraft"),
    ("spacecraft.process", "import groundstation\n", "never imports the ground segment"),
    ("spacecraft.process", "from tools.bench import hostinfo\n", "imports tools.bench (nothing imports tools)"),
    ("groundstation.cli", "__import__('tests.conftest')\n", "imports tests.conftest (nothing imports tests)"),
])
def test_the_checker_catches_a_violation(module: str, source: str, expected: str) -> None:
    found = violations(source, module=module)
    assert any(expected in v for v in found), found


@pytest.mark.parametrize("module, source", [
    ("protocol.links.zmqlink", "import time\nimport zmq\n"),  # the I/O edge may
    ("protocol.links.missions", "from ..missionfile import parse_toml\nfrom pathlib import Path\n"),
    ("protocol.timecode", "from datetime import datetime, timedelta\n"),
    ("groundstation.cli", "import subprocess\nos.execv(sys.executable, ['python', '-m', 'spacecraft'])\n"),
    ("spacecraft.onboard", "from protocol.mission import MISSION\nfrom .storage import Store\n"),
])
def test_the_checker_allows_what_the_layers_may_do(module: str, source: str) -> None:
    assert violations(source, module=module) == []


def test_relative_imports_resolve_from_the_package() -> None:
    assert [i.module for i in imports_of("from . import crc\n", module="protocol", is_package=True)] == \
        ["protocol", "protocol.crc"]
    assert [i.module for i in imports_of("from ..errors import X\n", module="protocol.pus.body")] == \
        ["protocol.errors", "protocol.errors.X"]
