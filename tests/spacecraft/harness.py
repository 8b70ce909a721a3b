"""A ground segment in a few lines for the spacecraft tests: TCs to CLTUs, CADUs to decoded TM."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from protocol.errors import ProtocolError
from protocol.mission import MISSION, DecodedTm
from protocol.pus import AckFlags, BodyOptions, PusTc, decode_body
from protocol.randomiser import tm_randomise
from protocol.stack import DownlinkDecoder, UplinkEncoder
from protocol.tcframe import FrameType
from protocol.tmframe import TmFrame
from protocol.vchannel import VcPacket
from spacecraft.onboard import UPLINK, OnboardComputer, OnboardConfig

T0 = 2_100_000_000.0  # an on-board TAI instant (2024)
OPTIONS = BodyOptions(parameter_octets=MISSION.parameter_octets())


@dataclass(frozen=True)
class Tm:
    """A received TM packet: its VC, decoded form and typed body (None when PUS has none)."""

    vcid: int
    decoded: DecodedTm
    body: object

    @property
    def kind(self) -> tuple[int, int]:
        return (self.decoded.tm.service, self.decoded.tm.subtype)


class Ground:
    """Drives an OnboardComputer sans IO: send TCs as CLTUs, take every CADU, decode the packets."""

    def __init__(self, obc: OnboardComputer) -> None:
        self.obc = obc
        self.uplink = UplinkEncoder(UPLINK)
        self.downlink = DownlinkDecoder(obc.downlink.config)
        self.seq = 0
        self.frame_number = 0
        self.cadus: list[bytes] = []

    def tc(self, name: str, *, ack: AckFlags = AckFlags.ALL, **args: object) -> PusTc:
        """The dictionary TC ``name`` with the next sequence count."""
        self.seq += 1
        return MISSION.command(name).to_tc(args, sequence_count=self.seq, ack_flags=ack)

    def send(self, tc: PusTc | bytes, at_s: float) -> PusTc | bytes:
        """Uplink a TC (or raw packet octets) at on-board time ``T0 + at_s``."""
        packet = tc.encode() if isinstance(tc, PusTc) else tc
        for cltu in self.uplink.encode(packet):  # BD frames
            self.obc.receive_uplink(cltu, T0 + at_s)
        return tc

    def send_ad(self, tc: PusTc | bytes, at_s: float, *, n_s: int | None = None) -> PusTc | bytes:
        """Uplink a TC in AD frames numbered from ``n_s`` (default: the next number, counted here)."""
        packet = tc.encode() if isinstance(tc, PusTc) else tc
        if n_s is not None:
            self.frame_number = n_s
        for frame in self.uplink.frames(packet, frame_type=FrameType.AD):
            self.obc.receive_uplink(self.uplink.cltu(replace(frame, sequence_number=self.frame_number)), T0 + at_s)
            self.frame_number = (self.frame_number + 1) % 256
        return tc

    def drain(self, *, max_cadus: int = 2000) -> list[Tm]:
        """Take CADUs until nothing waits for transmission; the decoded packets in arrival order (the store
        keeps them until acknowledged: :meth:`acknowledge`)."""
        out: list[Tm] = []
        for _ in range(max_cadus):
            if not self.obc.downlink.busy:
                break
            cadu = self.obc.next_cadu()
            self.obc.cadu_sent()
            self.cadus.append(cadu)
            self.downlink.feed(cadu)
            out.extend(self._packets())
        return out

    def _packets(self) -> list[Tm]:
        out = []
        for ev in self.downlink.events():
            if isinstance(ev, VcPacket):
                d = MISSION.decode_tm(ev.data)
                try:
                    body = decode_body(d.tm, options=OPTIONS)
                except ProtocolError:  # services without a typed body (TM[13,x])
                    body = None
                out.append(Tm(ev.vcid, d, body))
        return out

    def frame_of(self, cadu: bytes) -> TmFrame:
        """The TM frame inside a CADU (derandomised; RS check symbols dropped)."""
        cfg = self.obc.downlink.config
        return TmFrame.decode(tm_randomise(cadu[4:])[:cfg.frame.frame_len], cfg.frame)


def boot(tmp: Path | None = None, **options: object) -> tuple[OnboardComputer, Ground]:
    """A freshly booted on-board computer at T0 and its ground."""
    obc = OnboardComputer(OnboardConfig(state_dir=tmp, **options), boot_tai_s=T0)  # type: ignore[arg-type]
    return obc, Ground(obc)


def of_kind(tms: list[Tm], service: int, subtype: int) -> list[Tm]:
    """The packets of TM[service, subtype]."""
    return [t for t in tms if t.kind == (service, subtype)]


def events(tms: list[Tm]) -> list[str]:
    """Names of the events among ``tms``."""
    return [t.decoded.event.name for t in tms if t.decoded.event is not None]


def hk(tms: list[Tm], name: str) -> list[dict[str, object]]:
    """Engineering values of each ``name`` housekeeping report."""
    return [{p.name: p.engineering for p in t.decoded.parameters} for t in tms if t.decoded.name == name]
