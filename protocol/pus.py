"""ECSS Packet Utilisation Standard, PUS-C (ECSS-E-ST-70-41C), over CCSDS space packets.

* :class:`PusTc` / :class:`PusTm` -- frozen telecommand / telemetry packets:
  primary header fields, the PUS-C secondary header (§7.4.3.1 TC, §7.4.3.2 TM)
  and the application data / source data; ``to_packet()``, ``encode()``,
  ``decode()``. The packet error control field, a CRC-16-CCITT
  (:func:`protocol.crc.crc16`, ECSS-E-ST-70-41C Annex B) over the whole
  packet, is always appended and always checked (:class:`ChecksumError`).
* Message bodies -- one frozen dataclass per message type, with ``encode()``
  and ``decode()``; :func:`decode_body` looks up (packet type, service,
  subtype) in a registry and returns the typed body. Services: 1 (request
  verification), 3 (housekeeping), 5 (event reporting), 8 (function
  management), 9 (time management), 11 (time-based scheduling), 17 (test),
  20 (on-board parameter management).

Options supported and the choices made where PUS-C leaves them to the mission
(the widths a small mission typically picks):

* PUS version 2 only; TC secondary header 5 octets (no spare), TM secondary
  header 7 octets + time (no spare); PEC present on every packet.
* TM time: any :mod:`protocol.timecode` format; the default
  :data:`DEFAULT_TM_TIME` is CUC 4 coarse + 2 fine octets without P-field
  (1958 TAI epoch), the common implicit mission format (~15 µs resolution,
  136 years of range).
* Field widths: request ID 4 octets (packet version, type, secondary header
  flag, APID, sequence flags, sequence count of the TC, as the standard
  fixes); step ID, failure code, SID, parameter ID, event definition ID,
  function ID: 16 bit; repetition counts N: 16 bit; collection interval:
  32 bit (in units of the mission's minimum sampling interval); time report
  rate exponent: 8 bit.
* Parameter values (TM[20,2], TC[20,3]) are raw octets; their width per
  parameter ID comes from the caller (the mission dictionary) through
  :class:`BodyOptions` (``parameter_octets`` map, else a fixed
  ``default_parameter_octets`` of 4). Housekeeping report parameters
  (TM[3,25]) decode to SID + raw octets for the mission dictionary to split.
* Service 11 request IDs are (source ID, APID, sequence count), 16 bit each.
  Release times in TC[11,4] / TM[11,13] use ``BodyOptions.time_config``
  (implicit format); the time reports TM[9,2] / TM[9,3] carry their P-field.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import construct as c

from .crc import append_crc, check_crc
from .errors import LocalProtocolError, RemoteProtocolError, TruncatedError, check_enum, check_length, check_range, construct_errors
from .layout import BitLayout
from .spacepacket import (
    MAX_DATA_LEN,
    PRIMARY_HEADER_LEN,
    PacketType,
    SequenceFlags,
    SpacePacket,
    decode_header,
    encode_header,
)
from .timecode import (
    CdsConfig,
    CdsTime,
    CucConfig,
    CucTime,
    TimeCode,
    TimeConfig,
    decode_time_from,
)

__all__ = [
    "TcSecondaryHeader", "TmSecondaryHeader", "PacketErrorControl", "RequestIdField",
    "PUS_VERSION", "TC_SECONDARY_HEADER_LEN", "TM_SECONDARY_HEADER_LEN", "PEC_LEN", "DEFAULT_TM_TIME",
    "AckFlags", "Service", "MessageType", "FailureCode",
    "RequestId", "PusTc", "PusTm", "BodyOptions", "Body",
    "body_class", "decode_body", "registered_types", "DEFAULT_OPTIONS",
    "FailureNotice", "AcceptanceSuccess", "AcceptanceFailure", "StartSuccess", "StartFailure",
    "ProgressSuccess", "ProgressFailure", "CompletionSuccess", "CompletionFailure",
    "CreateHkStructure", "CreateDiagnosticStructure", "SuperCommutatedGroup", "EnablePeriodicHk",
    "DisablePeriodicHk", "GenerateOneShotHk", "ModifyHkCollectionInterval", "HkParameterReport",
    "InformativeEvent", "LowSeverityEvent", "MediumSeverityEvent", "HighSeverityEvent",
    "EnableEventReports", "DisableEventReports", "PerformFunction",
    "SetTimeReportRate", "CucTimeReport", "CdsTimeReport",
    "EnableSchedule", "DisableSchedule", "ResetSchedule", "ScheduleRequestId", "ScheduledActivity",
    "InsertActivities", "DeleteActivitiesById", "SummaryReportAll", "ScheduleSummaryEntry",
    "ScheduleSummaryReport", "AreYouAlive", "AreYouAliveReport",
    "ParameterValue", "ReportParameterValues", "ParameterValueReport", "SetParameterValues",
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


def _enum(enum_cls: type[enum.Enum], value: int, name: str, allowed: str, offset: int) -> Any:
    try:
        return enum_cls(value)
    except ValueError as e:
        raise RemoteProtocolError(LAYER, name, value, allowed, offset=offset) from e


def _pec_check(buf: bytes | bytearray | memoryview, start: int, end: int, base_offset: int) -> None:
    check_crc(buf, layer=LAYER, field="packet error control", start=start, end=end, base_offset=base_offset)


def _with_pec(header_fields: dict[str, Any], body: bytes) -> SpacePacket:
    data_len = len(body) + PEC_LEN
    if data_len > MAX_DATA_LEN:
        raise LocalProtocolError(LAYER, "packet data field length", data_len, f"<= {MAX_DATA_LEN} octets")
    hdr = encode_header(data_len=data_len, sec_header_flag=True, **header_fields)
    return SpacePacket(data=append_crc(hdr + body)[len(hdr):], sec_header_flag=True, **header_fields)


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

    @classmethod
    def _from_fields(cls, fields: Any) -> RequestId:
        """From a parsed :data:`RequestIdField` container (internal to protocol/)."""
        return cls(apid=fields.apid, sequence_count=fields.sequence_count, packet_type=PacketType(fields.packet_type),
                   sec_header_flag=bool(fields.sec_header_flag), sequence_flags=SequenceFlags(fields.sequence_flags),
                   version=fields.version)

    def fields(self) -> dict[str, int]:
        """Field values for building a :data:`RequestIdField`."""
        return dict(version=self.version, packet_type=int(self.packet_type), sec_header_flag=int(self.sec_header_flag),
                    apid=self.apid, sequence_flags=int(self.sequence_flags), sequence_count=self.sequence_count)


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
        check_range(LAYER, "apid", self.apid, 0, 0x7FF)
        check_range(LAYER, "sequence_count", self.sequence_count, 0, 0x3FFF)
        check_range(LAYER, "service", self.service, 0, 255)
        check_range(LAYER, "subtype", self.subtype, 0, 255)
        check_range(LAYER, "source_id", self.source_id, 0, 0xFFFF)
        check_range(LAYER, "ack_flags", int(self.ack_flags), 0, 15)
        object.__setattr__(self, "ack_flags", check_enum(LAYER, "ack_flags", AckFlags, self.ack_flags))
        object.__setattr__(self, "sequence_flags", check_enum(LAYER, "sequence_flags", SequenceFlags, self.sequence_flags))
        object.__setattr__(self, "app_data", bytes(self.app_data))

    @property
    def message_type(self) -> MessageType | None:
        """The message type, or None if this (service, subtype) has no typed body here."""
        try:
            return MessageType((PacketType.TC, self.service, self.subtype))
        except ValueError:
            return None

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
        key = body.KEY
        if key.packet_type is not PacketType.TC:
            raise LocalProtocolError(LAYER, "body", type(body).__name__, "a TC message body")
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
        check_range(LAYER, "apid", self.apid, 0, 0x7FF)
        check_range(LAYER, "sequence_count", self.sequence_count, 0, 0x3FFF)
        check_range(LAYER, "service", self.service, 0, 255)
        check_range(LAYER, "subtype", self.subtype, 0, 255)
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
        try:
            return MessageType((PacketType.TM, self.service, self.subtype))
        except ValueError:
            return None

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
        key = body.KEY
        if key.packet_type is not PacketType.TM:
            raise LocalProtocolError(LAYER, "body", type(body).__name__, "a TM message body")
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


# ---------------------------------------------------------------------------
# Message bodies


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


_REGISTRY: dict[MessageType, type[Body]] = {}
_B = TypeVar("_B", bound=type[Body])


def _register(cls: _B) -> _B:
    if cls.KEY in _REGISTRY:  # pragma: no cover - a programming error caught at import
        raise TypeError(f"{cls.KEY} registered twice")
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


def _parse(layout: c.Construct, data: bytes, offset: int, **params: Any) -> Any:
    with construct_errors(LAYER, offset=offset):
        return layout.parse(data, **params)


def _build(layout: c.Construct, name: str, value: dict[str, Any]) -> bytes:
    try:
        return layout.build(value)
    except c.ConstructError as e:
        raise LocalProtocolError(LAYER, name, "field values", "values the layout accepts", detail=str(e)) from e


def _ids(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


# --- service 1: request verification (§6.1, §8.1.2) -------------------------------

#: TM[1,1] / [1,3] / [1,7]: request ID.
VerificationSuccessLayout = c.Struct("request_id" / RequestIdField, c.Terminated)
#: TM[1,2] / [1,4] / [1,8]: request ID, failure notice (16-bit code + optional data).
VerificationFailureLayout = c.Struct("request_id" / RequestIdField, "code" / c.Int16ub, "data" / c.GreedyBytes)
#: TM[1,5]: request ID, step ID.
ProgressSuccessLayout = c.Struct("request_id" / RequestIdField, "step_id" / c.Int16ub, c.Terminated)
#: TM[1,6]: request ID, step ID, failure notice.
ProgressFailureLayout = c.Struct("request_id" / RequestIdField, "step_id" / c.Int16ub, "code" / c.Int16ub,
                                 "data" / c.GreedyBytes)


@dataclass(frozen=True, slots=True)
class FailureNotice:
    """Why a verification stage failed: a failure code and optional data."""

    code: FailureCode
    data: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.code, FailureCode):
            try:
                object.__setattr__(self, "code", FailureCode(self.code))
            except ValueError as e:
                raise LocalProtocolError(LAYER, "failure code", self.code, "a FailureCode") from e
        object.__setattr__(self, "data", bytes(self.data))


def _failure(parsed: Any, offset: int) -> FailureNotice:
    code = _enum(FailureCode, parsed.code, "failure code", f"a FailureCode 0..{max(FailureCode)}", offset)
    return FailureNotice(code, bytes(parsed.data))


@dataclass(frozen=True, slots=True)
class _SuccessReport(Body):
    request_id: RequestId

    def encode(self) -> bytes:
        """The body octets."""
        return _build(VerificationSuccessLayout, self.KEY.name, dict(request_id=self.request_id.fields()))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data``."""
        p = _parse(VerificationSuccessLayout, data, offset)
        return cls(RequestId._from_fields(p.request_id))


