"""PUS-C message bodies (the application data of a TC, the source data of a TM, ECSS-E-ST-70-41C §7.4.3,
§8): the base type, the registry by message type, and the one generic layout-backed body.

* :class:`LayoutBody` -- a frozen dataclass body whose octets are exactly its ``LAYOUT``, a construct
  ``Struct`` whose field names are the dataclass's. ``encode()`` and ``decode()`` are derived from the
  two together: tuples <-> lists, nested frozen dataclasses <-> structs, a plain tuple <-> a struct of
  as many fields, bytes <-> bytes, enums validated (:class:`Enumerated`) with the typed errors of
  :mod:`protocol.errors`. Every service module declares its bodies this way.
* Construct pieces for what a plain layout cannot hold alone: :class:`Enumerated` (an integer that must
  be a member of an enum), :class:`Anchored` (errors inside name the piece's own offset),
  :class:`EntriesEnd` (the body ends after its N entries), :class:`OctetsField` (octets whose width
  the mission declares, from ``BodyOptions`` through ``this._params.options``) and
  :class:`ObjectField` (a value with its own codec: a time code, an embedded TC).
* :func:`decode_body` looks up (packet type, service, subtype) in the registry and returns the typed body.
* :func:`body_fields` -- a body flattened to one entry per list (:class:`BodyField`), derived from the
  layout, for the mission dictionary to declare commands and packets on PUS bodies without retyping them.

Flattening rules (:func:`body_fields`):

* A field keeps its layout name. An integer field gives its wire type (``u16``, ``u32``, ...), and an
  :class:`Enumerated` one the enum of the codes the typed body accepts (``codes``); a
  bit structure (the request ID of service 1) is one unsigned integer of its width (``request_id``
  ``u32``: the 4 request ID octets, big-endian, as spacepackets' ``RequestId.as_u32()``); octets to the
  end of the body or octets whose width the mission declares give ``type=None``.
* A list (N, then N entries) gives its count N first (``count=True``), named ``n`` -- ``n_<list>``
  when the body holds more than one list -- then one entry: a list of structs contributes the
  struct's fields, a list of integers one field named after the list in the singular (``ids`` ->
  ``id``, ``parameter_ids`` -> ``parameter_id``).
* A name that an earlier entry of the same body already took is prefixed with the enclosing list's
  name and a dot (TC[3,1]: ``groups.n_parameter_ids``, ``groups.parameter_id``). Names are unique.
* A body with an :class:`ObjectField` (time codes, embedded TCs: TC[11,4], TM[11,13], TM[9,2],
  TM[9,3]) has no flat form: None.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import functools
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import construct as c

from ..errors import LocalProtocolError, RemoteProtocolError, TruncatedError, check_enum, construct_errors
from ..layout import BitLayout
from ..spacepacket import PRIMARY_HEADER_LEN, PacketType
from ..timecode import TimeConfig
from .packet import DEFAULT_TM_TIME, LAYER, TC_SECONDARY_HEADER_LEN, TM_SECONDARY_HEADER_LEN, MessageType, PusTc, PusTm

__all__ = [
    "BodyOptions", "DEFAULT_OPTIONS", "Body", "LayoutBody", "register_body", "body_class", "decode_body",
    "registered_types", "BodyField", "body_fields",
    "Enumerated", "Anchored", "EntriesEnd", "OctetsField", "ObjectField",
    "Count", "IdListLayout", "IdListBody", "EmptyLayout", "EmptyBody",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyOptions:
    """Mission choices a body decoder needs: the implicit time format and parameter value widths."""

    time_config: TimeConfig = DEFAULT_TM_TIME
    parameter_octets: Mapping[int, int] = field(default_factory=dict)
    default_parameter_octets: int = 4

    def value_octets(self, parameter_id: int) -> int:
        """Width in octets of parameter ``parameter_id``'s value."""
        return self.parameter_octets.get(parameter_id, self.default_parameter_octets)


