"""Service 13, large packet transfer: the downlink part reports TM[13,1..3]."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError, TruncatedError
from protocol.pus import (
    FirstDownlinkPartReport,
    IntermediateDownlinkPartReport,
    LastDownlinkPartReport,
    MessageType,
    PusTm,
    decode_body,
)
from protocol.spacepacket import PRIMARY_HEADER_LEN
from protocol.timecode import CdsConfig, CucTime

PARTS = (FirstDownlinkPartReport, IntermediateDownlinkPartReport, LastDownlinkPartReport)
u16 = st.integers(0, 0xFFFF)
FAST = settings(max_examples=100, deadline=None)


@FAST
@given(st.sampled_from(PARTS), u16, u16, st.binary(max_size=300))
def test_round_trip_through_a_packet(cls: Any, transaction: int, number: int, part: bytes) -> None:
    body = cls(transaction, number, part)
    raw = body.encode()
    assert raw == transaction.to_bytes(2, "big") + number.to_bytes(2, "big") + part
    assert cls.decode(raw) == body
    tm = PusTm.from_body(body, apid=0x30, time=CucTime(7, 8))
    got = decode_body(PusTm.decode(tm.encode()))
    assert got == body and (tm.service, tm.subtype) == (13, cls.KEY.subtype)


def test_message_types() -> None:
    assert [cls.KEY for cls in PARTS] == [MessageType.FIRST_DOWNLINK_PART, MessageType.INTERMEDIATE_DOWNLINK_PART,
                                          MessageType.LAST_DOWNLINK_PART]
    assert [cls.KEY.value for cls in PARTS] == [(0, 13, 1), (0, 13, 2), (0, 13, 3)]


def test_truncated_part_header_is_a_typed_error() -> None:
    tm = PusTm(apid=0x30, service=13, subtype=2, time=CucTime(1, 2), source_data=b"\x00\x07\x00")
    with pytest.raises(TruncatedError) as e:
        decode_body(PusTm.decode(tm.encode()))
    body_offset = PRIMARY_HEADER_LEN + 7 + len(tm.time)
    assert e.value.field == "part_sequence_number" and e.value.offset == body_offset
    with pytest.raises(TruncatedError, match="transaction_id"):
        LastDownlinkPartReport.decode(b"\x01", offset=40)
    assert LastDownlinkPartReport.decode(b"\x00\x01\x00\x02") == LastDownlinkPartReport(1, 2, b"")


def test_the_spacecraft_image_parts_decode() -> None:
    # spacecraft/onboard.py _imager_capture: image ID (u16), part number from 0 (u16), the part; TM[13,1] first,
    # TM[13,2] between, TM[13,3] last
    image, size, image_id = bytes(range(256)) * 5, 300, 0x0102
    chunks = [image[i:i + size] for i in range(0, len(image), size)]
    packets = []
    for n, chunk in enumerate(chunks):
        subtype = 1 if n == 0 else 3 if n == len(chunks) - 1 else 2
        packets.append(PusTm(apid=0x40, service=13, subtype=subtype, time=CucTime(n, 0),
                             source_data=image_id.to_bytes(2, "big") + n.to_bytes(2, "big") + chunk).encode())
    bodies = [decode_body(PusTm.decode(p)) for p in packets]
    assert [type(b) for b in bodies] == [FirstDownlinkPartReport] + [IntermediateDownlinkPartReport] * 3 + [
        LastDownlinkPartReport]
    assert {b.transaction_id for b in bodies} == {image_id}  # type: ignore[attr-defined]
    assert [b.part_sequence_number for b in bodies] == list(range(5))  # type: ignore[attr-defined]
    assert b"".join(b.part for b in bodies) == image  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PARTS), st.binary(max_size=16))
def test_fuzz_random_bytes(cls: Any, data: bytes) -> None:
    try:
        body = cls.decode(data, offset=5)
    except ProtocolError:
        assert len(data) < 4
        return
    assert body.encode() == data


# spacepackets (0.32) has no service 13 module, so no body-level peer: it carries our octets in its packets
sp_ecss = pytest.importorskip("spacepackets.ecss")
from spacepackets.ccsds.time import CdsShortTimestamp  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning, module="spacepackets")


@FAST
@given(st.sampled_from(PARTS), u16, u16, st.binary(max_size=64))
def test_spacepackets_carries_part_reports(cls: Any, transaction: int, number: int, part: bytes) -> None:
    body = cls(transaction, number, part)
    theirs = sp_ecss.PusTm(service=13, message_subtype=cls.KEY.subtype, timestamp=CdsShortTimestamp(1, 2).pack(),
                           source_data=body.encode(), apid=0x31)
    assert decode_body(PusTm.decode(bytes(theirs.pack()), time_config=CdsConfig(p_field=True))) == body
    mine = PusTm.from_body(body, apid=0x31, time=CucTime(3, 4))
    back = sp_ecss.PusTm.unpack(mine.encode(), timestamp_len=6)
    assert (back.service, back.message_subtype, bytes(back.source_data)) == (13, cls.KEY.subtype, body.encode())
