"""A demonstration of the protocol stack in one process: a pass's worth of telemetry and a command, both ways.

The spacecraft side builds PUS-C telemetry (housekeeping, an event, a ping
reply) on three virtual channels, codes it into CADUs (TM frames with the
CLCW in the OCF, RS(255,223) dual basis, randomised, ASM); a seeded channel
flips bits at a given bit error rate; the ground side synchronises, corrects
and decodes it back to packets. A ping TC goes the other way as a CLTU with
a bit error that BCH corrects. Where the real Suomi-NPP capture is present,
it is decoded too and checked against its published MD5.

This runs the stack, not the processes: the spacecraft process, the channel
and the station daemon as separate processes come with the ground segment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from protocol.clcw import Clcw
from protocol import mission
from protocol.mission import MISSION
from protocol.pus import AreYouAlive, AreYouAliveReport, HkParameterReport, InformativeEvent, PusTc, PusTm
from protocol.spacepacket import SequenceCounter
from protocol.stack import DownlinkConfig, DownlinkEncoder, UplinkConfig, UplinkEncoder, decode_cadus, decode_cltus
from protocol.timecode import CdsConfig, CdsSubMs, CdsTime, CucTime

SNPP_MD5 = "5e11051d86c46ddc3500904c99bbe978"
# the reference satellite's link settings, APIDs and virtual channels (protocol.mission declares them once)
SCID = MISSION.scid
APID_HK, APID_EVENTS, APID_SERVICE, APID_PLAYBACK = (mission.APID_OBC, mission.APID_EVENTS, mission.APID_OBC,
                                                     mission.APID_PAYLOAD_BULK)
VC_REALTIME, VC_EVENTS, VC_PLAYBACK = (MISSION.vc_of(a) for a in (APID_HK, APID_EVENTS, APID_PLAYBACK))


def _telemetry(n_hk: int, n_playback: int, start: datetime) -> list[tuple[int, bytes]]:
    """(vcid, packet) pairs of a short pass: housekeeping every second, an event, a ping reply, playback."""
    counters = SequenceCounter()
    out: list[tuple[int, bytes]] = []
    rng = np.random.default_rng(1)
    t0 = CucTime.from_datetime(start).tai_s
    for k in range(n_hk):
        time = CucTime.from_tai_s(t0 + k)
        battery_mv = int(7400 + 50 * np.sin(k / 10) + rng.normal(0, 3))
        params = battery_mv.to_bytes(2, "big") + int(230 + k % 7).to_bytes(2, "big", signed=True)
        tm = PusTm.from_body(HkParameterReport(sid=1, parameter_data=params), apid=APID_HK, time=time,
                             sequence_count=counters.next(APID_HK), message_type_counter=k)
        out.append((VC_REALTIME, tm.encode()))
        if k == n_hk // 2:
            ev = PusTm.from_body(InformativeEvent(event_id=0x0101, auxiliary_data=b"sun acquired"),
                                 apid=APID_EVENTS, time=time, sequence_count=counters.next(APID_EVENTS))
            out.append((VC_EVENTS, ev.encode()))
    reply = PusTm.from_body(AreYouAliveReport(), apid=APID_SERVICE, time=CucTime.from_tai_s(t0 + n_hk),
                            sequence_count=counters.next(APID_SERVICE))
    out.append((VC_REALTIME, reply.encode()))
    # playback of the onboard store: the previous orbit's housekeeping in large packets, lowest priority
    for k in range(n_playback):
        stored = PusTm.from_body(HkParameterReport(sid=2, parameter_data=rng.bytes(2000)), apid=APID_PLAYBACK,
                                 time=CucTime.from_tai_s(t0 - 5400 + 30 * k),
                                 sequence_count=counters.next(APID_PLAYBACK))
        out.append((VC_PLAYBACK, stored.encode()))
    return out


def _channel(stream: bytes, *, bit_error_rate: float, seed: int) -> tuple[bytes, int]:
    """Flip each bit with probability ``bit_error_rate``; return the stream and the bits flipped."""
    bits = np.unpackbits(np.frombuffer(stream, np.uint8))
    flips = np.random.default_rng(seed).random(bits.size) < bit_error_rate
    return np.packbits(bits ^ flips).tobytes(), int(flips.sum())


def run(*, bit_error_rate: float = 1e-5, seed: int = 7, real_dir: Path | None = None,
        echo: Callable[[str], None] = print) -> dict[str, object]:
    """Run the demonstration, print what happened, return the figures (for tests)."""
    config = MISSION.downlink
    echo(f"downlink: TM frames of {config.frame.frame_len} octets, SCID {SCID}, CLCW in the OCF, "
         f"RS(255,223) I={config.rs.interleave} dual basis, randomised, ASM 1ACFFC1D")
    sent = _telemetry(600, 150, datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc))
    encoder = DownlinkEncoder(config, MISSION.link.downlink.priorities)
    for vcid, pkt in sent:
        encoder.submit(vcid, pkt)
    clcw = Clcw(vcid=0, report_value=0).to_int()
    cadus = b""
    while encoder.mux.pending_octets():
        cadus += encoder.next_cadu(ocf_raw=clcw)
    cadus += encoder.cadus(2, ocf_raw=clcw)
    received, flipped = _channel(cadus, bit_error_rate=bit_error_rate, seed=seed)
    echo(f"spacecraft sent {len(sent)} packets in {len(cadus) // config.cadu_len} CADUs ({len(cadus)} octets); "
         f"the channel flipped {flipped} bits (BER {bit_error_rate:g})")
    result = decode_cadus(received, config)
    c = result.counters
    got = [p.data for p in result.packets]
    lost = sorted(set(p for _, p in sent) - set(got))
    echo(f"station: {c.cadus} CADUs, {c.rs_corrected} RS symbols corrected, {c.rs_uncorrectable} uncorrectable, "
         f"{c.frames} frames ({c.idle_frames} idle), {c.frame_gaps} frame gaps, {c.packets} packets "
         f"{dict(sorted(c.packets_by_apid.items()))}, {c.packet_gaps} sequence gaps")
    echo("every packet arrived intact" if not lost and len(got) == len(sent) else
         f"{len(lost)} of {len(sent)} packets lost (see the gaps above)")
    tms = [PusTm.decode(d) for d in got]
    hk = [tm for tm in tms if tm.apid == APID_HK and (tm.service, tm.subtype) == (3, 25) and tm.source_data[:2] == b"\x00\x01"]
    if hk:
        last = hk[-1]
        volts = int.from_bytes(last.source_data[2:4], "big") / 1000
        echo(f"last housekeeping: {last.time.utc_iso()} battery {volts:.3f} V")
    for ev in (tm for tm in tms if tm.service == 5):
        echo(f"event TM[5,1] at {ev.time.utc_iso()}: {ev.source_data[2:].decode(errors='replace')}")

    uplink = MISSION.uplink
    ping = PusTc.from_body(AreYouAlive(), apid=APID_SERVICE, sequence_count=0)
    cltu = bytearray(UplinkEncoder(uplink).encode(ping.encode())[0])
    cltu[5] ^= 0x08  # one bit error in the first code block
    packets, up = decode_cltus(bytes(cltu), uplink)
    tc = PusTc.decode(packets[0]) if packets else None
    echo(f"uplink: ping TC[17,1] as a {len(cltu)}-octet CLTU with one bit error: {up.bch_corrected_bits} bit "
         f"corrected by BCH, {up.frames} TC frame, decoded as TC[{tc.service},{tc.subtype}]" if tc else
         "uplink: ping was NOT decoded")

    figures: dict[str, object] = {"sent": len(sent), "received": len(got), "lost": len(lost),
                                  "bits_flipped": flipped, "counters": c.as_dict(),
                                  "uplink_ok": tc is not None and (tc.service, tc.subtype) == (17, 1)}
    snpp = (real_dir / "snpp_synchronized_cadus.dat") if real_dir else None
    if snpp is not None and snpp.exists():
        real = decode_cadus(snpp.read_bytes(), DownlinkConfig.snpp())
        md5 = hashlib.md5(b"".join(p.data for p in real.packets)).hexdigest()
        first = next(p for p in real.packets if p.packet().apid == 803)
        t = CdsTime.decode(first.data[6:14], config=CdsConfig(submillisecond=CdsSubMs.MICROSECONDS))
        rc = real.counters
        echo(f"real Suomi-NPP capture: {rc.cadus} CADUs, {rc.frames} AOS frames, {rc.frame_gaps} frame gap, "
             f"{rc.packets} packets {dict(sorted(rc.packets_by_apid.items()))}, MD5 {md5} "
             f"({'matches' if md5 == SNPP_MD5 else 'DOES NOT match'} the published one), "
             f"first APID 803 time {t.utc_iso()}")
        figures["snpp_md5_ok"] = md5 == SNPP_MD5
    else:
        echo("real Suomi-NPP capture not found (tests/data/real in a ttc checkout): skipped")
    return figures
