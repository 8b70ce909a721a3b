"""protocol.pus.body: the generic layout-backed body, its construct pieces, its errors and its compiled fast path."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import construct as c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import pus
from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.pus import (
    BodyOptions,
    Enumerated,
    LayoutBody,
    MessageType,
    ParameterValue,
    RequestId,
    ScheduleRequestId,
    ScheduleSummaryEntry,
    registered_types,
)
from protocol.pus.body import _compiled
from protocol.timecode import CdsConfig, CucTime
from tests.protocol.test_pus import BODY_STRATEGIES, OPTIONS

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# a body of a mission's own, declared the way the service modules declare theirs


class Mode(enum.IntEnum):
    SAFE = 0
    NOMINAL = 1
    PAYLOAD = 2


@dataclass(frozen=True, slots=True)
class Window:
    start_s: int
    stop_s: int


ModeLayout = c.Struct(
    "request_id" / pus.RequestIdField,
    "mode" / Enumerated(Mode, c.Int8ub, field="mode"),
    "windows" / c.PrefixedArray(pus.Count, c.Struct("start_s" / c.Int32ub, "stop_s" / c.Int32ub)),
    "pairs" / c.PrefixedArray(c.Int8ub, c.Struct("a" / c.Int8ub, "b" / c.Int16ub)),
    "flags" / c.PrefixedArray(c.Int8ub, c.Int8ub),
    "tail" / c.GreedyBytes,
)


@dataclass(frozen=True, slots=True)
class ModeBody(LayoutBody):
    KEY = MessageType.PERFORM_FUNCTION  # not registered: only its codec is under test
    LAYOUT = ModeLayout
    request_id: RequestId
    mode: Mode
    windows: tuple[Window, ...]
    pairs: tuple[tuple[int, int], ...]
    flags: tuple[int, ...]
    tail: bytes = b""


u32 = st.integers(0, 2**32 - 1)
modes = st.builds(ModeBody, st.builds(RequestId, apid=st.integers(0, 0x7FF), sequence_count=st.integers(0, 0x3FFF)),
                  st.sampled_from(list(Mode)), st.lists(st.builds(Window, u32, u32), max_size=3).map(tuple),
                  st.lists(st.tuples(st.integers(0, 255), st.integers(0, 0xFFFF)), max_size=3).map(tuple),
                  st.lists(st.integers(0, 255), max_size=3).map(tuple), st.binary(max_size=8))


@FAST
@given(modes)
def test_mission_body_round_trip(body: ModeBody) -> None:
    raw = body.encode()
    assert ModeBody.decode(raw) == body
    assert ModeLayout.build(ModeLayout.parse(raw)) == raw
    assert pus.body_fields(MessageType.PERFORM_FUNCTION) is not None  # the registered TC[8,1] is untouched


def test_mission_body_errors() -> None:
    body = ModeBody(RequestId(apid=1, sequence_count=2), Mode.PAYLOAD, (Window(1, 2),), ((1, 2),), (7,))
    raw = body.encode()
    bad = bytearray(raw)
    bad[4] = 9  # no such mode
    with pytest.raises(RemoteProtocolError, match="mode") as e:
        ModeBody.decode(bytes(bad), offset=100)
    assert (e.value.offset, e.value.value, e.value.allowed) == (104, 9, "a Mode 0..2")
    with pytest.raises(TruncatedError):
        ModeBody.decode(raw[:7], offset=100)
    with pytest.raises(LocalProtocolError, match="request_id"):
        ModeBody(None, Mode.SAFE, (), (), ()).encode()  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="pairs"):
        ModeBody(RequestId(apid=1, sequence_count=2), Mode.SAFE, (), ((1, 2, 3),), ()).encode()  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="mode"):
        ModeBody(RequestId(apid=1, sequence_count=2), 7, (), (), ()).encode()  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="PERFORM_FUNCTION"):  # a count beyond its 8 bits
        ModeBody(RequestId(apid=1, sequence_count=2), Mode.SAFE, (), (), tuple(range(256))).encode()


def test_a_dataclass_that_is_not_its_layout_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Wrong(LayoutBody):
        KEY = MessageType.PERFORM_FUNCTION
        LAYOUT = pus.PerformFunctionLayout
        function: int  # the layout says function_id
        arguments: bytes = b""

    with pytest.raises(TypeError, match="function_id"):
        Wrong(1).encode()

    @dataclass(frozen=True, slots=True)
    class Unchecked(LayoutBody):
        KEY = MessageType.PERFORM_FUNCTION
        LAYOUT = c.Struct("mode" / c.Int16ub)
        mode: Mode  # an enum over a 16-bit field needs Enumerated (3 members cannot cover it)

    with pytest.raises(TypeError, match="Enumerated"):
        Unchecked.decode(b"\x00\x01")


def test_a_value_the_body_refuses_is_the_peers_fault() -> None:
    @dataclass(frozen=True, slots=True)
    class Even(LayoutBody):
        KEY = MessageType.PERFORM_FUNCTION
        LAYOUT = c.Struct("n" / c.Int8ub)
        n: int

        def __post_init__(self) -> None:
            if self.n % 2:
                raise LocalProtocolError("PUS", "n", self.n, "an even number")

    assert Even.decode(b"\x02") == Even(2)
    with pytest.raises(RemoteProtocolError, match="even") as e:
        Even.decode(b"\x03", offset=9)
    assert not isinstance(e.value, LocalProtocolError) and e.value.offset == 9


# ---------------------------------------------------------------------------
# the pieces' errors: the field, the offset and the allowed range, as the hand-written decoders had them


def test_parameter_value_errors() -> None:
    raw = pus.SetParameterValues((ParameterValue(1, b"\x01"), ParameterValue(9, b"abcd"))).encode()
    with pytest.raises(TruncatedError) as e:
        pus.SetParameterValues.decode(raw[:-1], options=OPTIONS, offset=20)
    assert (e.value.field, e.value.value, e.value.allowed, e.value.offset) == (
        "value of parameter 9", 3, "4 octets", 20 + 7)
    with pytest.raises(TruncatedError) as e:
        pus.SetParameterValues.decode(raw[:6], options=OPTIONS, offset=20)
    assert e.value.field.endswith("parameter_id") and e.value.offset == 20 + 5
    with pytest.raises(RemoteProtocolError, match="trailing") as trailing:
        pus.SetParameterValues.decode(raw + b"\x00", options=OPTIONS, offset=20)
    assert (trailing.value.field, trailing.value.allowed, trailing.value.offset) == (
        "body length", "11 octets for N = 2 entries", 31)
    with pytest.raises(TruncatedError) as e:
        pus.SetParameterValues.decode(b"\x00", options=OPTIONS, offset=20)
    assert e.value.field.endswith("count") and e.value.offset == 20


def test_schedule_summary_errors() -> None:
    entry = ScheduleSummaryEntry(CucTime(5, 6), ScheduleRequestId(source_id=1, apid=2, sequence_count=3))
    raw = pus.ScheduleSummaryReport((entry, entry)).encode()
    with pytest.raises(TruncatedError) as e:
        pus.ScheduleSummaryReport.decode(raw[:-1], offset=13)
    assert e.value.field.endswith("sequence_count") and e.value.offset == 13 + 2 + 12 + 6
    with pytest.raises(TruncatedError, match="T-field") as e:
        pus.ScheduleSummaryReport.decode(raw[:16], offset=13)
    assert e.value.offset == 13 + 2 + 12
    with pytest.raises(RemoteProtocolError, match="body length"):
        pus.ScheduleSummaryReport.decode(raw + b"\x01\x02", offset=13)
    cds = BodyOptions(time_config=CdsConfig())  # release times 6 octets of CDS instead of CUC 4+2
    assert len(pus.ScheduleSummaryReport.decode(raw, options=cds).entries) == 2


def test_encoder_errors_name_the_field() -> None:
    with pytest.raises(LocalProtocolError, match="release time"):
        pus.ScheduleSummaryReport((ScheduleSummaryEntry(b"\x00", ScheduleRequestId(  # type: ignore[arg-type]
            source_id=1, apid=2, sequence_count=3)),)).encode()
    with pytest.raises(LocalProtocolError, match="scheduled TC"):
        pus.InsertActivities((pus.ScheduledActivity(CucTime(1, 2), b"\x18"),)).encode()  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        pus.ModifyHkCollectionInterval(((1,),)).encode()  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        pus.DeleteActivitiesById((ScheduleRequestId(source_id=1, apid=70000, sequence_count=3),)).encode()


# ---------------------------------------------------------------------------
# the compiled fast path agrees with the declared layout, octet for octet and error for error


def _outcome(layout: c.Construct, data: bytes, options: BodyOptions) -> tuple[str, Any]:
    """("ok", parsed) or ("error", None): the compiled parser raises bare errors (struct.error), the
    declared layout construct or protocol errors (LayoutBody.decode re-runs the declared one to name them)."""
    try:
        return ("ok", layout.parse(data, options=options, base_offset=0))
    except Exception as e:  # noqa: BLE001
        if layout.__class__ is not c.Compiled:
            assert isinstance(e, (c.ConstructError, ProtocolError)), e
        return ("error", None)


LAYOUTS = sorted({id(cls.LAYOUT): cls.LAYOUT for cls in registered_types().values()  # type: ignore[attr-defined]
                  }.items())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([layout for _, layout in LAYOUTS]), st.binary(max_size=40),
       st.sampled_from([OPTIONS, BodyOptions(), BodyOptions(time_config=CdsConfig())]))
def test_compiled_parser_agrees_with_the_declaration(layout: c.Construct, data: bytes, options: BodyOptions) -> None:
    fast, slow = _outcome(_compiled(layout), data, options), _outcome(layout, data, options)
    assert fast[0] == slow[0]
    if fast[0] == "ok":
        assert fast[1] == slow[1]
        assert _compiled(layout).build(fast[1]) == layout.build(slow[1])


@FAST
@given(st.one_of(*BODY_STRATEGIES.values()), st.integers(0, 64), st.integers(1, 255))
def test_compiled_parser_agrees_on_mutated_bodies(body: pus.Body, idx: int, xor: int) -> None:
    layout = body.LAYOUT  # type: ignore[attr-defined]
    raw = bytearray(body.encode())
    if raw:
        raw[idx % len(raw)] ^= xor
    for data in (bytes(raw), bytes(raw[:-1]), bytes(raw) + b"\x00"):
        fast, slow = _outcome(_compiled(layout), data, OPTIONS), _outcome(layout, data, OPTIONS)
        assert fast[0] == slow[0]
        if fast[0] == "ok":
            assert fast[1] == slow[1]


# ---------------------------------------------------------------------------
# fuzz: only ProtocolError subclasses escape a body decoder, whatever the options


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(registered_types(), key=lambda m: m.value)), st.binary(max_size=64),
       st.sampled_from([OPTIONS, BodyOptions(), BodyOptions(time_config=CdsConfig(p_field=True)),
                        BodyOptions(default_parameter_octets=0)]))
def test_fuzz_every_decoder(key: MessageType, data: bytes, options: BodyOptions) -> None:
    try:
        registered_types()[key].decode(data, options=options, offset=3)
    except ProtocolError:
        pass
