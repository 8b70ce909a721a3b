"""The Communications Link Control Word (CCSDS 232.0-B-4 §4.2.1.11, 232.1-B-2 §4.2).

The CLCW is the 32-bit report FARM-1 sends back to the ground in the
operational control field of TM (or AOS) frames; FOP-1 reads it to know
which AD frames were accepted (report value = V(R)), whether to retransmit,
wait, or unlock.

* :data:`ClcwLayout` -- the layout, declared once with construct; the
  shift/mask fast path used by :meth:`Clcw.encode` / :meth:`Clcw.decode` is
  derived from it by :class:`protocol.layout.BitLayout`.
* :class:`Clcw` -- a frozen, typed CLCW.

Options supported: control word type 0 (CLCW, not another OCF report),
CLCW version 00, COP in effect 01 (COP-1, the only COP defined; a real
mission uses it). The status field is mission-specific and passed through.
Spare bits must be zero; a decoder rejects a word that breaks any of these.
"""

from __future__ import annotations

import enum
from dataclasses import KW_ONLY, dataclass

import construct as c

from .errors import LocalProtocolError, RemoteProtocolError, TruncatedError, check_range
from .layout import BitLayout

__all__ = ["ClcwLayout", "CopInEffect", "Clcw", "CLCW_LEN"]

LAYER = "CLCW"
CLCW_LEN = 4

# 232.0-B-4 §4.2.1.11 / 232.1-B-2 §4.2.2: type(1) version(2) status(3) COP in effect(2) |
# VCID(6) spare(2) | no RF(1) no bit lock(1) lockout(1) wait(1) retransmit(1) FARM-B count(2) spare(1) |
# report value(8)
ClcwLayout = c.BitStruct(
    "control_word_type" / c.Const(0, c.BitsInteger(1)),
    "clcw_version" / c.Const(0, c.BitsInteger(2)),
    "status_field" / c.BitsInteger(3),
    "cop_in_effect" / c.Enum(c.BitsInteger(2), COP1=1),
    "vcid" / c.BitsInteger(6),
    "spare0" / c.Const(0, c.BitsInteger(2)),
    "no_rf_available" / c.Flag,
    "no_bit_lock" / c.Flag,
    "lockout" / c.Flag,
    "wait" / c.Flag,
    "retransmit" / c.Flag,
    "farm_b_counter" / c.BitsInteger(2),
    "spare1" / c.Const(0, c.BitsInteger(1)),
    "report_value" / c.BitsInteger(8),  # V(R), the next expected frame sequence number
)
BITS = BitLayout(ClcwLayout)
_NAMES = BITS.names


class CopInEffect(enum.IntEnum):
    """COP in effect (232.1-B-2 §4.2.2.5): only COP-1 is defined."""

    COP1 = 1


@dataclass(frozen=True, slots=True)
class Clcw:
    """One Communications Link Control Word."""

    vcid: int
    report_value: int
    _: KW_ONLY
    lockout: bool = False
    wait: bool = False
    retransmit: bool = False
    no_rf_available: bool = False
    no_bit_lock: bool = False
    farm_b_counter: int = 0
    status_field: int = 0
    cop_in_effect: CopInEffect = CopInEffect.COP1

    def __post_init__(self) -> None:
        check_range(LAYER, "vcid", self.vcid, 0, 0x3F)
        check_range(LAYER, "report_value", self.report_value, 0, 0xFF)
        check_range(LAYER, "farm_b_counter", self.farm_b_counter, 0, 3)
        check_range(LAYER, "status_field", self.status_field, 0, 7)
        try:
            object.__setattr__(self, "cop_in_effect", CopInEffect(self.cop_in_effect))
        except ValueError as e:
            raise LocalProtocolError(LAYER, "cop_in_effect", self.cop_in_effect, "1 (COP-1)") from e
        for name in ("lockout", "wait", "retransmit", "no_rf_available", "no_bit_lock"):
            if not isinstance(getattr(self, name), bool):
                raise LocalProtocolError(LAYER, name, getattr(self, name), "True or False")

    def as_dict(self) -> dict[str, object]:
        """The fields as plain values (a status report, the live stream)."""
        return {"vcid": self.vcid, "report_value": self.report_value, "lockout": self.lockout, "wait": self.wait,
                "retransmit": self.retransmit, "farm_b_counter": self.farm_b_counter,
                "no_rf_available": self.no_rf_available, "no_bit_lock": self.no_bit_lock,
                "status_field": self.status_field}

    def to_int(self) -> int:
        """The CLCW as a 32-bit unsigned integer."""
        return int.from_bytes(self.encode(), "big")

    def encode(self) -> bytes:
        """The four CLCW octets."""
        return BITS.pack(
            status_field=self.status_field, cop_in_effect=int(self.cop_in_effect), vcid=self.vcid,
            no_rf_available=int(self.no_rf_available), no_bit_lock=int(self.no_bit_lock),
            lockout=int(self.lockout), wait=int(self.wait), retransmit=int(self.retransmit),
            farm_b_counter=self.farm_b_counter, report_value=self.report_value)

    @classmethod
    def from_int(cls, word: int) -> Clcw:
        """Decode a CLCW given as a 32-bit integer."""
        if not 0 <= word <= 0xFFFFFFFF:
            raise RemoteProtocolError(LAYER, "word", word, "0..0xFFFFFFFF", offset=0)
        return cls.decode(word.to_bytes(4, "big"))

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, *, offset: int = 0) -> Clcw:
        """Decode the four octets of one CLCW (e.g. a TM frame's operational control field)."""
        if len(buf) != CLCW_LEN:
            if len(buf) < CLCW_LEN:
                raise TruncatedError(LAYER, "word", len(buf), "4 octets", offset=offset)
            raise RemoteProtocolError(LAYER, "word length", len(buf), "4 octets", offset=offset)
        (word_type, version, status, cop, vcid, spare0, no_rf, no_lock, lockout, wait, retransmit,
         farm_b, spare1, report) = BITS.unpack(buf)
        if word_type != 0:
            raise RemoteProtocolError(LAYER, "control word type", word_type, "0 (CLCW)", offset=offset)
        if version != 0:
            raise RemoteProtocolError(LAYER, "CLCW version number", version, "0", offset=offset)
        if cop != CopInEffect.COP1:
            raise RemoteProtocolError(LAYER, "COP in effect", cop, "1 (COP-1)", offset=offset)
        if spare0:
            raise RemoteProtocolError(LAYER, "spare (bits 14-15)", spare0, "0", offset=offset + 1)
        if spare1:
            raise RemoteProtocolError(LAYER, "spare (bit 23)", spare1, "0", offset=offset + 2)
        return cls(vcid=vcid, report_value=report, lockout=bool(lockout), wait=bool(wait),
                   retransmit=bool(retransmit), no_rf_available=bool(no_rf), no_bit_lock=bool(no_lock),
                   farm_b_counter=farm_b, status_field=status, cop_in_effect=CopInEffect.COP1)