@dataclass(frozen=True, slots=True)
class _FailureReport(Body):
    request_id: RequestId
    failure: FailureNotice

    def encode(self) -> bytes:
        """The body octets."""
        return _build(VerificationFailureLayout, self.KEY.name, dict(
            request_id=self.request_id.fields(), code=int(self.failure.code), data=self.failure.data))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data``."""
        p = _parse(VerificationFailureLayout, data, offset)
        return cls(RequestId._from_fields(p.request_id), _failure(p, offset + 4))


@_register
@dataclass(frozen=True, slots=True)
class AcceptanceSuccess(_SuccessReport):
    """TM[1,1] successful acceptance verification report."""

    KEY = MessageType.ACCEPTANCE_SUCCESS


@_register
@dataclass(frozen=True, slots=True)
class AcceptanceFailure(_FailureReport):
    """TM[1,2] failed acceptance verification report."""

    KEY = MessageType.ACCEPTANCE_FAILURE


@_register
@dataclass(frozen=True, slots=True)
class StartSuccess(_SuccessReport):
    """TM[1,3] successful start of execution verification report."""

    KEY = MessageType.START_SUCCESS


@_register
@dataclass(frozen=True, slots=True)
class StartFailure(_FailureReport):
    """TM[1,4] failed start of execution verification report."""

    KEY = MessageType.START_FAILURE


@_register
@dataclass(frozen=True, slots=True)
class ProgressSuccess(Body):
    """TM[1,5] successful progress of execution verification report."""

    KEY = MessageType.PROGRESS_SUCCESS
    request_id: RequestId
    step_id: int

    def encode(self) -> bytes:
        """The body octets."""
        return _build(ProgressSuccessLayout, self.KEY.name,
                      dict(request_id=self.request_id.fields(), step_id=self.step_id))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> ProgressSuccess:
        """Decode a body occupying all of ``data``."""
        p = _parse(ProgressSuccessLayout, data, offset)
        return cls(RequestId._from_fields(p.request_id), p.step_id)


@_register
@dataclass(frozen=True, slots=True)
class ProgressFailure(Body):
    """TM[1,6] failed progress of execution verification report."""

    KEY = MessageType.PROGRESS_FAILURE
    request_id: RequestId
    step_id: int
    failure: FailureNotice

    def encode(self) -> bytes:
        """The body octets."""
        return _build(ProgressFailureLayout, self.KEY.name, dict(
            request_id=self.request_id.fields(), step_id=self.step_id, code=int(self.failure.code),
            data=self.failure.data))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> ProgressFailure:
        """Decode a body occupying all of ``data``."""
        p = _parse(ProgressFailureLayout, data, offset)
        return cls(RequestId._from_fields(p.request_id), p.step_id, _failure(p, offset + 6))


@_register
@dataclass(frozen=True, slots=True)
class CompletionSuccess(_SuccessReport):
    """TM[1,7] successful completion of execution verification report."""

    KEY = MessageType.COMPLETION_SUCCESS


@_register
@dataclass(frozen=True, slots=True)
class CompletionFailure(_FailureReport):
    """TM[1,8] failed completion of execution verification report."""

    KEY = MessageType.COMPLETION_FAILURE


# --- service 3: housekeeping (§6.3, §8.3.2) -----------------------------------------

_IdList = c.PrefixedArray(c.Int16ub, c.Int16ub)  # N (16 bit) then N 16-bit IDs
#: TC[3,1] / TC[3,2]: SID, collection interval, N1 + parameter IDs, NFA + super-commutated groups
#: (each a sample repetition number and N2 + parameter IDs).
CreateStructureLayout = c.Struct(
    "sid" / c.Int16ub,
    "collection_interval" / c.Int32ub,
    "parameter_ids" / _IdList,
    "groups" / c.PrefixedArray(c.Int16ub, c.Struct("repetition" / c.Int16ub, "parameter_ids" / _IdList)),
    c.Terminated,
)
#: TC[3,5] / [3,6] / [3,27], TC[5,5] / [5,6], TC[20,1]: N then N 16-bit IDs.
IdListLayout = c.Struct("ids" / _IdList, c.Terminated)
#: TC[3,31]: N then N (SID, collection interval) pairs.
ModifyIntervalLayout = c.Struct(
    "entries" / c.PrefixedArray(c.Int16ub, c.Struct("sid" / c.Int16ub, "collection_interval" / c.Int32ub)),
    c.Terminated,
)
#: TM[3,25]: SID then the parameter values in the structure's order (split by the mission dictionary).
HkReportLayout = c.Struct("sid" / c.Int16ub, "parameter_data" / c.GreedyBytes)


@dataclass(frozen=True, slots=True)
class SuperCommutatedGroup:
    """A super-commutated parameter group of an HK structure: sampled ``repetition`` times per interval."""

    repetition: int
    parameter_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _CreateStructure(Body):
    sid: int
    collection_interval: int
    parameter_ids: tuple[int, ...]
    groups: tuple[SuperCommutatedGroup, ...] = ()

    def encode(self) -> bytes:
        """The body octets."""
        return _build(CreateStructureLayout, self.KEY.name, dict(
            sid=self.sid, collection_interval=self.collection_interval, parameter_ids=list(self.parameter_ids),
            groups=[dict(repetition=g.repetition, parameter_ids=list(g.parameter_ids)) for g in self.groups]))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data``."""
        p = _parse(CreateStructureLayout, data, offset)
        groups = tuple(SuperCommutatedGroup(g.repetition, _ids(g.parameter_ids)) for g in p.groups)
        return cls(p.sid, p.collection_interval, _ids(p.parameter_ids), groups)


