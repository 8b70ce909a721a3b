"""Telemetry as columns: a mission dictionary's fixed-layout PUS-C TM packets decoded many at once.

Per telemetry declaration of the dictionary (:class:`~protocol.dictionary.TelemetryPacket` without a
tail), the packet layout is fixed: primary header (CCSDS 133.0-B-2 §4.1.3), PUS-C TM secondary header
(ECSS-E-ST-70-41C §7.4.3.2: version, time reference status, service, subtype, message type counter,
destination ID) and the mission's CUC time code (CCSDS 301.0-B-4 §3.2), the parameters in their
declared wire types (the SID first for TM[3,25]), and the packet error control (§7.4.3.2, CRC of
Annex B). So the packets of one declaration, gathered into an (N, length) array, decode in a handful of
numpy operations instead of N calls:

* the header fields come from the same :class:`~protocol.layout.BitLayout` of the construct declarations
  the per-packet decoder uses, the parameters from a :class:`~protocol.layout.StructColumns` of the
  declaration's own construct fields (nothing is retyped);
* the packet error control of every packet of one length is checked at once: the table-driven CRC-16
  runs over the packet's octets column by column, vectorised across packets;
* calibrations and limit checks apply to whole columns, with the per-packet code's arithmetic in the
  same order (Horner from the highest coefficient), so the values are identical, not merely close;
* on-board time becomes TAI seconds since 1958 (float64) from the CUC's coarse and fine columns.

What does not fit a fixed layout -- events (their auxiliary data varies), packets with a tail (image
parts), parameter reports, a length that is not the declaration's, a failed packet error control, a
packet of no declaration, a CDS or UTC-scale time code -- is left to the per-packet path:
:attr:`TmColumns.fallback` lists those packets, so nothing is dropped and nothing is decoded twice.
The tests check that both paths give identical values for every parameter of every packet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import construct as c
import numpy as np

from .crc import crc16
from .dictionary import TYPES, AlarmLevel, MissionDictionary, Polynomial, States, TelemetryPacket
from .layout import BitLayout, StructColumns
from .pus.packet import PEC_LEN, PUS_VERSION, TM_SECONDARY_HEADER_LEN, TmSecondaryHeader
from .spacepacket import HEADER_BITS, PRIMARY_HEADER_LEN
from .timecode import CucConfig, TimeScale, _cal_s, fine_to_us, tai_us_to_unix_us

__all__ = ["ParameterColumn", "PacketTable", "TmColumns", "TelemetryColumns", "crc16_rows"]

_SH = BitLayout(TmSecondaryHeader)
_CRC_TABLE = np.array([crc16(bytes([b]), 0) for b in range(256)], dtype=np.uint16)  # one octet from 0


def crc16_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-16-CCITT (init 0xFFFF, as :func:`protocol.crc.crc16`) of every row of a uint8 (N, L) array."""
    rows = np.asarray(rows, dtype=np.uint8)
    crc = np.full(rows.shape[0], 0xFFFF, dtype=np.uint16)
    for j in range(rows.shape[1]):
        crc = (crc << np.uint16(8)) ^ _CRC_TABLE[(crc >> np.uint16(8)) ^ rows[:, j]]
    return crc


@dataclass(frozen=True)
class ParameterColumn:
    """One parameter of N packets: raw values, engineering values, and the limit check's verdicts."""

    name: str
    unit: str
    raw: np.ndarray  # the wire type (int64/uint64/float)
    engineering: np.ndarray  # float64 (polynomial), object of str (states), or the raw values
    level: np.ndarray  # int8: AlarmLevel per value


@dataclass(frozen=True)
class PacketTable:
    """The packets of one declaration: where they are in the batch, their headers and time, their parameters."""

    name: str
    index: np.ndarray  # int64: position of each packet in the batch given to decode()
    apid: np.ndarray
    sequence_count: np.ndarray
    service: np.ndarray
    subtype: np.ndarray
    obt_tai_s: np.ndarray  # float64, TAI seconds since 1958-01-01
    obt_unix_us: np.ndarray  # int64, the on-board time as UTC microseconds since 1970 (exact, leap seconds applied)
    parameters: Mapping[str, ParameterColumn]

    def __len__(self) -> int:
        return int(self.index.size)


