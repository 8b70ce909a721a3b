"""Mission dictionaries as data: the JSON export's document read back, and TOML files written by hand.

A mission file is the document :meth:`MissionDictionary.to_json` writes
(schema in ``docs/dictionary.md``), in TOML or JSON: ``[[commands]]``,
``[[telemetry]]`` with ``[[telemetry.parameters]]``, ``[[events]]``,
``[[onboard_parameters]]``, ``[link.downlink]`` with
``[[link.downlink.virtual_channels]]``, ``[link.uplink]``, ``[time]``. Hand
written files may also

* name APIDs in ``[apids]`` (``OBC = 0x10``) and use the name wherever an
  APID is expected (``apid = "OBC"``, ``apids = ["OBC", "EVENTS"]``);
* name enumerations in ``[enums]`` (``SIDS = {POWER = 1}``) and use the name
  as an argument's ``enum``, or as a ``states`` calibration;
* leave out every key whose value is the default (null, empty, false).

Sans-IO: text in, :class:`~protocol.dictionary.MissionDictionary` out
(:func:`parse_toml`, :func:`parse_json`, :func:`from_document`), and back
(:func:`to_toml`); reading the file is the caller's
(:func:`protocol.links.missions.load_mission`). Every problem is a
:class:`MissionFileError` naming the file, the key path
(``telemetry[1].parameters[2].limits.hard_high``), the line of the declaration
it is in (or of the key) when the text shows it, and what is allowed; a rule
of the dictionary as a whole (a duplicate name) names the declaration that
breaks it.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

from .dictionary import (
    Argument,
    Command,
    DictionaryError,
    DownlinkSettings,
    EventDefinition,
    Fixed,
    Limits,
    LinkSettings,
    MissionDictionary,
    OnboardParameter,
    Parameter,
    Polynomial,
    States,
    TelemetryPacket,
    TimeSettings,
    UplinkSettings,
    VirtualChannel,
)
from .errors import LocalProtocolError

__all__ = ["MissionFileError", "from_document", "parse_toml", "parse_json", "to_toml", "FORMAT"]

FORMAT = "ttc-mission-dictionary"


class MissionFileError(LocalProtocolError):
    """A mission file the dictionary cannot be built from: file, key path, line, value, what is allowed."""

    def __init__(self, source: str, path: str, value: Any, allowed: str, *, line: int | None = None,
                 detail: str = "") -> None:
        self.source = source
        self.path = path
        self.line = line
        where = f"{source}{f' line {line}' if line else ''}"
        super().__init__(where, path or "document", value, allowed, detail=detail)


_HEADER = re.compile(r"^[ \t]*(\[\[?)[ \t]*([A-Za-z0-9_.\- \t\"]+?)[ \t]*\]", re.MULTILINE)
_JSON = json.JSONDecoder()


def _key_path(path: str) -> list[str | int]:
    """``telemetry[1].parameters[2] (NAME)`` as ``["telemetry", 1, "parameters", 2]``."""
    return [int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path.split(" (", 1)[0])]


def _name_pattern(name: str | None, *, json_text: bool) -> re.Pattern[str]:
    """``name = "NAME"`` at the start of a line (TOML) or ``"name": "NAME"`` (JSON); any name when None."""
    key = r'"name"\s*:\s*' if json_text else r'^[ \t]*"?name"?[ \t]*=[ \t]*'
    if name is None:
        return re.compile(key, re.MULTILINE)
    forms = {name, json.dumps(name)[1:-1], json.dumps(name, ensure_ascii=False)[1:-1], _toml_string(name)[1:-1]}
    quoted = "|".join(f'"{re.escape(f)}"' for f in sorted(forms)) + ("" if json_text else f"|'{re.escape(name)}'")
    return re.compile(f"{key}(?:{quoted})", re.MULTILINE)


def _json_skip(text: str, i: int) -> int:
    """Past the JSON whitespace at ``i``."""
    while text[i:i + 1] in (" ", "\t", "\n", "\r"):
        i += 1
    return i


def _json_after(text: str, i: int) -> int:
    """Past the whitespace and the comma after a JSON value ending at ``i``."""
    i = _json_skip(text, i)
    return _json_skip(text, i + 1) if text[i:i + 1] == "," else i


def _json_place(text: str, keys: list[str | int]) -> list[tuple[int, int, int]]:
    """Where each prefix of ``keys`` is in a JSON text, as far as the text has them: (start of its member or
    element, start of its value, end of its value)."""
    out: list[tuple[int, int, int]] = []
    at = _json_skip(text, 0)
    try:
        for key in keys:
            i, found = _json_skip(text, at + 1), None
            if isinstance(key, int):
                if text[at:at + 1] != "[":
                    break
                n = 0
                while text[i:i + 1] not in ("]", ""):
                    if n == key:
                        found = (i, i)
                        break
                    i, n = _json_after(text, _JSON.raw_decode(text, i)[1]), n + 1
            else:
                if text[at:at + 1] != "{":
                    break
                while text[i:i + 1] == '"':
                    member, j = json.decoder.scanstring(text, i + 1)
                    j = _json_skip(text, _json_skip(text, j) + 1)  # past the colon
                    if member == key:
                        found = (i, j)
                        break
                    i = _json_after(text, _JSON.raw_decode(text, j)[1])
            if found is None:
                break
            out.append((found[0], found[1], _JSON.raw_decode(text, found[1])[1]))
            at = found[1]
    except (ValueError, IndexError):
        pass
    return out


class _Reader:
    """Walks the document, tracking the key path of what it reads for error messages."""

    def __init__(self, doc: Mapping[str, Any], source: str, text: str) -> None:
        self.doc = doc
        self.source = source
        self.text = text
        self.apids: dict[str, int] = {}
        self.enums: dict[str, dict[str, int]] = {}

    # -- errors ------------------------------------------------------------------------------
    def line_of(self, path: str, name: Any = None) -> int | None:
        """The line where what the key path ``path`` names is declared, if the text shows it.

        Inside a declaration (the entry of ``commands``, ``telemetry``, ``events``,
        ``onboard_parameters`` or ``link.downlink.virtual_channels`` the path
        points into): the line of ``name = "NAME"`` within that declaration's own
        block (a parameter written as a table of its own), else the line of the
        declaration's own name. Outside: the line of the key (``spacecraft_id``,
        ``link.uplink.map_id``) or of its table.
        """
        if not self.text:
            return None
        keys = _key_path(path)
        declaration = next((i + 1 for i, k in enumerate(keys) if isinstance(k, int)), 0)
        wanted = name if isinstance(name, str) and name else None
        find = self._json_at if self.text.lstrip().startswith("{") else self._toml_at
        at = find(keys, declaration, wanted)
        return None if at is None else self.text.count("\n", 0, at) + 1

    def _toml_at(self, keys: list[str | int], declaration: int, name: str | None) -> int | None:
        text = self.text
        headers = [(m.start(), m.group(1) == "[[", re.sub(r"[ \t]*\.[ \t]*", ".", m.group(2)).replace('"', ""))
                   for m in _HEADER.finditer(text)]
        if declaration:  # the block of an array-of-tables entry: its header up to the next header not inside it
            section, index = ".".join(str(k) for k in keys[:declaration - 1]), keys[declaration - 1]
            starts = [n for n, (_, array, h) in enumerate(headers) if array and h == section]
            if not isinstance(index, int) or index >= len(starts):  # not written as [[section]] tables
                return None
            n = starts[index]
            begin = headers[n][0]
            end = next((pos for pos, _, h in headers[n + 1:] if not h.startswith(section + ".")), len(text))
            own_end = headers[n + 1][0] if n + 1 < len(headers) else len(text)
            m = None if name is None else _name_pattern(name, json_text=False).search(text, begin, end)
            m = m or _name_pattern(None, json_text=False).search(text, begin, own_end)
            return m.start() if m else begin
        tables = [(n, h) for n, (_, array, h) in enumerate(headers) if not array]
        whole = ".".join(str(k) for k in keys)
        hit = next((headers[n][0] for n, h in tables if h == whole), None)
        if hit is not None or not keys:
            return hit
        for j in range(len(keys) - 1, -1, -1):  # the key in its table, or the table
            table = ".".join(str(k) for k in keys[:j])
            if j == 0:
                region = (0, headers[0][0] if headers else len(text))
            else:
                n = next((n for n, h in tables if h == table), None)
                if n is None:
                    continue
                region = (headers[n][0], headers[n + 1][0] if n + 1 < len(headers) else len(text))
            m = re.compile(rf'^[ \t]*"?{re.escape(str(keys[j]))}"?[ \t]*=', re.MULTILINE).search(text, *region)
            if m:
                return m.start()
            if j:
                return region[0]
        return None

    def _json_at(self, keys: list[str | int], declaration: int, name: str | None) -> int | None:
        if not declaration:
            places = _json_place(self.text, keys)
            return places[-1][0] if places else None
        places = _json_place(self.text, keys[:declaration])
        if len(places) < declaration:
            return None
        _, begin, end = places[-1]
        m = None if name is None else _name_pattern(name, json_text=True).search(self.text, begin, end)
        if m:
            return m.start()
        own = _json_place(self.text, [*keys[:declaration], "name"])
        return own[-1][0] if len(own) > declaration else begin

    def fail(self, path: str, value: Any, allowed: str, *, name: Any = None, detail: str = "") -> MissionFileError:
        return MissionFileError(self.source, path, value, allowed, line=self.line_of(path, name), detail=detail)

    # -- typed reads -------------------------------------------------------------------------
    def table(self, node: Any, path: str, keys: Mapping[str, bool], *, name: str | None = None) -> dict[str, Any]:
        """``node`` as a table whose keys are among ``keys`` (True = required)."""
        if not isinstance(node, Mapping):
            raise self.fail(path, node, "a table", name=name)
        unknown = [k for k in node if k not in keys]
        if unknown:
            raise self.fail(f"{path}.{unknown[0]}" if path else unknown[0], "an unknown key",
                            f"one of {', '.join(keys)}", name=name)
        missing = [k for k, required in keys.items() if required and k not in node]
        if missing:
            raise self.fail(f"{path}.{missing[0]}" if path else missing[0], "missing", "a value (required)", name=name)
        return dict(node)

    def names(self, node: Any, path: str, allowed: str) -> dict[str, Any]:
        """``node`` as a table whose keys are names the mission chooses (``[apids]``, ``[enums]``); empty when left
        out."""
        if node is None:
            return {}
        if not isinstance(node, Mapping):
            raise self.fail(path, node, allowed)
        return {str(k): v for k, v in node.items()}

    def array(self, node: Any, path: str) -> list[Any]:
        if node is None:
            return []
        if not isinstance(node, list):
            raise self.fail(path, node, "an array")
        return node

    def integer(self, node: Any, path: str, *, name: str | None = None, allowed: str = "an integer") -> int:
        if isinstance(node, bool) or not isinstance(node, int):
            raise self.fail(path, node, allowed, name=name)
        return node

    def number(self, node: Any, path: str, *, name: str | None = None) -> float | int | None:
        if node is None:
            return None
        if isinstance(node, bool) or not isinstance(node, (int, float)) or (isinstance(node, float) and math.isnan(node)):
            raise self.fail(path, node, "a number", name=name)
        return node

    def text_(self, node: Any, path: str, *, name: str | None = None, default: str = "") -> str:
        if node is None:
            return default
        if not isinstance(node, str):
            raise self.fail(path, node, "a string", name=name)
        return node

    def flag(self, node: Any, path: str, *, default: bool) -> bool:
        if node is None:
            return default
        if not isinstance(node, bool):
            raise self.fail(path, node, "true or false")
        return node

    def apid(self, node: Any, path: str, *, name: str | None = None) -> int:
        if isinstance(node, str):
            if node not in self.apids:
                raise self.fail(path, node, f"an APID number or a name of [apids] ({', '.join(self.apids) or 'none'})",
                                name=name)
            return self.apids[node]
        return self.integer(node, path, name=name)

    def enum(self, node: Any, path: str, *, name: str | None = None) -> dict[str, int] | None:
        if node is None:
            return None
        if isinstance(node, str):
            if node not in self.enums:
                raise self.fail(path, node, f"a table or a name of [enums] ({', '.join(self.enums) or 'none'})",
                                name=name)
            return dict(self.enums[node])
        table = self.table(node, path, {k: False for k in node} if isinstance(node, Mapping) else {}, name=name)
        return {str(k): self.integer(v, f"{path}.{k}", name=name) for k, v in table.items()}

    def refused(self, path: str, name: Any, e: LocalProtocolError) -> MissionFileError:
        """The schema's refusal ``e`` of the declaration at ``path`` (named ``name``) as a MissionFileError."""
        shown = f"{path} ({name})" if isinstance(name, str) and name else path
        detail = f"{e.field}{'; ' + e.detail if e.detail else ''}" if isinstance(e, DictionaryError) else e.field
        return self.fail(shown, e.value, e.allowed, name=name, detail=detail)

    def built(self, path: str, name: Any, make: Callable[[], Any]) -> Any:
        """``make()``, with a DictionaryError it raises turned into a MissionFileError at ``path``."""
        try:
            return make()
        except MissionFileError:
            raise
        except LocalProtocolError as e:
            raise self.refused(path, name, e) from e