@_register
@dataclass(frozen=True, slots=True)
class CreateHkStructure(_CreateStructure):
    """TC[3,1] create a housekeeping parameter report structure."""

    KEY = MessageType.CREATE_HK_STRUCTURE


@_register
@dataclass(frozen=True, slots=True)
class CreateDiagnosticStructure(_CreateStructure):
    """TC[3,2] create a diagnostic parameter report structure."""

    KEY = MessageType.CREATE_DIAGNOSTIC_STRUCTURE


@dataclass(frozen=True, slots=True)
class _IdListBody(Body):
    ids: tuple[int, ...]

    def encode(self) -> bytes:
        """The body octets."""
        return _build(IdListLayout, self.KEY.name, dict(ids=list(self.ids)))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data``."""
        return cls(_ids(_parse(IdListLayout, data, offset).ids))


@_register
@dataclass(frozen=True, slots=True)
class EnablePeriodicHk(_IdListBody):
    """TC[3,5] enable the periodic generation of HK reports, by SID."""

    KEY = MessageType.ENABLE_PERIODIC_HK


@_register
@dataclass(frozen=True, slots=True)
class DisablePeriodicHk(_IdListBody):
    """TC[3,6] disable the periodic generation of HK reports, by SID."""

    KEY = MessageType.DISABLE_PERIODIC_HK


@_register
@dataclass(frozen=True, slots=True)
class GenerateOneShotHk(_IdListBody):
    """TC[3,27] generate a one-shot HK report for each SID."""

    KEY = MessageType.GENERATE_ONE_SHOT_HK


@_register
@dataclass(frozen=True, slots=True)
class ModifyHkCollectionInterval(Body):
    """TC[3,31] modify the collection interval of HK structures: (SID, interval) pairs."""

    KEY = MessageType.MODIFY_HK_COLLECTION_INTERVAL
    entries: tuple[tuple[int, int], ...]

    def encode(self) -> bytes:
        """The body octets."""
        return _build(ModifyIntervalLayout, self.KEY.name, dict(
            entries=[dict(sid=s, collection_interval=i) for s, i in self.entries]))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS,
               offset: int = 0) -> ModifyHkCollectionInterval:
        """Decode a body occupying all of ``data``."""
        p = _parse(ModifyIntervalLayout, data, offset)
        return cls(tuple((e.sid, e.collection_interval) for e in p.entries))


@_register
@dataclass(frozen=True, slots=True)
class HkParameterReport(Body):
    """TM[3,25] housekeeping parameter report: SID and the raw parameter octets."""

    KEY = MessageType.HK_PARAMETER_REPORT
    sid: int
    parameter_data: bytes = b""

    def encode(self) -> bytes:
        """The body octets."""
        return _build(HkReportLayout, self.KEY.name, dict(sid=self.sid, parameter_data=bytes(self.parameter_data)))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> HkParameterReport:
        """Decode a body occupying all of ``data``."""
        p = _parse(HkReportLayout, data, offset)
        return cls(p.sid, bytes(p.parameter_data))


# --- service 5: event reporting (§6.5, §8.5.2) ----------------------------------------

#: TM[5,1..4]: event definition ID then auxiliary data.
EventReportLayout = c.Struct("event_id" / c.Int16ub, "auxiliary_data" / c.GreedyBytes)


@dataclass(frozen=True, slots=True)
class _EventReport(Body):
    event_id: int
    auxiliary_data: bytes = b""

    def encode(self) -> bytes:
        """The body octets."""
        return _build(EventReportLayout, self.KEY.name,
                      dict(event_id=self.event_id, auxiliary_data=bytes(self.auxiliary_data)))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data``."""
        p = _parse(EventReportLayout, data, offset)
        return cls(p.event_id, bytes(p.auxiliary_data))


