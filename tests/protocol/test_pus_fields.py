"""protocol.pus.body_fields: every body flattened to one entry per list, derived from its layout."""

from __future__ import annotations

import dataclasses
import enum
import struct
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.pus import (
    BodyField,
    BodyOptions,
    FailureCode,
    LayoutBody,
    MessageType,
    RequestId,
    body_fields,
    registered_types,
)

F = BodyField
N = F("n", "u16", count=True)
EXPECTED: dict[MessageType, tuple[BodyField, ...] | None] = {
    MessageType.ACCEPTANCE_SUCCESS: (F("request_id", "u32"),),
    MessageType.ACCEPTANCE_FAILURE: (F("request_id", "u32"), F("code", "u16", codes=FailureCode), F("data", None)),
    MessageType.PROGRESS_SUCCESS: (F("request_id", "u32"), F("step_id", "u16")),
    MessageType.PROGRESS_FAILURE: (F("request_id", "u32"), F("step_id", "u16"), F("code", "u16", codes=FailureCode),
                                   F("data", None)),
    MessageType.CREATE_HK_STRUCTURE: (
        F("sid", "u16"), F("collection_interval", "u32"), F("n_parameter_ids", "u16", count=True),
        F("parameter_id", "u16"), F("n_groups", "u16", count=True), F("repetition", "u16"),
        F("groups.n_parameter_ids", "u16", count=True), F("groups.parameter_id", "u16")),
    MessageType.ENABLE_PERIODIC_HK: (N, F("id", "u16")),
    MessageType.MODIFY_HK_COLLECTION_INTERVAL: (N, F("sid", "u16"), F("collection_interval", "u32")),
    MessageType.HK_PARAMETER_REPORT: (F("sid", "u16"), F("parameter_data", None)),
    MessageType.INFORMATIVE_EVENT: (F("event_id", "u16"), F("auxiliary_data", None)),
    MessageType.HIGH_SEVERITY_EVENT: (F("event_id", "u16"), F("auxiliary_data", None)),
    MessageType.ENABLE_EVENT_REPORTS: (N, F("id", "u16")),
    MessageType.PERFORM_FUNCTION: (F("function_id", "u16"), F("arguments", None)),
    MessageType.SET_TIME_REPORT_RATE: (F("rate_exponent", "u8"),),
    MessageType.CUC_TIME_REPORT: None,
    MessageType.CDS_TIME_REPORT: None,
    MessageType.ENABLE_SCHEDULE: (),
    MessageType.INSERT_ACTIVITIES: None,
    MessageType.DELETE_ACTIVITIES_BY_ID: (N, F("source_id", "u16"), F("apid", "u16"), F("sequence_count", "u16")),
    MessageType.SCHEDULE_SUMMARY_REPORT: None,
    MessageType.FIRST_DOWNLINK_PART: (F("transaction_id", "u16"), F("part_sequence_number", "u16"), F("part", None)),
    MessageType.LAST_DOWNLINK_PART: (F("transaction_id", "u16"), F("part_sequence_number", "u16"), F("part", None)),
    MessageType.ARE_YOU_ALIVE: (),
    MessageType.ARE_YOU_ALIVE_REPORT: (),
    MessageType.REPORT_PARAMETER_VALUES: (N, F("id", "u16")),
    MessageType.PARAMETER_VALUE_REPORT: (N, F("parameter_id", "u16"), F("value", None)),
    MessageType.SET_PARAMETER_VALUES: (N, F("parameter_id", "u16"), F("value", None)),
}


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: k.name)
def test_expected_fields(key: MessageType) -> None:
    assert body_fields(key) == EXPECTED[key]


def test_every_type_has_a_description_or_says_none() -> None:
    for key in MessageType:
        fields = body_fields(key)
        if fields is None:
            continue
        names = [f.name for f in fields]
        assert len(names) == len(set(names)), key  # unique names: the dictionary keys arguments by them
        assert all(f.type in (None, "u8", "u16", "u32", "u64") for f in fields)
    assert {k for k in MessageType if body_fields(k) is None} == {
        MessageType.CUC_TIME_REPORT, MessageType.CDS_TIME_REPORT, MessageType.INSERT_ACTIVITIES,
        MessageType.SCHEDULE_SUMMARY_REPORT}


# ---------------------------------------------------------------------------
# agreement: a flat one-entry body built from the fields decodes, typed, to the same values

FORMATS = {"u8": ">B", "u16": ">H", "u32": ">L", "u64": ">Q"}
OPTIONS = BodyOptions()  # every service-20 value 4 octets
VALUE_OCTETS = OPTIONS.default_parameter_octets


def _flat_values(hint: Any, value: Any) -> list[Any]:
    """The values of a typed body in body_fields order, walked from the dataclass side."""
    if isinstance(value, RequestId):
        return [int.from_bytes(value.encode(), "big")]
    if isinstance(value, enum.Enum):
        return [value.value]
    if dataclasses.is_dataclass(value):
        hints = typing.get_type_hints(type(value))
        return [v for f in dataclasses.fields(value) for v in _flat_values(hints[f.name], getattr(value, f.name))]
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and args[-1] is Ellipsis:  # a list: N then the entries
        return [len(value), *[v for x in value for v in _flat_values(args[0], x)]]
    if typing.get_origin(hint) is tuple:  # a fixed tuple: its fields
        return [v for a, x in zip(args, value, strict=True) for v in _flat_values(a, x)]
    return [value]


@st.composite
def flat_bodies(draw: st.DrawFn, fields: tuple[BodyField, ...]) -> tuple[bytes, list[Any]]:
    raw, values = b"", []
    for i, f in enumerate(fields):
        if f.count:
            v: Any = 1
        elif f.codes is not None:
            v = int(draw(st.sampled_from(list(f.codes))))
        elif f.type is not None:
            v = draw(st.integers(0, (1 << (8 * struct.calcsize(FORMATS[f.type]))) - 1))
        else:  # octets the mission declares: to the end of the body, or a service-20 value
            last = i == len(fields) - 1 and f.name != "value"
            v = draw(st.binary(max_size=12) if last else st.binary(min_size=VALUE_OCTETS, max_size=VALUE_OCTETS))
        raw += v if isinstance(v, bytes) else struct.pack(FORMATS[f.type or "u8"], v)
        values.append(v)
    return raw, values


FLAT = {k: f for k in MessageType if (f := body_fields(k)) is not None}


@pytest.mark.parametrize("key", list(FLAT), ids=lambda k: k.name)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_fields_agree_with_the_layout(key: MessageType, data: st.DataObject) -> None:
    raw, values = data.draw(flat_bodies(FLAT[key]))
    cls = registered_types()[key]
    body = cls.decode(raw, options=OPTIONS)
    assert isinstance(body, LayoutBody)
    assert _flat_values(type(body), body) == values
    assert body.encode() == raw

