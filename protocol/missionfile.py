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
(``telemetry[1].parameters[2].limits.hard_high``), the line where the
declaration starts when it can be found, and what is allowed.
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


class _Reader:
    """Walks the document, tracking the key path of what it reads for error messages."""

    def __init__(self, doc: Mapping[str, Any], source: str, text: str) -> None:
        self.doc = doc
        self.source = source
        self.text = text
        self.apids: dict[str, int] = {}
        self.enums: dict[str, dict[str, int]] = {}

    # -- errors ------------------------------------------------------------------------------
    def line_of(self, name: str | None) -> int | None:
        """The line of ``name = "NAME"`` in the text (where a declaration starts), if any."""
        if not name or not self.text:
            return None
        m = re.search(rf'^\s*"?name"?\s*[=:]\s*"{re.escape(name)}"', self.text, re.MULTILINE)
        return self.text.count("\n", 0, m.start()) + 1 if m else None

    def fail(self, path: str, value: Any, allowed: str, *, name: str | None = None, detail: str = "") -> MissionFileError:
        return MissionFileError(self.source, path, value, allowed, line=self.line_of(name), detail=detail)

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

    def array(self, node: Any, path: str) -> list[Any]:
        if node is None:
            return []
        if not isinstance(node, list):
            raise self.fail(path, node, "an array")
        return node

    def integer(self, node: Any, path: str, *, name: str | None = None) -> int:
        if isinstance(node, bool) or not isinstance(node, int):
            raise self.fail(path, node, "an integer", name=name)
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

    def built(self, path: str, name: str | None, make: Callable[[], Any]) -> Any:
        """``make()``, with a DictionaryError it raises turned into a MissionFileError at ``path``."""
        try:
            return make()
        except MissionFileError:
            raise
        except DictionaryError as e:
            raise self.fail(f"{path} ({name})" if name else path, e.value, e.allowed, name=name,
                            detail=f"{e.field}{'; ' + e.detail if e.detail else ''}") from e
        except LocalProtocolError as e:
            raise self.fail(f"{path} ({name})" if name else path, e.value, e.allowed, name=name, detail=e.field) from e


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
    t = r.table(node, path, {"name": True, "apid": True, "service": True, "subtype": True, "description": False,
                             "fields": False, "hazardous": False, "pus": False}, name=name)
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
    t = r.table(node, path, {"name": True, "apid": True, "service": True, "subtype": True, "sid": False,
                             "description": False, "parameters": False, "tail": False}, name=name)
    tname = r.text_(t["name"], f"{path}.name")
    sub = t["subtype"]
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
    t = r.table(node, path, {"id": True, "name": True, "severity": True, "text": False, "auxiliary": False}, name=name)
    ename = r.text_(t["name"], f"{path}.name")
    aux = tuple(_parameter(r, p, f"{path}.auxiliary[{i}]")
                for i, p in enumerate(r.array(t.get("auxiliary"), f"{path}.auxiliary")))
    return r.built(path, ename, lambda: EventDefinition(
        r.integer(t["id"], f"{path}.id", name=ename), ename, r.text_(t["severity"], f"{path}.severity", name=ename),
        r.text_(t.get("text"), f"{path}.text"), aux))


def _onboard(r: _Reader, node: Any, path: str, telemetry: Mapping[str, Parameter]) -> OnboardParameter:
    name = node.get("name") if isinstance(node, Mapping) else None
    if isinstance(node, Mapping) and set(node) <= {"id", "name", "settable"} and name in telemetry:
        parameter = telemetry[name]  # a telemetry parameter of that name, reachable through service 20 too
    else:
        parameter = _parameter(r, {k: v for k, v in node.items() if k not in ("id", "settable")}
                               if isinstance(node, Mapping) else node, path)
    t = r.table(node, path, {**_PARAMETER_KEYS, "id": True, "settable": False, "type": False}, name=name)
    return r.built(path, name, lambda: OnboardParameter(r.integer(t["id"], f"{path}.id", name=name), parameter,
                                                        r.flag(t.get("settable"), f"{path}.settable", default=True)))