_PARAMETER_KEYS = {"name": True, "type": True, "unit": False, "calibration": False, "limits": False,
                   "description": False}
_LIMIT_KEYS = {"soft_low": False, "soft_high": False, "hard_low": False, "hard_high": False}


def _parameter(r: _Reader, node: Any, path: str, *, extra: Mapping[str, bool] | None = None) -> Parameter:
    t = r.table(node, path, {**_PARAMETER_KEYS, **(extra or {})}, name=node.get("name") if isinstance(node, Mapping) else None)
    name = r.text_(t["name"], f"{path}.name")
    cal_node = t.get("calibration")
    cal: Polynomial | States | None = None
    if cal_node is not None:
        c = r.table(cal_node, f"{path}.calibration", {"polynomial": False, "states": False}, name=name)
        if ("polynomial" in c) == ("states" in c):
            raise r.fail(f"{path}.calibration", cal_node, "exactly one of polynomial = [c0, c1, ...] or states = {...}",
                         name=name)
        if "polynomial" in c:
            cal = _coefficients(r, c["polynomial"], f"{path}.calibration.polynomial", name)
        else:
            states = c["states"]
            if isinstance(states, str):
                named = r.enum(states, f"{path}.calibration.states", name=name) or {}
                cal = States({v: k for k, v in named.items()})
            else:
                st = r.table(states, f"{path}.calibration.states", {k: False for k in states}
                             if isinstance(states, Mapping) else {}, name=name)
                out: dict[int, str] = {}
                for k, v in st.items():
                    try:
                        out[int(str(k), 0)] = r.text_(v, f"{path}.calibration.states.{k}", name=name)
                    except ValueError as e:
                        raise r.fail(f"{path}.calibration.states.{k}", k, "a raw value (integer key)", name=name) from e
                cal = States(out)
    lim = None
    if t.get("limits") is not None:
        lt = r.table(t["limits"], f"{path}.limits", _LIMIT_KEYS, name=name)
        lim = Limits(**{k: r.number(lt.get(k), f"{path}.limits.{k}", name=name) for k in _LIMIT_KEYS})
    return r.built(path, name, lambda: Parameter(name, r.text_(t["type"], f"{path}.type", name=name),
                                                 r.text_(t.get("unit"), f"{path}.unit"), cal, lim,
                                                 r.text_(t.get("description"), f"{path}.description")))