DEFAULT_OPTIONS = BodyOptions()


class Body:
    """Base of every typed message body; ``KEY`` names its (packet type, service, subtype)."""

    __slots__ = ()
    KEY: ClassVar[MessageType]

    def encode(self) -> bytes:
        """The body octets (application data / source data)."""
        raise NotImplementedError

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Body:
        """Decode a body occupying all of ``data``."""
        raise NotImplementedError


# ---------------------------------------------------------------------------
# Construct pieces: what the parse context carries (``layout.parse(data, options=..., base_offset=...)``)


def options_of(context: Any) -> BodyOptions:
    """The BodyOptions a layout is being parsed with."""
    return context._params.get("options", DEFAULT_OPTIONS)  # type: ignore[no-any-return]


def _base_offset(context: Any) -> int:
    return int(context._params.get("base_offset", 0))


class Enumerated(c.Subconstruct):  # type: ignore[misc]
    """An integer field that must be a member of ``enum_cls``: decodes to the member; an unknown code is a
    RemoteProtocolError at the field's own offset, naming ``field`` and the allowed range."""

    def __init__(self, enum_cls: type[enum.IntEnum], subcon: c.Construct, *, field: str) -> None:
        super().__init__(subcon)
        self.enum_cls = enum_cls
        self.field = field
        self.allowed = f"a {enum_cls.__name__} {min(enum_cls)}..{max(enum_cls)}"

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        pos = c.stream_tell(stream, path)
        value = self.subcon._parsereport(stream, context, path)
        try:
            return self.enum_cls(value)
        except ValueError as e:
            raise RemoteProtocolError(LAYER, self.field, value, self.allowed,
                                      offset=_base_offset(context) + pos) from e

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        member = check_enum(LAYER, self.field, self.enum_cls, obj)
        self.subcon._build(int(member), stream, context, path)
        return member


class Anchored(c.Subconstruct):  # type: ignore[misc]
    """A piece whose construct errors are reported at the piece's own offset (not the body's)."""

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        with construct_errors(LAYER, offset=_base_offset(context) + c.stream_tell(stream, path)):
            return self.subcon._parsereport(stream, context, path)