@_register
@dataclass(frozen=True, slots=True)
class InformativeEvent(_EventReport):
    """TM[5,1] informative event report."""

    KEY = MessageType.INFORMATIVE_EVENT


@_register
@dataclass(frozen=True, slots=True)
class LowSeverityEvent(_EventReport):
    """TM[5,2] low severity anomaly report."""

    KEY = MessageType.LOW_SEVERITY_EVENT


@_register
@dataclass(frozen=True, slots=True)
class MediumSeverityEvent(_EventReport):
    """TM[5,3] medium severity anomaly report."""

    KEY = MessageType.MEDIUM_SEVERITY_EVENT


@_register
@dataclass(frozen=True, slots=True)
class HighSeverityEvent(_EventReport):
    """TM[5,4] high severity anomaly report."""

    KEY = MessageType.HIGH_SEVERITY_EVENT


@_register
@dataclass(frozen=True, slots=True)
class EnableEventReports(_IdListBody):
    """TC[5,5] enable the report generation of event definitions, by event definition ID."""

    KEY = MessageType.ENABLE_EVENT_REPORTS


@_register
@dataclass(frozen=True, slots=True)
class DisableEventReports(_IdListBody):
    """TC[5,6] disable the report generation of event definitions, by event definition ID."""

    KEY = MessageType.DISABLE_EVENT_REPORTS