_FIELD_KEYS = {"name": True, "type": False, "fixed": False, "unit": False, "min": False, "max": False, "enum": False,
               "default": False, "description": False, "calibration": False, "pus": False}
_COMMAND_KEYS = {"name": True, "apid": True, "service": True, "subtype": True, "description": False, "fields": False,
                 "hazardous": False, "pus": False}
_TELEMETRY_KEYS = {"name": True, "apid": True, "service": True, "subtype": True, "sid": False, "description": False,
                   "parameters": False, "tail": False}
_EVENT_KEYS = {"id": True, "name": True, "severity": True, "text": False, "auxiliary": False}
_ONBOARD_KEYS = {**_PARAMETER_KEYS, "id": True, "settable": False, "type": False}
_VC_KEYS = {"vcid": True, "name": True, "priority": False, "apids": True, "description": False}
_DOWNLINK_KEYS = {"frame_kind": False, "frame_len": False, "ocf": False, "fecf": False, "rs_interleave": False,
                  "rs_basis": False, "randomise": False, "virtual_channels": True, "replay_vcid": False}
_UPLINK_KEYS = {"vcid": False, "map_id": False, "fecf": False, "max_frame_len": False, "randomise": False}
_TIME_KEYS = {"code": False, "coarse_octets": False, "fine_octets": False, "epoch": False, "scale": False}


