"""ccsdspy packet definitions of the dictionary's fixed-layout telemetry: one CSV per packet.

`ccsdspy <https://docs.ccsdspy.org>`_ (``ccsdspy.FixedLength.from_file``)
reads a packet layout from a CSV file with the columns ``name``,
``data_type`` (``uint``, ``int``, ``float``) and ``bit_length``, the fields
after the 6-octet CCSDS primary header in wire order (it parses the primary
header itself). For every :class:`~protocol.dictionary.TelemetryPacket`
without a tail this writes the PUS-C TM secondary header (the field widths
read from :data:`protocol.pus.TmSecondaryHeader`), the time (CUC coarse and
fine counts, widths from the dictionary's time settings), the SID of a
TM[3,25], the parameters (raw values: apply the calibrations of the JSON
export or the XTCE file) and the packet error control. Sans-IO: text out.
"""

from __future__ import annotations

from .dictionary import MissionDictionary, TelemetryPacket
from .layout import BitLayout
from .pus import PacketErrorControl, TmSecondaryHeader

__all__ = ["ccsdspy_csv", "ccsdspy_definitions"]

_SH = BitLayout(TmSecondaryHeader)
_KIND = {"u": "uint", "i": "int", "f": "float"}


def ccsdspy_csv(mission: MissionDictionary, packet: TelemetryPacket) -> str:
    """The ccsdspy CSV definition of one fixed-layout packet (raw values)."""
    if packet.tail:
        raise ValueError(f"{packet.name} ends in {packet.tail} of any length: ccsdspy FixedLength cannot hold it")
    rows = [("name", "data_type", "bit_length")]
    rows += [(f"PUS_{f.name.upper()}", "uint", str(f.width)) for f in _SH.fields]
    time = mission.time
    rows.append(("TIME_COARSE", "uint", str(8 * time.coarse_octets)))
    if time.fine_octets:
        rows.append(("TIME_FINE", "uint", str(8 * time.fine_octets)))
    if packet.sid is not None:
        rows.append(("SID", "uint", str(8 * packet.layout.subcons[0].sizeof())))
    for p in packet.parameters:
        rows.append((p.name, _KIND[p.type[0]], p.type[1:]))
    rows.append(("PEC", "uint", str(8 * PacketErrorControl.sizeof())))
    return "\n".join(",".join(r) for r in rows) + "\n"


def ccsdspy_definitions(mission: MissionDictionary) -> dict[str, str]:
    """File name -> CSV for every fixed-layout packet of the dictionary."""
    return {f"{tm.name}.csv": ccsdspy_csv(mission, tm) for tm in mission.packets.values() if not tm.tail}