# --- service 8: function management (§6.8, §8.8.2) ------------------------------------

#: TC[8,1]: function ID then the function's arguments (their layout is the function's).
PerformFunctionLayout = c.Struct("function_id" / c.Int16ub, "arguments" / c.GreedyBytes)


@_register
@dataclass(frozen=True, slots=True)
class PerformFunction(Body):
    """TC[8,1] perform a function: function ID and raw argument octets."""

    KEY = MessageType.PERFORM_FUNCTION
    function_id: int
    arguments: bytes = b""

    def encode(self) -> bytes:
        """The body octets."""
        return _build(PerformFunctionLayout, self.KEY.name,
                      dict(function_id=self.function_id, arguments=bytes(self.arguments)))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> PerformFunction:
        """Decode a body occupying all of ``data``."""
        p = _parse(PerformFunctionLayout, data, offset)
        return cls(p.function_id, bytes(p.arguments))


# --- service 9: time management (§6.9, §8.9.2) ----------------------------------------

#: TC[9,1]: time report generation rate exponential value (a report every 2**n time periods).
TimeReportRateLayout = c.Struct("rate_exponent" / c.Int8ub, c.Terminated)
#: TM[9,2] / TM[9,3] prefix: rate exponential value; the time code with its P-field follows.
TimeReportLayout = c.Struct("rate_exponent" / c.Int8ub)