def _coefficients(r: _Reader, node: Any, path: str, name: str | None) -> Polynomial:
    """A polynomial from its coefficient array (c0 first)."""
    coeffs = r.array(node, path)
    return Polynomial(tuple(float(r.number(x, f"{path}[{i}]", name=name) or 0) for i, x in enumerate(coeffs)))


def _polynomial(r: _Reader, node: Any, path: str, name: str | None) -> Polynomial:
    c = r.table(node, path, {"polynomial": True}, name=name)
    return _coefficients(r, c["polynomial"], f"{path}.polynomial", name)


def _command(r: _Reader, node: Any, path: str) -> Command:
    """A command; fields with ``pus = "<body field>"`` bind the PUS body protocol.pus declares (the others fill
    its mission-defined part, counts are derived), otherwise the fields are the whole application data."""
    name = node.get("name") if isinstance(node, Mapping) else None
    t = r.table(node, path, _COMMAND_KEYS, name=name)
    cname = r.text_(t["name"], f"{path}.name")
    nodes = r.array(t.get("fields"), f"{path}.fields")
    derive = r.flag(t.get("pus"), f"{path}.pus", default=False) or any(
        isinstance(f, Mapping) and f.get("pus") is not None for f in nodes)
    fields: list[Argument | Fixed] = []
    bindings: dict[str, Argument | int] = {}
    for i, f in enumerate(nodes):
        fp = f"{path}.fields[{i}]"
        ft = r.table(f, fp, _FIELD_KEYS, name=cname)
        fname = r.text_(ft["name"], f"{fp}.name", name=cname)
        body_field = None if ft.get("pus") is None else r.text_(ft["pus"], f"{fp}.pus", name=cname)
        if ft.get("type") is None and body_field is None:
            raise r.fail(f"{fp}.type", "missing", "a wire type (only a field bound to a PUS body field with "
                                                  "pus = \"...\" may leave it to the body)", name=cname)
        ftype = None if ft.get("type") is None else r.text_(ft["type"], f"{fp}.type", name=cname)
        item: Argument | Fixed
        if "fixed" in ft and ft["fixed"] is not None:
            others = [k for k in ft if k not in ("name", "type", "fixed", "description", "pus") and ft[k] is not None]
            if others:
                raise r.fail(f"{fp}.{others[0]}", ft[others[0]], "nothing else beside fixed (a constant field)",
                             name=cname)
            value = r.integer(ft["fixed"], f"{fp}.fixed", name=cname)
            if body_field is not None and ftype is None:
                bindings[body_field] = value
                continue
            item = r.built(fp, cname, lambda: Fixed(fname, ftype or "u16", value))
        else:
            default = ft.get("default")
            if (default is not None and not isinstance(default, (int, float, str))) or isinstance(default, bool):
                raise r.fail(f"{fp}.default", default, "a number or an enumeration label", name=cname)
            enum = r.enum(ft.get("enum"), f"{fp}.enum", name=cname)
            lo, hi = r.number(ft.get("min"), f"{fp}.min", name=cname), r.number(ft.get("max"), f"{fp}.max", name=cname)
            cal = None if ft.get("calibration") is None else _polynomial(r, ft["calibration"], f"{fp}.calibration",
                                                                         cname)
            item = r.built(fp, cname, lambda: Argument(
                fname, ftype, r.text_(ft.get("unit"), f"{fp}.unit"), lo, hi, enum, default,
                r.text_(ft.get("description"), f"{fp}.description"), cal))
        if body_field is not None:
            bindings[body_field] = item
        else:
            fields.append(item)
    return r.built(path, cname, lambda: Command(
        cname, r.apid(t["apid"], f"{path}.apid", name=cname), r.integer(t["service"], f"{path}.service", name=cname),
        r.integer(t["subtype"], f"{path}.subtype", name=cname), tuple(fields),
        r.text_(t.get("description"), f"{path}.description"), pus=bindings if derive else None,
        hazardous=r.flag(t.get("hazardous"), f"{path}.hazardous", default=False)))