def _link(r: _Reader, node: Any, apids: list[int]) -> LinkSettings:
    if node is None:  # a version-1 document: the link the toolkit used then, every APID on VC 0
        return LinkSettings(downlink=DownlinkSettings(virtual_channels=(
            VirtualChannel(0, "ALL", 0, tuple(dict.fromkeys(apids))),)))
    t = r.table(node, "link", {"downlink": True, "uplink": False})
    d = r.table(t["downlink"], "link.downlink", {"frame_kind": False, "frame_len": False, "ocf": False, "fecf": False,
                                                 "rs_interleave": False, "rs_basis": False, "randomise": False,
                                                 "virtual_channels": True})
    vcs = []
    for i, v in enumerate(r.array(d["virtual_channels"], "link.downlink.virtual_channels")):
        vp = f"link.downlink.virtual_channels[{i}]"
        vname = v.get("name") if isinstance(v, Mapping) else None
        vt = r.table(v, vp, {"vcid": True, "name": True, "priority": False, "apids": True, "description": False},
                     name=vname)
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
        rs_basis=down("rs_basis", r.text_), randomise=down("randomise", flag(True)), virtual_channels=tuple(vcs)))
    u = r.table(t.get("uplink") or {}, "link.uplink", {"vcid": False, "map_id": False, "fecf": False,
                                                       "max_frame_len": False, "randomise": False})
    up_defaults = UplinkSettings.__dataclass_fields__
    uplink = r.built("link.uplink", None, lambda: UplinkSettings(
        vcid=r.integer(u.get("vcid", up_defaults["vcid"].default), "link.uplink.vcid"),
        map_id=None if u.get("map_id") == "none" else
        r.integer(u.get("map_id", up_defaults["map_id"].default), "link.uplink.map_id"),
        fecf=r.flag(u.get("fecf"), "link.uplink.fecf", default=True),
        max_frame_len=r.integer(u.get("max_frame_len", up_defaults["max_frame_len"].default),
                                "link.uplink.max_frame_len"),
        randomise=r.flag(u.get("randomise"), "link.uplink.randomise", default=True)))
    return LinkSettings(downlink=downlink, uplink=uplink)


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
    r.apids = {str(k): r.integer(v, f"apids.{k}") for k, v in r.table(t.get("apids") or {}, "apids",
                                                                       {k: False for k in t.get("apids") or {}}).items()}
    r.enums = {str(k): r.enum(v, f"enums.{k}") or {} for k, v in
               r.table(t.get("enums") or {}, "enums", {k: False for k in t.get("enums") or {}}).items()}
    time_node = r.table(t.get("time") or {}, "time", {"code": False, "coarse_octets": False, "fine_octets": False,
                                                      "epoch": False, "scale": False})
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
    mission = r.built("", None, lambda: MissionDictionary(
        name=r.text_(t["mission"], "mission"), scid=r.integer(t["spacecraft_id"], "spacecraft_id"),
        commands=commands, telemetry=telemetry, events=events, onboard_parameters=onboard, link=link, time=time,
        event_apid=event_apid, apids=r.apids, fingerprint_parameter=fp_param))
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

def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if not isinstance(v, float) or math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        items = [f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items() if x is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def _emit(out: list[str], table: Mapping[str, Any], prefix: str) -> None:
    """Write ``table``'s plain keys, then its sub-tables and arrays of tables under ``prefix``."""
    nested = []
    for k, v in table.items():
        if v is None or v == "" or v == [] or v == {}:
            continue  # the default: left out
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
    lines = [f"# {mission.name}: ttc mission dictionary (docs/dictionary.md), fingerprint {mission.fingerprint:08X}"]
    _emit(lines, head, "")
    lines.append("\n[link.downlink]")
    _emit(lines, link["downlink"], "link.downlink")
    lines.append("\n[link.uplink]")
    _emit(lines, link["uplink"], "link.uplink")
    _emit(lines, {k: v for k, v in doc.items() if isinstance(v, list)}, "")
    return "\n".join(lines) + "\n"