@dataclass(frozen=True)
class TmColumns:
    """What :meth:`TelemetryColumns.decode` made of a batch: a table per declaration, and the rest."""

    tables: Mapping[str, PacketTable]
    fallback: np.ndarray  # int64: packets for the per-packet path, in batch order
    pec_errors: int  # packets of a declaration's length whose packet error control failed (in fallback)

    @property
    def decoded(self) -> int:
        """Packets decoded as columns."""
        return sum(len(t) for t in self.tables.values())


@dataclass(frozen=True)
class _Plan:
    decl: TelemetryPacket
    length: int  # octets of the whole packet
    body: StructColumns  # the parameters (after the SID)
    body_start: int  # offset of the first parameter in the packet
    sid_start: int | None
    sid_width: int


class TelemetryColumns:
    """Column decoding for one mission dictionary (built once, used for every batch)."""

    def __init__(self, mission: MissionDictionary) -> None:
        self.mission = mission
        cfg = mission.time_config
        self.time_ok = isinstance(cfg, CucConfig) and cfg.scale is TimeScale.TAI
        self._plans: list[_Plan] = []
        if not self.time_ok:
            return  # a CDS or UTC-scale code: the per-packet path (it handles leap seconds) does it all
        self._coarse, self._fine = cfg.coarse_octets, cfg.fine_octets
        self._epoch_s = float(_cal_s(cfg.epoch))
        time_start = PRIMARY_HEADER_LEN + TM_SECONDARY_HEADER_LEN
        src = time_start + self._coarse + self._fine
        seen: set[int] = set()
        for decl in mission.telemetry.values():  # one entry per subtype: a layout serving several comes again
            if decl.tail or id(decl) in seen:
                continue
            seen.add(id(decl))
            fields = [p.name / TYPES[p.type] for p in decl.parameters]
            body = StructColumns(c.Struct(*fields))
            sid_width = decl._fast.size - body.size if decl.sid is not None else 0
            self._plans.append(_Plan(decl, src + decl._fast.size + PEC_LEN, body, src + sid_width,
                                     src if decl.sid is not None else None, sid_width))

    def decode(self, data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> TmColumns:
        """Decode packets ``data[offsets[i]:offsets[i] + lengths[i]]`` (``data`` uint8, one buffer)."""
        data = np.asarray(data, dtype=np.uint8)
        offsets = np.asarray(offsets, dtype=np.int64)
        lengths = np.asarray(lengths, dtype=np.int64)
        n = offsets.size
        taken = np.zeros(n, dtype=bool)
        tables: dict[str, PacketTable] = {}
        pec_errors = 0
        if n and self._plans:
            head_len = PRIMARY_HEADER_LEN + TM_SECONDARY_HEADER_LEN
            ok = lengths >= head_len + PEC_LEN
            heads = np.zeros((n, head_len), dtype=np.uint8)
            heads[ok] = data[offsets[ok, None] + np.arange(head_len)]
            primary = HEADER_BITS.columns(heads[:, :PRIMARY_HEADER_LEN])
            secondary = _SH.columns(heads[:, PRIMARY_HEADER_LEN:])
            ok &= (primary["version"] == 0) & (primary["packet_type"] == 0) & (primary["sec_header_flag"] == 1)
            ok &= secondary["pus_version"] == PUS_VERSION
            for plan in self._plans:
                d = plan.decl
                sel = ok & (lengths == plan.length) & (primary["apid"] == d.apid) & (secondary["service"] == d.service)
                sel &= np.isin(secondary["subtype"], d.subtypes)
                idx = np.flatnonzero(sel & ~taken)
                if not idx.size:
                    continue
                rows = data[offsets[idx, None] + np.arange(plan.length)]
                if plan.sid_start is not None:
                    sid = np.zeros(idx.size, dtype=np.int64)
                    for k in range(plan.sid_width):
                        sid = (sid << 8) | rows[:, plan.sid_start + k]
                    keep = sid == d.sid
                    idx, rows = idx[keep], rows[keep]
                good = crc16_rows(rows) == 0  # the CRC over the whole packet, PEC included, is zero
                pec_errors += int(np.count_nonzero(~good))  # these stay for the per-packet path (it reports them)
                idx, rows = idx[good], rows[good]
                if idx.size:
                    tables[d.name] = self._table(plan, idx, rows, primary, secondary)
                    taken[idx] = True
        return TmColumns(tables, np.flatnonzero(~taken), pec_errors)

    def _table(self, plan: _Plan, idx: np.ndarray, rows: np.ndarray, primary: dict, secondary: dict) -> PacketTable:
        t0 = PRIMARY_HEADER_LEN + TM_SECONDARY_HEADER_LEN
        coarse = np.zeros(idx.size, dtype=np.int64)
        for k in range(self._coarse):
            coarse = (coarse << 8) | rows[:, t0 + k]
        fine = np.zeros(idx.size, dtype=np.int64)
        for k in range(self._fine):
            fine = (fine << 8) | rows[:, t0 + self._coarse + k]
        tai = self._epoch_s + coarse.astype(np.float64) + fine / float(1 << (8 * self._fine))
        tai_us = (int(self._epoch_s) + coarse) * 1_000_000 + fine_to_us(fine, self._fine)
        raw_cols = plan.body.decode(rows[:, plan.body_start:plan.body_start + plan.body.size])
        params = {p.name: _column(p, raw_cols[p.name]) for p in plan.decl.parameters}
        return PacketTable(plan.decl.name, idx, primary["apid"][idx], primary["sequence_count"][idx],
                           secondary["service"][idx], secondary["subtype"][idx], tai, tai_us_to_unix_us(tai_us),
                           params)


def _column(p: object, raw: np.ndarray) -> ParameterColumn:
    """Engineering values and levels of one parameter's raw column, as MissionDictionary.sample computes them."""
    cal, limits = p.calibration, p.limits  # type: ignore[attr-defined]
    raw = np.ascontiguousarray(raw)
    if isinstance(cal, Polynomial):
        x = raw.astype(np.float64)
        eng = np.zeros_like(x)
        for k in reversed(cal.coefficients):  # Horner, as Polynomial.__call__
            eng = eng * x + k
    elif isinstance(cal, States):
        names = cal.names
        values, inverse = np.unique(raw, return_inverse=True)  # a name per distinct value, not per packet
        eng = np.array([names.get(int(v), f"UNKNOWN({int(v)})") for v in values.tolist()], dtype=object)[inverse]
    else:
        eng = raw
    level = np.zeros(raw.shape[0], dtype=np.int8)
    numeric = not isinstance(cal, States)
    if numeric and limits is not None:
        e = eng.astype(np.float64)
        warn = np.zeros(e.shape, dtype=bool)
        crit = np.zeros(e.shape, dtype=bool)
        if limits.soft_low is not None:
            warn |= e < limits.soft_low
        if limits.soft_high is not None:
            warn |= e > limits.soft_high
        if limits.hard_low is not None:
            crit |= e < limits.hard_low
        if limits.hard_high is not None:
            crit |= e > limits.hard_high
        level[warn] = AlarmLevel.WARNING
        level[crit] = AlarmLevel.CRITICAL
    if raw.dtype.kind == "f" or (numeric and eng.dtype.kind == "f"):
        bad = ~np.isfinite(raw.astype(np.float64))
        if numeric:
            bad |= ~np.isfinite(eng.astype(np.float64))
        level[bad] = AlarmLevel.INVALID
    return ParameterColumn(p.name, p.unit, raw, eng, level)  # type: ignore[attr-defined]