def _telemetry(r: _Reader, node: Any, path: str) -> TelemetryPacket:
    name = node.get("name") if isinstance(node, Mapping) else None
    t = r.table(node, path, _TELEMETRY_KEYS, name=name)
    tname = r.text_(t["name"], f"{path}.name")
    sub = t["subtype"]
    if sub == []:
        raise r.fail(f"{path}.subtype", sub, "a subtype, or an array of the subtypes one layout serves (one at least)",
                     name=tname)
    subtype: int | tuple[int, ...] = (tuple(r.integer(x, f"{path}.subtype[{i}]", name=tname)
                                            for i, x in enumerate(sub)) if isinstance(sub, list)
                                      else r.integer(sub, f"{path}.subtype", name=tname))
    params = tuple(_parameter(r, p, f"{path}.parameters[{i}]")
                   for i, p in enumerate(r.array(t.get("parameters"), f"{path}.parameters")))
    sid = None if t.get("sid") is None else r.integer(t["sid"], f"{path}.sid", name=tname)
    tail = t.get("tail")
    return r.built(path, tname, lambda: TelemetryPacket(
        tname, r.apid(t["apid"], f"{path}.apid", name=tname), r.integer(t["service"], f"{path}.service", name=tname),
        subtype, params, sid, r.text_(t.get("description"), f"{path}.description"),
        None if tail is None else r.text_(tail, f"{path}.tail", name=tname)))


def _event(r: _Reader, node: Any, path: str) -> EventDefinition:
    name = node.get("name") if isinstance(node, Mapping) else None
    t = r.table(node, path, _EVENT_KEYS, name=name)
    ename = r.text_(t["name"], f"{path}.name")
    aux = tuple(_parameter(r, p, f"{path}.auxiliary[{i}]")
                for i, p in enumerate(r.array(t.get("auxiliary"), f"{path}.auxiliary")))
    return r.built(path, ename, lambda: EventDefinition(
        r.integer(t["id"], f"{path}.id", name=ename), ename, r.text_(t["severity"], f"{path}.severity", name=ename),
        r.text_(t.get("text"), f"{path}.text"), aux))


def _onboard(r: _Reader, node: Any, path: str, telemetry: Mapping[str, Parameter]) -> OnboardParameter:
    name = node.get("name") if isinstance(node, Mapping) else None
    if isinstance(node, Mapping) and set(node) <= {"id", "name", "settable"} and isinstance(name, str) \
            and name in telemetry:
        parameter = telemetry[name]  # a telemetry parameter of that name, reachable through service 20 too
    else:
        parameter = _parameter(r, {k: v for k, v in node.items() if k not in ("id", "settable")}
                               if isinstance(node, Mapping) else node, path)
    t = r.table(node, path, _ONBOARD_KEYS, name=name)
    return r.built(path, name, lambda: OnboardParameter(r.integer(t["id"], f"{path}.id", name=name), parameter,
                                                        r.flag(t.get("settable"), f"{path}.settable", default=True)))