class EntriesEnd(c.Construct):  # type: ignore[misc]
    """The end of a body after the N entries of list ``name``: trailing octets are a RemoteProtocolError."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name_of_list = name
        self.flagbuildnone = True

    def _parse(self, stream: Any, context: Any, path: str) -> None:
        pos = c.stream_tell(stream, path)
        left = len(c.stream_read_entire(stream, path))
        if left:
            n = len(context[self.name_of_list])
            raise RemoteProtocolError(LAYER, "body length", pos + left, f"{pos} octets for N = {n} entries",
                                      offset=_base_offset(context) + pos, detail=f"{left} trailing octets")

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        return None

    def _sizeof(self, context: Any, path: str) -> int:
        return 0


class OctetsField(c.Construct):  # type: ignore[misc]
    """Octets whose width the mission declares: ``width(context)`` when decoding, as given when encoding.

    ``what(context)`` names the field in the TruncatedError raised when fewer octets are left."""

    def __init__(self, width: Callable[[Any], int], what: Callable[[Any], str]) -> None:
        super().__init__()
        self.width = width
        self.what = what

    def _parse(self, stream: Any, context: Any, path: str) -> bytes:
        width = self.width(context)
        if width < 0:
            raise LocalProtocolError(LAYER, f"width of {self.what(context)}", width, ">= 0 octets")
        pos = c.stream_tell(stream, path)
        data: bytes = stream.read(width)
        if len(data) < width:
            raise TruncatedError(LAYER, self.what(context), len(data), f"{width} octets",
                                 offset=_base_offset(context) + pos)
        return data

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> bytes:
        data = bytes(obj)
        c.stream_write(stream, data, len(data), path)
        return data

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("the width is the mission's", path=path)


class ObjectField(c.Construct):  # type: ignore[misc]
    """A value with a codec of its own (a time code, an embedded packet), decoded from the octets left.

    Subclasses give ``decode_from(buf, base_offset, context) -> (value, octets used)`` and
    ``encode(value) -> bytes``; the body's dataclass field holds the value itself."""

    def decode_from(self, buf: bytes, base_offset: int, context: Any) -> tuple[Any, int]:
        """The value at the start of ``buf`` and how many octets it took."""
        raise NotImplementedError

    def encode(self, value: Any) -> bytes:
        """The value's octets."""
        raise NotImplementedError

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        pos = c.stream_tell(stream, path)
        value, used = self.decode_from(c.stream_read_entire(stream, path), _base_offset(context) + pos, context)
        c.stream_seek(stream, pos + used, 0, path)
        return value

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        data = self.encode(obj)
        c.stream_write(stream, data, len(data), path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("an object field has no fixed size", path=path)


# ---------------------------------------------------------------------------
# The generic codec: a dataclass and its layout, walked together once per body class

_Convert = Callable[[Any], Any] | None  # None: the value passes unchanged


def _strip(con: c.Construct) -> c.Construct:
    while isinstance(con, (c.Renamed, Anchored)):
        con = con.subcon
    return con


def _struct_of(con: c.Construct) -> c.Struct | None:
    """The Struct of a Struct or BitStruct."""
    if isinstance(con, c.Struct):
        return con
    if isinstance(con, (c.Transformed, c.Restreamed)) and isinstance(con.subcon, c.Struct):
        return con.subcon
    return None


def _element_of(con: c.Construct) -> c.Construct | None:
    """The element of an Array, a PrefixedArray or a GreedyRange."""
    if isinstance(con, c.FocusedSeq):  # PrefixedArray: count (Rebuild) then items (Array)
        items = _strip(next(sc for sc in con.subcons if sc.name == con.parsebuildfrom))
        return items.subcon if isinstance(items, c.Array) else None
    if isinstance(con, (c.Array, c.GreedyRange)):
        return con.subcon
    return None


def _named(struct: c.Struct) -> list[c.Construct]:
    """The fields of a struct the caller gives (not constants, not rebuilt or computed ones)."""
    return [sc for sc in struct.subcons
            if sc.name and not isinstance(_strip(sc), (c.Const, c.Rebuild, c.Computed))]


def _compile(hint: Any, con: c.Construct, where: str) -> tuple[_Convert, _Convert]:
    """(to wire, from wire) converters of a value of type ``hint`` held by construct ``con``."""
    con = _strip(con)
    if isinstance(con, (ObjectField, Enumerated)):  # they take and give the typed value themselves
        return None, None
    struct = _struct_of(con)
    if struct is not None:
        return _compile_struct(hint, struct, where)
    element = _element_of(con)
    if element is not None:
        args = typing.get_args(hint)
        if typing.get_origin(hint) is not tuple or len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{where}: a list field is a tuple[X, ...], not {hint!r}")
        to_one, from_one = _compile(args[0], element, where)

        def to_list(v: Any) -> list[Any]:
            if not isinstance(v, (tuple, list)):
                raise LocalProtocolError(LAYER, where, v, "a tuple")
            return list(v) if to_one is None else [to_one(x) for x in v]

        def from_list(p: Any) -> tuple[Any, ...]:
            return tuple(p) if from_one is None else tuple([from_one(x) for x in p])

        return to_list, from_list
    if hint is int:
        return None, None
    if hint is bytes:
        return bytes, None
    if hint is bool:
        return int, bool
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        # only where every code the field can hold is a member (else declare the field Enumerated)
        width = con.length if isinstance(con, c.BitsInteger) else None
        members = [hint(v) for v in range(1 << width)] if width is not None and len(hint) == 1 << width else None
        if members is None:
            raise TypeError(f"{where}: {hint.__name__} does not cover the field: declare it Enumerated")
        return int, members.__getitem__
    raise TypeError(f"{where}: no conversion of {hint!r} held by {con!r}")


def _compile_struct(hint: Any, struct: c.Struct, where: str) -> tuple[_Convert, _Convert]:
    subs = _named(struct)
    names = [sc.name for sc in subs]
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        fields = [f.name for f in dataclasses.fields(hint) if f.init]
        if set(fields) != set(names):
            raise TypeError(f"{where}: {hint.__name__} fields {fields} are not the layout's {names}")
        hints = typing.get_type_hints(hint)
        parts = [(sc.name, *_compile(hints[sc.name], sc, f"{where}.{sc.name}")) for sc in subs]
        cls = hint

        def to_struct(v: Any) -> dict[str, Any]:
            if not isinstance(v, cls):
                raise LocalProtocolError(LAYER, where, v, f"a {cls.__name__}")
            return {n: getattr(v, n) if t is None else t(getattr(v, n)) for n, t, _ in parts}

        def from_struct(p: Any) -> Any:
            return cls(**{n: p[n] if f is None else f(p[n]) for n, _, f in parts})

        return to_struct, from_struct
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == len(names) and Ellipsis not in args:
        tparts = [(sc.name, *_compile(a, sc, f"{where}.{sc.name}")) for a, sc in zip(args, subs, strict=True)]

        def to_fields(v: Any) -> dict[str, Any]:
            if not isinstance(v, (tuple, list)) or len(v) != len(tparts):
                raise LocalProtocolError(LAYER, where, v, f"a tuple ({', '.join(names)})")
            return {n: x if t is None else t(x) for (n, t, _), x in zip(tparts, v, strict=True)}

        def from_fields(p: Any) -> tuple[Any, ...]:
            return tuple([p[n] if f is None else f(p[n]) for n, _, f in tparts])

        return to_fields, from_fields
    raise TypeError(f"{where}: a struct is held by a dataclass or a tuple of {len(names)}, not {hint!r}")


@dataclass(frozen=True, slots=True)
class _Codec:
    to_wire: Callable[[Any], dict[str, Any]]
    from_wire: Callable[[Any], Any]


_CODECS: dict[type, _Codec] = {}


def _codec(cls: type[LayoutBody]) -> _Codec:
    codec = _CODECS.get(cls)
    if codec is None:
        to_wire, from_wire = _compile(cls, cls.LAYOUT, cls.__name__)
        if to_wire is None or from_wire is None:  # pragma: no cover - a LAYOUT is always a Struct
            raise TypeError(f"{cls.__name__}.LAYOUT is not a Struct")
        codec = _CODECS[cls] = _Codec(to_wire, from_wire)
    return codec


@functools.cache
def _compiled(layout: c.Construct) -> c.Construct:
    """construct's compiled parser and builder of ``layout``: the fast path, derived from the declaration.

    It raises bare errors (``struct.error``, no field path), so on any error the declared layout is run
    again and raises the typed error that names the field, the offset and the allowed range."""
    return layout.compile()


class LayoutBody(Body):
    """A body whose octets are exactly ``LAYOUT``: a dataclass whose field names are the layout's."""

    __slots__ = ()
    LAYOUT: ClassVar[c.Construct]

    def encode(self) -> bytes:
        """The body octets."""
        value = _codec(type(self)).to_wire(self)
        try:
            return _compiled(self.LAYOUT).build(value)  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - the compiled builder names no fields: the declaration says what is wrong
            try:
                return self.LAYOUT.build(value)  # type: ignore[no-any-return]
            except c.ConstructError as e:
                raise LocalProtocolError(LAYER, self.KEY.name, "field values", "values the layout accepts",
                                         detail=str(e)) from e

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data``."""
        from_wire = _codec(cls).from_wire
        try:
            parsed = _compiled(cls.LAYOUT).parse(data, options=options, base_offset=offset)
        except Exception:  # noqa: BLE001 - the compiled parser names no fields: the declaration says what is wrong
            with construct_errors(LAYER, offset=offset):
                parsed = cls.LAYOUT.parse(data, options=options, base_offset=offset)
        try:
            return from_wire(parsed)
        except LocalProtocolError as e:  # a value the layout holds but the body refuses: the peer's fault
            raise RemoteProtocolError(LAYER, e.field, e.value, e.allowed, offset=offset, detail=e.detail) from e


# ---------------------------------------------------------------------------
# The registry

_REGISTRY: dict[MessageType, type[Body]] = {}
_B = TypeVar("_B", bound=type[Body])


def register_body(cls: _B) -> _B:
    """Class decorator: ``cls`` is the body of ``cls.KEY`` (a layout body's codec is checked here, at import)."""
    if cls.KEY in _REGISTRY:  # pragma: no cover - a programming error caught at import
        raise TypeError(f"{cls.KEY} registered twice")
    if issubclass(cls, LayoutBody):
        _codec(cls)
    _REGISTRY[cls.KEY] = cls
    return cls


def body_class(packet_type: PacketType, service: int, subtype: int, *, offset: int = 0) -> type[Body]:
    """The body class of a (packet type, service, subtype); RemoteProtocolError if none is known."""
    try:
        return _REGISTRY[MessageType((PacketType(packet_type), service, subtype))]
    except (ValueError, KeyError) as e:
        known = sorted(f"{k.packet_type.name}[{k.service},{k.subtype}]" for k in _REGISTRY)
        raise RemoteProtocolError(LAYER, "service/subtype", f"{PacketType(packet_type).name}[{service},{subtype}]",
                                  "a known message type", offset=offset,
                                  detail=f"known: {', '.join(known)}") from e


def decode_body(message: PusTc | PusTm, *, options: BodyOptions = DEFAULT_OPTIONS) -> Body:
    """The typed body of a TC's application data or a TM's source data."""
    if isinstance(message, PusTc):
        offset = PRIMARY_HEADER_LEN + TC_SECONDARY_HEADER_LEN
        cls = body_class(PacketType.TC, message.service, message.subtype, offset=PRIMARY_HEADER_LEN)
        return cls.decode(message.app_data, options=options, offset=offset)
    if isinstance(message, PusTm):
        offset = PRIMARY_HEADER_LEN + TM_SECONDARY_HEADER_LEN + len(message.time)
        cls = body_class(PacketType.TM, message.service, message.subtype, offset=PRIMARY_HEADER_LEN)
        return cls.decode(message.source_data, options=options, offset=offset)
    raise LocalProtocolError(LAYER, "message", type(message).__name__, "a PusTc or PusTm")


def registered_types() -> dict[MessageType, type[Body]]:
    """Every message type with a typed body, and its class."""
    return dict(_REGISTRY)


# ---------------------------------------------------------------------------
# Flattened descriptions for the mission dictionary


@dataclass(frozen=True, slots=True)
class BodyField:
    """One field of a body flattened to one entry per list."""

    name: str  # the layout's field name, e.g. "sid", "collection_interval", "function_id", "parameter_id"
    type: str | None  # wire type name "u8".."u64", "i8".."i64", "f32", "f64"; None = octets the mission declares
    count: bool = False  # a repetition count N before a repeated group; flattened to one entry (N = 1)
    codes: builtins.type[enum.IntEnum] | None = None  # the codes the typed body accepts (None: any of the type)


_FORMAT_TYPES = {">B": "u8", ">H": "u16", ">L": "u32", ">Q": "u64", ">b": "i8", ">h": "i16", ">l": "i32",
                 ">q": "i64", ">f": "f32", ">d": "f64"}


class _NoFlatForm(Exception):
    pass


def _wire_type(con: c.Construct, where: str) -> str:
    if isinstance(con, c.FormatField) and con.fmtstr in _FORMAT_TYPES:
        return _FORMAT_TYPES[con.fmtstr]
    if _struct_of(con) is not None and not isinstance(con, c.Struct):  # a BitStruct: one unsigned integer
        bits = 8 * BitLayout(con).size
        if bits in (8, 16, 32, 64):
            return f"u{bits}"
    raise TypeError(f"{where}: no wire type for {con!r}")


def _list_count(con: c.Construct) -> int:
    con = _strip(con)
    if isinstance(con, (Enumerated, ObjectField, OctetsField)):
        return 0
    struct = _struct_of(con)
    if struct is not None:
        return sum(_list_count(sc) for sc in struct.subcons)
    element = _element_of(con)
    return 1 + _list_count(element) if element is not None else 0


class _Flattener:
    def __init__(self, layout: c.Construct) -> None:
        self.several_lists = _list_count(layout) > 1
        self.out: list[BodyField] = []

    def add(self, entry: BodyField, parents: tuple[str, ...]) -> None:
        if any(f.name == entry.name for f in self.out):
            entry = dataclasses.replace(entry, name=".".join((*parents, entry.name)))
        self.out.append(entry)

    def walk(self, con: c.Construct, name: str, parents: tuple[str, ...]) -> None:
        if isinstance(con, c.Renamed):
            return self.walk(con.subcon, con.name, parents)
        con = _strip(con)
        if isinstance(con, ObjectField):
            raise _NoFlatForm
        if isinstance(con, Enumerated):
            return self.add(BodyField(name, _wire_type(_strip(con.subcon), name), codes=con.enum_cls), parents)
        if isinstance(con, OctetsField) or con is c.GreedyBytes:
            return self.add(BodyField(name, None), parents)
        if isinstance(con, c.Struct):
            for sc in _named(con):
                self.walk(sc, sc.name, parents)
            return None
        if isinstance(con, c.FocusedSeq):  # a PrefixedArray: count N (Rebuild), then N items
            count = _strip(next(sc for sc in con.subcons if sc.name == "count")).subcon
            element = _element_of(con)
            self.add(BodyField(f"n_{name}" if self.several_lists else "n", _wire_type(count, name), count=True),
                     parents)
            if isinstance(_strip(element), c.Struct):
                return self.walk(_strip(element), name, (*parents, name))
            if not name.endswith("s"):
                raise TypeError(f"{name}: name a list of integers in the plural")
            return self.walk(element, name[:-1], parents)
        return self.add(BodyField(name, _wire_type(con, name)), parents)


@functools.cache
def body_fields(key: MessageType) -> tuple[BodyField, ...] | None:
    """The body of ``key`` flattened to one entry per list, or None when it has none (TC[11,4], TM[9,2], ...)."""
    cls = _REGISTRY.get(key)
    if cls is None or not issubclass(cls, LayoutBody):
        return None
    flat = _Flattener(cls.LAYOUT)
    try:
        flat.walk(cls.LAYOUT, "", ())
    except _NoFlatForm:
        return None
    return tuple(flat.out)


# ---------------------------------------------------------------------------
# Shapes several services share

#: Repetition counts N (§8, "N"): 16 bit, the mission's choice.
Count = c.Int16ub
#: TC[3,5] / [3,6] / [3,27], TC[5,5] / [5,6], TC[20,1]: N then N 16-bit IDs.
IdListLayout = c.Struct("ids" / c.PrefixedArray(Count, c.Int16ub), c.Terminated)
#: TC[11,1] / [11,2] / [11,3] / [11,17], TC[17,1], TM[17,2]: no application / source data.
EmptyLayout = c.Struct(c.Terminated)


@dataclass(frozen=True, slots=True)
class IdListBody(LayoutBody):
    """A body that is a list of 16-bit IDs (SIDs, event definition IDs, parameter IDs)."""

    LAYOUT = IdListLayout
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EmptyBody(LayoutBody):
    """A body with no octets."""

    LAYOUT = EmptyLayout