@_register
@dataclass(frozen=True, slots=True)
class SetTimeReportRate(Body):
    """TC[9,1] set the time report generation rate (every 2**rate_exponent periods)."""

    KEY = MessageType.SET_TIME_REPORT_RATE
    rate_exponent: int

    def encode(self) -> bytes:
        """The body octets."""
        return _build(TimeReportRateLayout, self.KEY.name, dict(rate_exponent=self.rate_exponent))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> SetTimeReportRate:
        """Decode a body occupying all of ``data``."""
        return cls(_parse(TimeReportRateLayout, data, offset).rate_exponent)


def _time_report_decode(cls: Any, data: bytes, config: TimeConfig, offset: int) -> Any:
    rate = _parse(TimeReportLayout, data[:1], offset).rate_exponent
    if isinstance(config, CucConfig):
        t: TimeCode = CucTime.decode(data[1:], config=config, offset=offset + 1)
    else:
        t = CdsTime.decode(data[1:], config=config, offset=offset + 1)
    return cls(rate, t)


@_register
@dataclass(frozen=True, slots=True)
class CucTimeReport(Body):
    """TM[9,2] CUC time report: rate exponent and the on-board time as CUC with its P-field."""

    KEY = MessageType.CUC_TIME_REPORT
    rate_exponent: int
    time: CucTime

    def __post_init__(self) -> None:
        if not isinstance(self.time, CucTime):
            raise LocalProtocolError(LAYER, "time", self.time, "a CucTime")
        if not self.time.config.p_field:  # the report always carries the P-field
            object.__setattr__(self, "time", CucTime(self.time.coarse_s_raw, self.time.fine_raw,
                                                     dataclasses.replace(self.time.config, p_field=True)))

    def encode(self) -> bytes:
        """The body octets (the time with its P-field)."""
        return _build(TimeReportLayout, self.KEY.name, dict(rate_exponent=self.rate_exponent)) + self.time.encode()

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> CucTimeReport:
        """Decode a body occupying all of ``data`` (a mission epoch comes from ``options.time_config``)."""
        base = options.time_config if isinstance(options.time_config, CucConfig) else DEFAULT_TM_TIME
        return _time_report_decode(cls, data, dataclasses.replace(base, p_field=True), offset)


@_register
@dataclass(frozen=True, slots=True)
class CdsTimeReport(Body):
    """TM[9,3] CDS time report: rate exponent and the on-board time as CDS with its P-field."""

    KEY = MessageType.CDS_TIME_REPORT
    rate_exponent: int
    time: CdsTime

    def __post_init__(self) -> None:
        if not isinstance(self.time, CdsTime):
            raise LocalProtocolError(LAYER, "time", self.time, "a CdsTime")
        if not self.time.config.p_field:  # the report always carries the P-field
            t = self.time
            object.__setattr__(self, "time", CdsTime(t.day_raw, t.ms_of_day_raw, t.submillisecond_raw,
                                                     dataclasses.replace(t.config, p_field=True)))

    def encode(self) -> bytes:
        """The body octets (the time with its P-field)."""
        return _build(TimeReportLayout, self.KEY.name, dict(rate_exponent=self.rate_exponent)) + self.time.encode()

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> CdsTimeReport:
        """Decode a body occupying all of ``data`` (a mission epoch comes from ``options.time_config``)."""
        base = options.time_config if isinstance(options.time_config, CdsConfig) else CdsConfig()
        return _time_report_decode(cls, data, dataclasses.replace(base, p_field=True), offset)


# --- service 11: time-based scheduling (§6.11, §8.11.2) ---------------------------------

#: Service 11 request ID (§6.11): source ID, APID, sequence count of the scheduled TC.
ScheduleRequestIdLayout = c.Struct("source_id" / c.Int16ub, "apid" / c.Int16ub, "sequence_count" / c.Int16ub)
#: TC[11,5]: N then N service 11 request IDs.
DeleteByIdLayout = c.Struct("request_ids" / c.PrefixedArray(c.Int16ub, ScheduleRequestIdLayout), c.Terminated)
#: TC[11,4] and TM[11,13] start with N (16 bit); each entry is a release time (implicit format)
#: followed by a TC packet (TC[11,4], self-delimiting) or a request ID (TM[11,13]).
ActivityCountLayout = c.Struct("count" / c.Int16ub)
#: TC[11,1] / [11,2] / [11,3] / [11,17], TC[17,1], TM[17,2]: no application / source data.
EmptyLayout = c.Struct(c.Terminated)