def _link(r: _Reader, node: Any, apids: list[int]) -> LinkSettings:
    if node is None:  # a version-1 document: the link the toolkit used then, every APID on VC 0
        return LinkSettings(downlink=DownlinkSettings(virtual_channels=(
            VirtualChannel(0, "ALL", 0, tuple(dict.fromkeys(apids))),)))
    t = r.table(node, "link", {"downlink": True, "uplink": False})
    d = r.table(t["downlink"], "link.downlink", _DOWNLINK_KEYS)
    vcs = []
    for i, v in enumerate(r.array(d["virtual_channels"], "link.downlink.virtual_channels")):
        vp = f"link.downlink.virtual_channels[{i}]"
        vname = v.get("name") if isinstance(v, Mapping) else None
        vt = r.table(v, vp, _VC_KEYS, name=vname)
        apids = tuple(r.apid(a, f"{vp}.apids[{j}]", name=vname) for j, a in enumerate(r.array(vt["apids"], f"{vp}.apids")))
        vcs.append(r.built(vp, vname, lambda vt=vt, vp=vp, apids=apids: VirtualChannel(
            r.integer(vt["vcid"], f"{vp}.vcid"), r.text_(vt["name"], f"{vp}.name"),
            r.integer(vt.get("priority", vt["vcid"]), f"{vp}.priority"), apids,
            r.text_(vt.get("description"), f"{vp}.description"))))
    defaults = DownlinkSettings.__dataclass_fields__

    def down(key: str, read: Callable[[Any, str], Any]) -> Any:
        return read(d[key], f"link.downlink.{key}") if key in d else defaults[key].default

    def flag(default: bool) -> Callable[[Any, str], bool]:
        return lambda x, p: r.flag(x, p, default=default)

    downlink = r.built("link.downlink", None, lambda: DownlinkSettings(
        frame_kind=down("frame_kind", r.text_), frame_len=down("frame_len", r.integer), ocf=down("ocf", flag(True)),
        fecf=down("fecf", flag(False)), rs_interleave=down("rs_interleave", r.integer),
        rs_basis=down("rs_basis", r.text_), randomise=down("randomise", flag(True)), virtual_channels=tuple(vcs),
        replay_vcid=None if d.get("replay_vcid") in (None, "none") else r.integer(
            d["replay_vcid"], "link.downlink.replay_vcid", allowed='a declared VCID, or "none" (null in JSON)')))
    u = r.table({} if t.get("uplink") is None else t["uplink"], "link.uplink", _UPLINK_KEYS)
    up_defaults = UplinkSettings.__dataclass_fields__
    # no segment header: null in JSON (what to_json writes), "none" in TOML (which has no null)
    no_segment_header = "map_id" in u and (u["map_id"] is None or u["map_id"] == "none")
    uplink = r.built("link.uplink", None, lambda: UplinkSettings(
        vcid=r.integer(u.get("vcid", up_defaults["vcid"].default), "link.uplink.vcid"),
        map_id=None if no_segment_header else r.integer(
            u.get("map_id", up_defaults["map_id"].default), "link.uplink.map_id",
            allowed='a MAP ID, or "none" (null in JSON) for no segment header'),
        fecf=r.flag(u.get("fecf"), "link.uplink.fecf", default=True),
        max_frame_len=r.integer(u.get("max_frame_len", up_defaults["max_frame_len"].default),
                                "link.uplink.max_frame_len"),
        randomise=r.flag(u.get("randomise"), "link.uplink.randomise", default=True)))
    return LinkSettings(downlink=downlink, uplink=uplink)


_UNIQUE_NAMES = {"command name": "commands", "telemetry packet name": "telemetry", "event name": "events"}
_NAMED = (("command ", "commands"), ("telemetry ", "telemetry"), ("event ", "events"),
          ("on-board parameter ", "onboard_parameters"), ("virtual channel ", "link.downlink.virtual_channels"))


