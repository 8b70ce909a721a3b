"""PUS-C packets (ECSS-E-ST-70-41C §7.4): the TC and TM secondary headers, the packet error control and
the request ID, over CCSDS 133.0-B-2 space packets.

* :class:`PusTc` / :class:`PusTm` -- frozen telecommand / telemetry packets:
  primary header fields, the PUS-C secondary header (§7.4.3.1 TC, §7.4.3.2 TM)
  and the application data / source data; ``to_packet()``, ``encode()``,
  ``decode()``. The packet error control field, a CRC-16-CCITT
  (:func:`protocol.crc.crc16`, ECSS-E-ST-70-41C Annex B) over the whole
  packet, is always appended and always checked (:class:`ChecksumError`).
* :class:`MessageType` -- (packet type, service, subtype) of every message
  with a typed body in :mod:`protocol.pus`; :class:`Service`, :class:`AckFlags`
  (§7.4.3.1), :class:`FailureCode` (the mission's verification failure codes)
  and :class:`RequestId` (§6.1, quoted by every service 1 report).

Choices made here, where PUS-C leaves them to the mission:

* PUS version 2 only; TC secondary header 5 octets (no spare), TM secondary
  header 7 octets + time (no spare); PEC present on every packet.
* TM time: any :mod:`protocol.timecode` format; the default
  :data:`DEFAULT_TM_TIME` is CUC 4 coarse + 2 fine octets without P-field
  (1958 TAI epoch), the common implicit mission format (~15 µs resolution,
  136 years of range).
* Request ID 4 octets (packet version, type, secondary header flag, APID,
  sequence flags, sequence count of the TC, as the standard fixes).

The headers are decoded by :class:`protocol.layout.BitLayout` fast paths derived from the construct
declarations below (``PusTm.decode_from`` is on the station's per-packet path: keep it lean).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import construct as c

from ..crc import append_crc, check_crc
from ..errors import LocalProtocolError, RemoteProtocolError, TruncatedError, check_enum, check_length, check_range
from ..layout import BitLayout
from ..spacepacket import (
    MAX_DATA_LEN,
    PRIMARY_HEADER_LEN,
    PacketType,
    SequenceFlags,
    SpacePacket,
    decode_header,
    encode_header,
)
from ..timecode import CdsTime, CucConfig, CucTime, TimeCode, TimeConfig, decode_time_from

if TYPE_CHECKING:
    from .body import Body

__all__ = [
    "TcSecondaryHeader", "TmSecondaryHeader", "PacketErrorControl", "RequestIdField",
    "LAYER", "PUS_VERSION", "TC_SECONDARY_HEADER_LEN", "TM_SECONDARY_HEADER_LEN", "PEC_LEN", "DEFAULT_TM_TIME",
    "AckFlags", "Service", "MessageType", "FailureCode", "RequestId", "PusTc", "PusTm",
]

LAYER = "PUS"
PUS_VERSION = 2
TC_SECONDARY_HEADER_LEN = 5
TM_SECONDARY_HEADER_LEN = 7  # before the time field
PEC_LEN = 2

# ---------------------------------------------------------------------------
# Layouts, declared once.

#: TC packet secondary header (ECSS-E-ST-70-41C §7.4.3.1): PUS version 2, acknowledgement
#: flags (4 bits), service type ID, message subtype ID, source ID.
TcSecondaryHeader = c.BitStruct(
    "pus_version" / c.Const(PUS_VERSION, c.BitsInteger(4)),
    "ack_flags" / c.BitsInteger(4),
    "service" / c.BitsInteger(8),
    "subtype" / c.BitsInteger(8),
    "source_id" / c.BitsInteger(16),
)
#: TM packet secondary header up to the time field (§7.4.3.2): PUS version 2, spacecraft time
#: reference status (4 bits), service type ID, message subtype ID, message type counter,
#: destination ID; the absolute time (a CCSDS 301.0 time code) follows.
TmSecondaryHeader = c.BitStruct(
    "pus_version" / c.Const(PUS_VERSION, c.BitsInteger(4)),
    "time_reference_status" / c.BitsInteger(4),
    "service" / c.BitsInteger(8),
    "subtype" / c.BitsInteger(8),
    "message_type_counter" / c.BitsInteger(16),
    "destination_id" / c.BitsInteger(16),
)
#: Packet error control (§7.4.3.1/§7.4.3.2 packet data field, CRC of Annex B): the last 2 octets.
PacketErrorControl = c.Int16ub
#: Request ID (ECSS-E-ST-70-41C §6.1, quoted by every service 1 report): the first 4 octets of the TC's
#: primary header.
RequestIdField = c.BitStruct(
    "version" / c.BitsInteger(3),
    "packet_type" / c.BitsInteger(1),
    "sec_header_flag" / c.BitsInteger(1),
    "apid" / c.BitsInteger(11),
    "sequence_flags" / c.BitsInteger(2),
    "sequence_count" / c.BitsInteger(14),
)

_TC_SH = BitLayout(TcSecondaryHeader)
_TM_SH = BitLayout(TmSecondaryHeader)
_REQ = BitLayout(RequestIdField)

#: The common implicit mission TM time format: CUC 4+2 octets, no P-field, 1958 TAI epoch.
DEFAULT_TM_TIME = CucConfig(coarse_octets=4, fine_octets=2)


class AckFlags(enum.IntFlag):
    """TC acknowledgement flags (§7.4.3.1): which verification reports the TC asks for."""

    NONE = 0
    ACCEPTANCE = 0b0001
    START = 0b0010
    PROGRESS = 0b0100
    COMPLETION = 0b1000
    ALL = 0b1111


class Service(enum.IntEnum):
    """PUS-C standard service type IDs implemented here."""

    REQUEST_VERIFICATION = 1
    HOUSEKEEPING = 3
    EVENT_REPORTING = 5
    FUNCTION_MANAGEMENT = 8
    TIME_MANAGEMENT = 9
    TIME_BASED_SCHEDULING = 11
    LARGE_PACKET_TRANSFER = 13
    TEST = 17
    PARAMETER_MANAGEMENT = 20


class MessageType(enum.Enum):
    """(packet type, service type, message subtype) of every message with a typed body here."""

    # service 1, §8.1.2
    ACCEPTANCE_SUCCESS = (PacketType.TM, 1, 1)
    ACCEPTANCE_FAILURE = (PacketType.TM, 1, 2)
    START_SUCCESS = (PacketType.TM, 1, 3)
    START_FAILURE = (PacketType.TM, 1, 4)
    PROGRESS_SUCCESS = (PacketType.TM, 1, 5)
    PROGRESS_FAILURE = (PacketType.TM, 1, 6)
    COMPLETION_SUCCESS = (PacketType.TM, 1, 7)
    COMPLETION_FAILURE = (PacketType.TM, 1, 8)
    # service 3, §8.3.2
    CREATE_HK_STRUCTURE = (PacketType.TC, 3, 1)
    CREATE_DIAGNOSTIC_STRUCTURE = (PacketType.TC, 3, 2)
    ENABLE_PERIODIC_HK = (PacketType.TC, 3, 5)
    DISABLE_PERIODIC_HK = (PacketType.TC, 3, 6)
    HK_PARAMETER_REPORT = (PacketType.TM, 3, 25)
    GENERATE_ONE_SHOT_HK = (PacketType.TC, 3, 27)
    MODIFY_HK_COLLECTION_INTERVAL = (PacketType.TC, 3, 31)
    # service 5, §8.5.2
    INFORMATIVE_EVENT = (PacketType.TM, 5, 1)
    LOW_SEVERITY_EVENT = (PacketType.TM, 5, 2)
    MEDIUM_SEVERITY_EVENT = (PacketType.TM, 5, 3)
    HIGH_SEVERITY_EVENT = (PacketType.TM, 5, 4)
    ENABLE_EVENT_REPORTS = (PacketType.TC, 5, 5)
    DISABLE_EVENT_REPORTS = (PacketType.TC, 5, 6)
    # service 8, §8.8.2
    PERFORM_FUNCTION = (PacketType.TC, 8, 1)
    # service 9, §8.9.2
    SET_TIME_REPORT_RATE = (PacketType.TC, 9, 1)
    CUC_TIME_REPORT = (PacketType.TM, 9, 2)
    CDS_TIME_REPORT = (PacketType.TM, 9, 3)
    # service 11, §8.11.2
    ENABLE_SCHEDULE = (PacketType.TC, 11, 1)
    DISABLE_SCHEDULE = (PacketType.TC, 11, 2)
    RESET_SCHEDULE = (PacketType.TC, 11, 3)
    INSERT_ACTIVITIES = (PacketType.TC, 11, 4)
    DELETE_ACTIVITIES_BY_ID = (PacketType.TC, 11, 5)
    SCHEDULE_SUMMARY_REPORT = (PacketType.TM, 11, 13)
    SUMMARY_REPORT_ALL = (PacketType.TC, 11, 17)
    # service 13, §8.13.2
    FIRST_DOWNLINK_PART = (PacketType.TM, 13, 1)
    INTERMEDIATE_DOWNLINK_PART = (PacketType.TM, 13, 2)
    LAST_DOWNLINK_PART = (PacketType.TM, 13, 3)
    # service 15, §8.15.2 (this mission's subtypes from 128: acknowledged store-and-forward)
    STORE_ACKNOWLEDGE = (PacketType.TC, 15, 128)
    STORE_RETRANSMIT = (PacketType.TC, 15, 129)
    STORE_STATUS_REPORT = (PacketType.TM, 15, 130)
    STORE_UNAVAILABLE_REPORT = (PacketType.TM, 15, 131)
    REPORT_STORE_STATUS = (PacketType.TC, 15, 132)
    # service 17, §8.17.2
    ARE_YOU_ALIVE = (PacketType.TC, 17, 1)
    ARE_YOU_ALIVE_REPORT = (PacketType.TM, 17, 2)
    # service 20, §8.20.2
    REPORT_PARAMETER_VALUES = (PacketType.TC, 20, 1)
    PARAMETER_VALUE_REPORT = (PacketType.TM, 20, 2)
    SET_PARAMETER_VALUES = (PacketType.TC, 20, 3)

    @property
    def packet_type(self) -> PacketType:
        """TC or TM."""
        return PacketType(self.value[0])

    @property
    def service(self) -> int:
        """Service type ID."""
        return int(self.value[1])

    @property
    def subtype(self) -> int:
        """Message subtype ID."""
        return int(self.value[2])


class FailureCode(enum.IntEnum):
    """Verification failure codes (16 bit). PUS-C leaves the values to the mission; 0..5 keep the PUS-A ones."""

    ILLEGAL_APID = 0
    WRONG_PACKET_LENGTH = 1
    BAD_CHECKSUM = 2
    ILLEGAL_PACKET_TYPE = 3
    ILLEGAL_SUBTYPE = 4
    ILLEGAL_APP_DATA = 5
    ILLEGAL_SERVICE = 6
    ARGUMENT_OUT_OF_RANGE = 7
    WRONG_MODE = 8
    FUNCTION_FAILED = 9
    UNKNOWN_PARAMETER = 10
    SCHEDULE_FULL = 11
    TIMEOUT = 12


# ---------------------------------------------------------------------------
# Helpers


def _pec_check(buf: bytes | bytearray | memoryview, start: int, end: int, base_offset: int) -> None:
    check_crc(buf, layer=LAYER, field="packet error control", start=start, end=end, base_offset=base_offset)


def _with_pec(header_fields: dict[str, Any], body: bytes) -> SpacePacket:
    data_len = len(body) + PEC_LEN
    if data_len > MAX_DATA_LEN:
        raise LocalProtocolError(LAYER, "packet data field length", data_len, f"<= {MAX_DATA_LEN} octets")
    hdr = encode_header(data_len=data_len, sec_header_flag=True, **header_fields)
    return SpacePacket(data=append_crc(hdr + body)[len(hdr):], sec_header_flag=True, **header_fields)


def _message_type(packet_type: PacketType, service: int, subtype: int) -> MessageType | None:
    try:
        return MessageType((packet_type, service, subtype))
    except ValueError:
        return None


def _check_header_fields(apid: int, sequence_count: int, service: int, subtype: int) -> None:
    """The ranges of the fields a TC and a TM share."""
    check_range(LAYER, "apid", apid, 0, 0x7FF)
    check_range(LAYER, "sequence_count", sequence_count, 0, 0x3FFF)
    check_range(LAYER, "service", service, 0, 255)
    check_range(LAYER, "subtype", subtype, 0, 255)


def _key_of(body: Body, packet_type: PacketType) -> MessageType:
    """The message type of a body that a ``packet_type`` packet may carry."""
    key = body.KEY
    if key.packet_type is not packet_type:
        raise LocalProtocolError(LAYER, "body", type(body).__name__, f"a {packet_type.name} message body")
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestId:
    """The request ID of a TC (§6.1): version, type, sec. header flag, APID, sequence flags and count."""

    apid: int
    sequence_count: int
    packet_type: PacketType = PacketType.TC
    sec_header_flag: bool = True
    sequence_flags: SequenceFlags = SequenceFlags.UNSEGMENTED
    version: int = 0

    def __post_init__(self) -> None:
        check_range(LAYER, "request ID apid", self.apid, 0, 0x7FF)
        check_range(LAYER, "request ID sequence_count", self.sequence_count, 0, 0x3FFF)
        check_range(LAYER, "request ID version", self.version, 0, 7)
        object.__setattr__(self, "packet_type", check_enum(LAYER, "packet_type", PacketType, self.packet_type))
        object.__setattr__(self, "sequence_flags", check_enum(LAYER, "sequence_flags", SequenceFlags, self.sequence_flags))
        object.__setattr__(self, "sec_header_flag", bool(self.sec_header_flag))

    def encode(self) -> bytes:
        """The 4 request ID octets."""
        return _REQ.pack(version=self.version, packet_type=self.packet_type, sec_header_flag=int(self.sec_header_flag),
                         apid=self.apid, sequence_flags=self.sequence_flags, sequence_count=self.sequence_count)


# ---------------------------------------------------------------------------
# Packets


@dataclass(frozen=True, slots=True, kw_only=True)
class PusTc:
    """A PUS-C telecommand packet."""

    apid: int
    service: int
    subtype: int
    app_data: bytes = b""
    sequence_count: int = 0
    ack_flags: AckFlags = AckFlags.ALL
    source_id: int = 0
    sequence_flags: SequenceFlags = SequenceFlags.UNSEGMENTED

    def __post_init__(self) -> None:
        _check_header_fields(self.apid, self.sequence_count, self.service, self.subtype)
        check_range(LAYER, "source_id", self.source_id, 0, 0xFFFF)
        check_range(LAYER, "ack_flags", int(self.ack_flags), 0, 15)
        object.__setattr__(self, "ack_flags", check_enum(LAYER, "ack_flags", AckFlags, self.ack_flags))
        object.__setattr__(self, "sequence_flags", check_enum(LAYER, "sequence_flags", SequenceFlags, self.sequence_flags))
        object.__setattr__(self, "app_data", bytes(self.app_data))

    @property
    def message_type(self) -> MessageType | None:
        """The message type, or None if this (service, subtype) has no typed body here."""
        return _message_type(PacketType.TC, self.service, self.subtype)

    @property
    def request_id(self) -> RequestId:
        """The request ID service 1 reports quote for this TC."""
        return RequestId(apid=self.apid, sequence_count=self.sequence_count, sequence_flags=self.sequence_flags)

    def to_packet(self) -> SpacePacket:
        """The space packet (secondary header, app data and PEC in its data field)."""
        sh = _TC_SH.pack(ack_flags=int(self.ack_flags), service=self.service, subtype=self.subtype,
                         source_id=self.source_id)
        return _with_pec(dict(apid=self.apid, sequence_count=self.sequence_count, packet_type=PacketType.TC,
                              sequence_flags=self.sequence_flags), sh + self.app_data)

    def encode(self) -> bytes:
        """The whole packet as bytes."""
        return self.to_packet().encode()

    @classmethod
    def from_body(cls, body: Body, *, apid: int, sequence_count: int = 0, ack_flags: AckFlags = AckFlags.ALL,
                  source_id: int = 0) -> PusTc:
        """A TC carrying a typed body."""
        key = _key_of(body, PacketType.TC)
        return cls(apid=apid, service=key.service, subtype=key.subtype, app_data=body.encode(),
                   sequence_count=sequence_count, ack_flags=ack_flags, source_id=source_id)

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, *, offset: int = 0) -> PusTc:
        """Decode exactly one PUS-C TC occupying all of ``buf``."""
        tc, end = cls.decode_from(buf, 0, base_offset=offset)
        check_length(LAYER, "packet length", len(buf), end, offset=offset, allowed=f"{end} octets as the header says")
        return tc

    @classmethod
    def from_packet(cls, packet: SpacePacket, *, offset: int = 0) -> PusTc:
        """Interpret a decoded space packet as a PUS-C TC."""
        return cls.decode(packet.encode(), offset=offset)

    @classmethod
    def decode_from(cls, buf: bytes | bytearray | memoryview, pos: int = 0, *,
                    base_offset: int = 0) -> tuple[PusTc, int]:
        """Decode the TC starting at ``buf[pos]``; return it and the position after it."""
        hdr, end = _decode_primary(buf, pos, base_offset, TC_SECONDARY_HEADER_LEN, PacketType.TC)
        s = pos + PRIMARY_HEADER_LEN
        version, ack, service, subtype, source_id = _TC_SH.unpack(buf, s)
        if version != PUS_VERSION:
            raise RemoteProtocolError(LAYER, "TC PUS version", version, "2 (PUS-C)", offset=base_offset + s)
        return cls(apid=hdr.apid, service=service, subtype=subtype,
                   app_data=bytes(buf[s + TC_SECONDARY_HEADER_LEN:end - PEC_LEN]),
                   sequence_count=hdr.sequence_count, ack_flags=AckFlags(ack), source_id=source_id,
                   sequence_flags=SequenceFlags(hdr.sequence_flags)), end


@dataclass(frozen=True, slots=True, kw_only=True)
class PusTm:
    """A PUS-C telemetry packet."""

    apid: int
    service: int
    subtype: int
    time: TimeCode
    source_data: bytes = b""
    sequence_count: int = 0
    message_type_counter: int = 0
    destination_id: int = 0
    time_reference_status: int = 0
    sequence_flags: SequenceFlags = SequenceFlags.UNSEGMENTED

    def __post_init__(self) -> None:
        _check_header_fields(self.apid, self.sequence_count, self.service, self.subtype)
        check_range(LAYER, "message_type_counter", self.message_type_counter, 0, 0xFFFF)
        check_range(LAYER, "destination_id", self.destination_id, 0, 0xFFFF)
        check_range(LAYER, "time_reference_status", self.time_reference_status, 0, 15)
        if not isinstance(self.time, (CucTime, CdsTime)):
            raise LocalProtocolError(LAYER, "time", self.time, "a CucTime or CdsTime")
        object.__setattr__(self, "sequence_flags", check_enum(LAYER, "sequence_flags", SequenceFlags, self.sequence_flags))
        object.__setattr__(self, "source_data", bytes(self.source_data))

    @property
    def message_type(self) -> MessageType | None:
        """The message type, or None if this (service, subtype) has no typed body here."""
        return _message_type(PacketType.TM, self.service, self.subtype)

    def to_packet(self) -> SpacePacket:
        """The space packet (secondary header with time, source data and PEC in its data field)."""
        sh = _TM_SH.pack(time_reference_status=self.time_reference_status, service=self.service,
                         subtype=self.subtype, message_type_counter=self.message_type_counter,
                         destination_id=self.destination_id)
        return _with_pec(dict(apid=self.apid, sequence_count=self.sequence_count, packet_type=PacketType.TM,
                              sequence_flags=self.sequence_flags), sh + self.time.encode() + self.source_data)

    def encode(self) -> bytes:
        """The whole packet as bytes."""
        return self.to_packet().encode()

    @classmethod
    def from_body(cls, body: Body, *, apid: int, time: TimeCode, sequence_count: int = 0,
                  message_type_counter: int = 0, destination_id: int = 0, time_reference_status: int = 0) -> PusTm:
        """A TM carrying a typed body."""
        key = _key_of(body, PacketType.TM)
        return cls(apid=apid, service=key.service, subtype=key.subtype, time=time, source_data=body.encode(),
                   sequence_count=sequence_count, message_type_counter=message_type_counter,
                   destination_id=destination_id, time_reference_status=time_reference_status)

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, *, time_config: TimeConfig = DEFAULT_TM_TIME,
               offset: int = 0) -> PusTm:
        """Decode exactly one PUS-C TM occupying all of ``buf``; its time field has format ``time_config``."""
        tm, end = cls.decode_from(buf, 0, time_config=time_config, base_offset=offset)
        check_length(LAYER, "packet length", len(buf), end, offset=offset, allowed=f"{end} octets as the header says")
        return tm

    @classmethod
    def from_packet(cls, packet: SpacePacket, *, time_config: TimeConfig = DEFAULT_TM_TIME,
                    offset: int = 0) -> PusTm:
        """Interpret a decoded space packet as a PUS-C TM."""
        return cls.decode(packet.encode(), time_config=time_config, offset=offset)

    @classmethod
    def decode_from(cls, buf: bytes | bytearray | memoryview, pos: int = 0, *,
                    time_config: TimeConfig = DEFAULT_TM_TIME, base_offset: int = 0) -> tuple[PusTm, int]:
        """Decode the TM starting at ``buf[pos]``; return it and the position after it."""
        hdr, end = _decode_primary(buf, pos, base_offset, TM_SECONDARY_HEADER_LEN, PacketType.TM)
        s = pos + PRIMARY_HEADER_LEN
        version, status, service, subtype, counter, dest = _TM_SH.unpack(buf, s)
        if version != PUS_VERSION:
            raise RemoteProtocolError(LAYER, "TM PUS version", version, "2 (PUS-C)", offset=base_offset + s)
        # the time field must end before the PEC: decode it from a view that stops there
        body_end = end - PEC_LEN
        time, t_end = decode_time_from(memoryview(buf)[:body_end], s + TM_SECONDARY_HEADER_LEN,
                                       config=time_config, base_offset=base_offset)
        if cls is not PusTm:  # a subclass may validate more in __post_init__: let it
            return cls(apid=hdr.apid, service=service, subtype=subtype, time=time,
                       source_data=bytes(buf[t_end:body_end]), sequence_count=hdr.sequence_count,
                       message_type_counter=counter, destination_id=dest, time_reference_status=status,
                       sequence_flags=SequenceFlags(hdr.sequence_flags)), end
        # every field comes from a bit mask of its declared width (in range by construction) and the time
        # decoder returns a CucTime/CdsTime, so __post_init__'s checks cannot fail here: skip them
        tm = object.__new__(PusTm)
        _set = object.__setattr__
        _set(tm, "apid", hdr.apid)
        _set(tm, "service", service)
        _set(tm, "subtype", subtype)
        _set(tm, "time", time)
        _set(tm, "source_data", bytes(buf[t_end:body_end]))
        _set(tm, "sequence_count", hdr.sequence_count)
        _set(tm, "message_type_counter", counter)
        _set(tm, "destination_id", dest)
        _set(tm, "time_reference_status", status)
        _set(tm, "sequence_flags", _SEQUENCE_FLAGS[hdr.sequence_flags])
        return tm, end


#: SequenceFlags by value (a 2-bit field: every value is a member), without an enum call per packet.
_SEQUENCE_FLAGS: tuple[SequenceFlags, ...] = tuple(SequenceFlags(v) for v in range(4))


def _decode_primary(buf: bytes | bytearray | memoryview, pos: int, base_offset: int, sec_len: int,
                    expected: PacketType) -> tuple[Any, int]:
    where = base_offset + pos
    hdr = decode_header(buf, pos, base_offset=base_offset)
    end = pos + hdr.packet_len
    if end > len(buf):
        raise TruncatedError(LAYER, "packet", len(buf) - pos, f"{hdr.packet_len} octets (data length field)",
                             offset=where)
    if hdr.packet_type != expected:
        raise RemoteProtocolError(LAYER, "packet type", hdr.packet_type, f"{int(expected)} ({expected.name})",
                                  offset=where)
    if not hdr.sec_header_flag:
        raise RemoteProtocolError(LAYER, "secondary header flag", 0, "1 (PUS packets carry one)", offset=where)
    minimum = sec_len + PEC_LEN
    if hdr.data_length + 1 < minimum:
        raise RemoteProtocolError(LAYER, "packet data field length", hdr.data_length + 1,
                                  f">= {minimum} octets (secondary header + PEC)", offset=where + 4)
    _pec_check(buf, pos, end, base_offset)
    return hdr, end