@dataclass(frozen=True, slots=True)
class _EmptyBody(Body):
    def encode(self) -> bytes:
        """The body octets (none)."""
        return b""

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data`` (must be empty)."""
        _parse(EmptyLayout, data, offset)
        return cls()


@_register
@dataclass(frozen=True, slots=True)
class EnableSchedule(_EmptyBody):
    """TC[11,1] enable the time-based schedule execution function."""

    KEY = MessageType.ENABLE_SCHEDULE


@_register
@dataclass(frozen=True, slots=True)
class DisableSchedule(_EmptyBody):
    """TC[11,2] disable the time-based schedule execution function."""

    KEY = MessageType.DISABLE_SCHEDULE


@_register
@dataclass(frozen=True, slots=True)
class ResetSchedule(_EmptyBody):
    """TC[11,3] reset the time-based schedule."""

    KEY = MessageType.RESET_SCHEDULE


@_register
@dataclass(frozen=True, slots=True)
class SummaryReportAll(_EmptyBody):
    """TC[11,17] summary-report all time-based scheduled activities (answered by TM[11,13])."""

    KEY = MessageType.SUMMARY_REPORT_ALL


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRequestId:
    """Service 11 request ID: source ID, APID and sequence count of a scheduled TC."""

    source_id: int
    apid: int
    sequence_count: int

    @classmethod
    def of(cls, tc: PusTc) -> ScheduleRequestId:
        """The request ID of a TC."""
        return cls(source_id=tc.source_id, apid=tc.apid, sequence_count=tc.sequence_count)

    def fields(self) -> dict[str, int]:
        """Field values for building a :data:`ScheduleRequestIdLayout`."""
        return dict(source_id=self.source_id, apid=self.apid, sequence_count=self.sequence_count)


def _time_encode(t: TimeCode, name: str) -> bytes:
    if not isinstance(t, (CucTime, CdsTime)):
        raise LocalProtocolError(LAYER, name, t, "a CucTime or CdsTime")
    return t.encode()


def _count(n: int, name: str) -> bytes:
    return _build(ActivityCountLayout, name, dict(count=n))


def _read_count(data: bytes, offset: int) -> int:
    return int(_parse(ActivityCountLayout, data[:2], offset).count)


@dataclass(frozen=True, slots=True)
class ScheduledActivity:
    """A TC to release at ``release_time``."""

    release_time: TimeCode
    request: PusTc


@_register
@dataclass(frozen=True, slots=True)
class InsertActivities(Body):
    """TC[11,4] insert activities into the time-based schedule: (release time, TC packet) entries."""

    KEY = MessageType.INSERT_ACTIVITIES
    activities: tuple[ScheduledActivity, ...]

    def encode(self) -> bytes:
        """The body octets."""
        out = [_count(len(self.activities), self.KEY.name)]
        for a in self.activities:
            out.append(_time_encode(a.release_time, "release time"))
            out.append(a.request.encode())
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> InsertActivities:
        """Decode a body occupying all of ``data``; release times have format ``options.time_config``."""
        n = _read_count(data, offset)
        pos = 2
        acts = []
        for _ in range(n):
            t, pos = decode_time_from(data, pos, config=options.time_config, base_offset=offset)
            tc, pos = PusTc.decode_from(data, pos, base_offset=offset)
            acts.append(ScheduledActivity(t, tc))
        _expect_end(data, pos, offset, n)
        return cls(tuple(acts))


def _expect_end(data: bytes, pos: int, offset: int, n: int) -> None:
    if pos != len(data):
        raise RemoteProtocolError(LAYER, "body length", len(data), f"{pos} octets for N = {n} entries",
                                  offset=offset + pos, detail=f"{len(data) - pos} trailing octets")


@_register
@dataclass(frozen=True, slots=True)
class DeleteActivitiesById(Body):
    """TC[11,5] delete time-based scheduled activities identified by request ID."""

    KEY = MessageType.DELETE_ACTIVITIES_BY_ID
    request_ids: tuple[ScheduleRequestId, ...]

    def encode(self) -> bytes:
        """The body octets."""
        return _build(DeleteByIdLayout, self.KEY.name, dict(request_ids=[r.fields() for r in self.request_ids]))

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS,
               offset: int = 0) -> DeleteActivitiesById:
        """Decode a body occupying all of ``data``."""
        p = _parse(DeleteByIdLayout, data, offset)
        return cls(tuple(ScheduleRequestId(source_id=r.source_id, apid=r.apid, sequence_count=r.sequence_count)
                         for r in p.request_ids))


@dataclass(frozen=True, slots=True)
class ScheduleSummaryEntry:
    """One line of a schedule summary: release time and request ID of a scheduled TC."""

    release_time: TimeCode
    request_id: ScheduleRequestId


@_register
@dataclass(frozen=True, slots=True)
class ScheduleSummaryReport(Body):
    """TM[11,13] time-based schedule summary report: (release time, request ID) entries."""

    KEY = MessageType.SCHEDULE_SUMMARY_REPORT
    entries: tuple[ScheduleSummaryEntry, ...]

    def encode(self) -> bytes:
        """The body octets."""
        out = [_count(len(self.entries), self.KEY.name)]
        for e in self.entries:
            out.append(_time_encode(e.release_time, "release time"))
            out.append(_build(ScheduleRequestIdLayout, "request ID", e.request_id.fields()))
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS,
               offset: int = 0) -> ScheduleSummaryReport:
        """Decode a body occupying all of ``data``; release times have format ``options.time_config``."""
        n = _read_count(data, offset)
        pos = 2
        entries = []
        for _ in range(n):
            t, pos = decode_time_from(data, pos, config=options.time_config, base_offset=offset)
            r = _parse(ScheduleRequestIdLayout, data[pos:pos + 6], offset + pos)
            pos += 6
            entries.append(ScheduleSummaryEntry(t, ScheduleRequestId(source_id=r.source_id, apid=r.apid,
                                                                     sequence_count=r.sequence_count)))
        _expect_end(data, pos, offset, n)
        return cls(tuple(entries))


# --- service 17: test (§6.17, §8.17.2) ---------------------------------------------------


@_register
@dataclass(frozen=True, slots=True)
class AreYouAlive(_EmptyBody):
    """TC[17,1] perform an are-you-alive connection test."""

    KEY = MessageType.ARE_YOU_ALIVE


@_register
@dataclass(frozen=True, slots=True)
class AreYouAliveReport(_EmptyBody):
    """TM[17,2] are-you-alive connection test report."""

    KEY = MessageType.ARE_YOU_ALIVE_REPORT


# --- service 20: on-board parameter management (§6.20, §8.20.2) ----------------------------

#: TM[20,2] / TC[20,3] prefix: N (16 bit); each entry is a parameter ID (16 bit) followed by its
#: value, whose width comes from the mission dictionary (BodyOptions.value_octets).
ParameterEntryIdLayout = c.Struct("parameter_id" / c.Int16ub)


@_register
@dataclass(frozen=True, slots=True)
class ReportParameterValues(_IdListBody):
    """TC[20,1] report parameter values, by parameter ID."""

    KEY = MessageType.REPORT_PARAMETER_VALUES


@dataclass(frozen=True, slots=True)
class ParameterValue:
    """A parameter ID and its raw value octets."""

    parameter_id: int
    value: bytes


@dataclass(frozen=True, slots=True)
class _ParameterValues(Body):
    values: tuple[ParameterValue, ...]

    def encode(self) -> bytes:
        """The body octets."""
        out = [_count(len(self.values), self.KEY.name)]
        for v in self.values:
            out.append(_build(ParameterEntryIdLayout, "parameter ID", dict(parameter_id=v.parameter_id)))
            out.append(bytes(v.value))
        return b"".join(out)

    @classmethod
    def decode(cls, data: bytes, *, options: BodyOptions = DEFAULT_OPTIONS, offset: int = 0) -> Any:
        """Decode a body occupying all of ``data``; value widths from ``options``."""
        n = _read_count(data, offset)
        pos = 2
        values = []
        for _ in range(n):
            pid = _parse(ParameterEntryIdLayout, data[pos:pos + 2], offset + pos).parameter_id
            width = options.value_octets(pid)
            if len(data) - pos - 2 < width:
                raise TruncatedError(LAYER, f"value of parameter {pid}", max(0, len(data) - pos - 2),
                                     f"{width} octets", offset=offset + pos + 2)
            values.append(ParameterValue(pid, bytes(data[pos + 2:pos + 2 + width])))
            pos += 2 + width
        _expect_end(data, pos, offset, n)
        return cls(tuple(values))


@_register
@dataclass(frozen=True, slots=True)
class ParameterValueReport(_ParameterValues):
    """TM[20,2] parameter value report: (parameter ID, value) entries."""

    KEY = MessageType.PARAMETER_VALUE_REPORT


@_register
@dataclass(frozen=True, slots=True)
class SetParameterValues(_ParameterValues):
    """TC[20,3] set parameter values: (parameter ID, value) entries."""

    KEY = MessageType.SET_PARAMETER_VALUES


def registered_types() -> dict[MessageType, type[Body]]:
    """Every message type with a typed body, and its class."""
    return dict(_REGISTRY)