def _entries(doc: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    """The entries of the array of tables at the dotted key ``section`` of ``doc`` (none when it has none)."""
    node: Any = doc
    for key in section.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return [x if isinstance(x, Mapping) else {} for x in node] if isinstance(node, list) else []


def _dictionary_place(doc: Mapping[str, Any], e: LocalProtocolError) -> tuple[str, str | None]:
    """The key path (and name) of the declaration a refusal of the dictionary as a whole points at.

    The schema's error names the rule (``e.field``): of two declarations that
    clash, the second (the one MissionDictionary refused, in document order);
    otherwise the declaration or the top-level key the rule names. ``""`` (the
    document) when it names none.
    """
    field = e.field
    if field in ("spacecraft_id", "fingerprint_parameter"):
        return field, None
    if field == "downlink virtual_channels":
        return "link.downlink.virtual_channels", None
    if field in _UNIQUE_NAMES:  # the second declaration of the name
        section = _UNIQUE_NAMES[field]
        hits = [i for i, x in enumerate(_entries(doc, section)) if x.get("name") == e.value]
        return (f"{section}[{hits[min(1, len(hits) - 1)]}]", str(e.value)) if hits else (section, None)
    sub = ""
    m = re.fullmatch(r"APID 0x[0-9A-Fa-f]+ of (.*)", field, re.DOTALL)
    if m:  # the declaration whose APID no virtual channel carries
        field, sub = m.group(1), ".apid"
        if field == "event reports":
            return ("event_apid", None) if doc.get("event_apid") is not None else ("events", None)
    for prefix, section in _NAMED:
        if not field.startswith(prefix):
            continue
        entries = _entries(doc, section)
        names = [x.get("name") for x in entries]
        after = field[len(prefix):] + " "
        named = [n for n in names if isinstance(n, str) and n and after.startswith(n + " ")]
        if not named:
            continue
        name = max(named, key=len)
        rest = field[len(prefix) + len(name):]
        hits = [i for i, n in enumerate(names) if n == name]
        i = hits[0]
        if rest == " ID":  # the first of that name that repeats an earlier ID
            ids = [x.get("id") for x in entries]
            i = next((k for k in hits if ids[k] in ids[:k]), i)
        elif rest == "" and section == "onboard_parameters" and len(hits) > 1:  # a second declaration
            housekeeping = {p.get("name") for tm in _entries(doc, "telemetry")
                            for p in tm.get("parameters") or [] if isinstance(p, Mapping)}
            i = hits[0] if name in housekeeping else hits[1]
        elif rest == " parameter name" and section == "telemetry":  # the parameter of that name in this packet
            params = [p.get("name") if isinstance(p, Mapping) else None
                      for p in entries[i].get("parameters") or []]
            if e.value in params:
                return f"{section}[{i}].parameters[{params.index(e.value)}]", str(e.value)
        elif section == "commands" and (arg := re.match(r" \(TC\[\d+,\d+\]\) (?:argument )?(\S+)", rest)):
            fields = [f.get("name") if isinstance(f, Mapping) else None for f in entries[i].get("fields") or []]
            if arg.group(1) in fields:
                sub = f".fields[{fields.index(arg.group(1))}]"
        return f"{section}[{i}]{sub}", name
    for prefix, path in (("downlink ", "link.downlink"), ("uplink ", "link.uplink"), ("time ", "time")):
        if field.startswith(prefix):
            return path, None
    return "", None


_TOP_KEYS = {"format": True, "version": False, "mission": True, "spacecraft_id": True, "types": False, "apids": False,
             "enums": False, "time": False, "link": False, "event_apid": False, "fingerprint_parameter": False,
             "fingerprint": False, "commands": False, "telemetry": False, "events": False, "onboard_parameters": False}


def from_document(doc: Any, *, source: str = "<mission>", text: str = "") -> MissionDictionary:
    """The dictionary a mission document declares (the JSON export's shape; see docs/dictionary.md)."""
    r = _Reader(doc if isinstance(doc, Mapping) else {}, source, text)
    t = r.table(doc, "", _TOP_KEYS)
    if t["format"] != FORMAT:
        raise r.fail("format", t["format"], f'"{FORMAT}"')
    if t.get("version", 2) not in (1, 2):
        raise r.fail("version", t.get("version"), "1 or 2")
    r.apids = {k: r.integer(v, f"apids.{k}") for k, v in
               r.names(t.get("apids"), "apids", "a table of APID names (OBC = 0x10)").items()}
    r.enums = {k: r.enum(v, f"enums.{k}") or {} for k, v in
               r.names(t.get("enums"), "enums", "a table of enumeration names (SIDS = { POWER = 1 })").items()}
    time_node = r.table({} if t.get("time") is None else t["time"], "time", _TIME_KEYS)
    if time_node.get("code", "CUC") != "CUC":
        raise r.fail("time.code", time_node["code"], '"CUC" (the TM time field this toolkit writes)')
    time_defaults = TimeSettings()
    time = r.built("time", None, lambda: TimeSettings(
        coarse_octets=r.integer(time_node.get("coarse_octets", time_defaults.coarse_octets), "time.coarse_octets"),
        fine_octets=r.integer(time_node.get("fine_octets", time_defaults.fine_octets), "time.fine_octets"),
        epoch=r.text_(time_node.get("epoch"), "time.epoch", default=time_defaults.epoch),
        scale=r.text_(time_node.get("scale"), "time.scale", default=time_defaults.scale)))
    commands = [_command(r, c, f"commands[{i}]") for i, c in enumerate(r.array(t.get("commands"), "commands"))]
    telemetry = [_telemetry(r, p, f"telemetry[{i}]") for i, p in enumerate(r.array(t.get("telemetry"), "telemetry"))]
    events = [_event(r, e, f"events[{i}]") for i, e in enumerate(r.array(t.get("events"), "events"))]
    event_apid = None if t.get("event_apid") is None else r.apid(t["event_apid"], "event_apid")
    sent = [*(c.apid for c in commands), *(p.apid for p in telemetry), *([event_apid] if event_apid is not None else [])]
    link = _link(r, t.get("link"), sent)
    by_name = {p.name: p for tm in telemetry for p in tm.parameters}
    onboard = [_onboard(r, o, f"onboard_parameters[{i}]", by_name)
               for i, o in enumerate(r.array(t.get("onboard_parameters"), "onboard_parameters"))]
    fp_param = None if t.get("fingerprint_parameter") is None else r.text_(t["fingerprint_parameter"],
                                                                          "fingerprint_parameter")
    name, scid = r.text_(t["mission"], "mission"), r.integer(t["spacecraft_id"], "spacecraft_id")
    try:
        mission = MissionDictionary(
            name=name, scid=scid, commands=commands, telemetry=telemetry, events=events, onboard_parameters=onboard,
            link=link, time=time, event_apid=event_apid, apids=r.apids, fingerprint_parameter=fp_param)
    except LocalProtocolError as e:  # a rule of the dictionary as a whole: at the declaration it points at
        raise r.refused(*_dictionary_place(t, e), e) from e
    stated = t.get("fingerprint")
    if stated is not None and str(stated).upper() != f"{mission.fingerprint:08X}":
        raise r.fail("fingerprint", stated, f"{mission.fingerprint:08X} (what these declarations hash to)",
                     detail="the file was edited after it was exported: remove the key or update it")
    return mission


def parse_toml(text: str, *, source: str = "<mission.toml>") -> MissionDictionary:
    """The dictionary a TOML mission file declares."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise MissionFileError(source, "", "not valid TOML", "a TOML document (https://toml.io)",
                               line=int(m.group(1)) if m else None, detail=str(e)) from e
    return from_document(doc, source=source, text=text)


def parse_json(text: str, *, source: str = "<mission.json>") -> MissionDictionary:
    """The dictionary a JSON mission document (``ttc db export --format json``) declares."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise MissionFileError(source, "", "not valid JSON", "a JSON object", line=e.lineno, detail=e.msg) from e
    return from_document(doc, source=source, text=text)


# ------------------------------------------------------------------ writing TOML

#: What a TOML basic string must escape (TOML 1.0): the quotation mark, the backslash and the control characters;
#: tab and the C1 controls may stay but are escaped too, so that a written file shows every control character.
_MUST_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f-\x9f]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    return _SHORT_ESCAPES.get(m.group()) or f"\\u{ord(m.group()):04X}"


def _toml_string(s: str) -> str:
    """``s`` as a TOML basic string: quotation mark, backslash and every control character escaped."""
    return f'"{_MUST_ESCAPE.sub(_escape, s)}"'


def _toml_comment(s: str) -> str:
    """``s`` fit for a TOML comment (one line, no control character): control characters written as escapes."""
    return _CONTROL.sub(_escape, s)


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_string(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if not isinstance(v, float) or math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        items = [f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items() if x is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"no TOML form for {type(v).__name__}")


#: The keys of each table a mission file has, by its TOML name (True = required: written even when empty).
_TABLES: dict[str, Mapping[str, bool]] = {
    "": _TOP_KEYS, "commands": _COMMAND_KEYS, "commands.fields": _FIELD_KEYS, "telemetry": _TELEMETRY_KEYS,
    "telemetry.parameters": _PARAMETER_KEYS, "events": _EVENT_KEYS, "events.auxiliary": _PARAMETER_KEYS,
    "onboard_parameters": _ONBOARD_KEYS, "time": _TIME_KEYS, "link.downlink": _DOWNLINK_KEYS,
    "link.downlink.virtual_channels": _VC_KEYS, "link.uplink": _UPLINK_KEYS}


def _emit(out: list[str], table: Mapping[str, Any], prefix: str) -> None:
    """Write ``table``'s plain keys, then its sub-tables and arrays of tables under ``prefix``; an empty value is
    left out (the default) unless the reader requires its key."""
    required = _TABLES.get(prefix, {})
    nested = []
    for k, v in table.items():
        if v is None or ((v == "" or v == [] or v == {}) and not required.get(k, False)):
            continue  # the default: left out (TOML has no null)
        if isinstance(v, Mapping) and any(isinstance(x, (Mapping, list)) and x and isinstance(x, list)
                                          and isinstance(x[0], Mapping) for x in v.values()):
            nested.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            nested.append((k, v))
        else:
            out.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in nested:
        name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
        if isinstance(v, list):
            for item in v:
                out.append(f"\n[[{name}]]")
                _emit(out, item, name)
        else:
            out.append(f"\n[{name}]")
            _emit(out, v, name)


def to_toml(mission: MissionDictionary) -> str:
    """The dictionary as a TOML mission file (what :func:`parse_toml` reads back to an equal dictionary)."""
    doc = mission.to_json()
    doc.pop("types", None)  # the schema's, not the mission's
    link = doc.pop("link")
    if link["uplink"]["map_id"] is None:
        link["uplink"]["map_id"] = "none"  # no segment header (TOML has no null)
    head = {k: v for k, v in doc.items() if not isinstance(v, list)}
    lines = [f"# {_toml_comment(mission.name)}: ttc mission dictionary (docs/dictionary.md), "
             f"fingerprint {mission.fingerprint:08X}"]
    _emit(lines, head, "")
    lines.append("\n[link.downlink]")
    _emit(lines, link["downlink"], "link.downlink")
    lines.append("\n[link.uplink]")
    _emit(lines, link["uplink"], "link.uplink")
    _emit(lines, {k: v for k, v in doc.items() if isinstance(v, list)}, "")
    return "\n".join(lines) + "\n"
