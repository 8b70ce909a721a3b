"""The batch downlink path against the per-unit reference, on random and damaged streams.

:meth:`VcDemultiplexer.feed_frames` must give the events and counters of
:meth:`VcDemultiplexer.feed_frame` on each row; a :class:`DownlinkDecoder`
must give the same events and counters on its batch path (the default) as
with ``_batch = False`` (the sync's events one by one, frame by frame,
packet by packet), whatever the chunking of the input.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.aosframe import AosFrameConfig
from protocol.crc import append_crc
from protocol.reedsolomon import RSConfig
from protocol.spacepacket import SpacePacket
from protocol.stack import DownlinkConfig, DownlinkDecoder, DownlinkEncoder
from protocol.tmframe import TmFrameConfig
from protocol.vchannel import DecodeError, VcDemultiplexer, VcMultiplexer

SCID = 42
TM = TmFrameConfig(frame_len=223, scid=SCID, has_ocf=True)
TM_FECF = TmFrameConfig(frame_len=160, scid=SCID, has_fecf=True, sec_header_len=3)
AOS = AosFrameConfig(frame_len=223, scid=SCID)

# a packet: (VC, APID, sequence count step, data length); steps other than 1 make sequence gaps
packet_specs = st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.integers(0x10, 0x13),
                                  st.sampled_from([1, 1, 1, 1, 2, 5]),
                                  st.one_of(st.integers(1, 120), st.integers(121, 900))),
                        min_size=1, max_size=40)
# damage: (kind, where, how) applied to the frames or octets
damage = st.lists(st.tuples(st.sampled_from(["flip", "drop", "repeat", "scid", "cut", "junk"]),
                            st.floats(0, 1), st.integers(0, 1 << 16)), max_size=6)


def _comparable(events: list[object]) -> list[object]:
    """The events, a DecodeError's exception as its type and message (exceptions compare by identity)."""
    return [(DecodeError, ev.vcid, type(ev.error), str(ev.error)) if isinstance(ev, DecodeError) else ev
            for ev in events]


def _packets(specs: list[tuple[int, int, int, int]], *, pec: bool) -> list[tuple[int, bytes]]:
    counts: dict[int, int] = {}
    out = []
    for vcid, apid, step, length in specs:
        counts[apid] = (counts.get(apid, -1) + step) % (1 << 14)
        body = bytes((apid + i) & 0xFF for i in range(length))
        if pec:  # the length field counts the packet error control that ends the packet
            out.append((vcid, append_crc(SpacePacket(apid, counts[apid], body + bytes(2)).encode()[:-2])))
        else:
            out.append((vcid, SpacePacket(apid, counts[apid], body).encode()))
    return out


def _frames(config: TmFrameConfig | AosFrameConfig, packets: list[tuple[int, bytes]], idle_every: int) -> list[bytes]:
    mux = VcMultiplexer(config, {0: 0, 1: 1, 2: 1})
    frames = []
    for i, (vcid, raw) in enumerate(packets):
        mux.submit(vcid, raw)
        if idle_every and i % idle_every == 0:
            frames.append(mux.next_frame())
        if i % 3 == 0:  # frames go out while packets are still queued: packets span frames
            frames.append(mux.next_frame())
    while mux.pending_octets():
        frames.append(mux.next_frame())
    if idle_every:
        frames.append(mux.next_frame())  # an idle frame (nothing waits)
    return frames


def _damage_frames(frames: list[bytes], hits: list[tuple[str, float, int]]) -> list[bytes]:
    out = list(frames)
    for kind, where, how in hits:
        if not out:
            break
        i = int(where * (len(out) - 1))
        frame = bytearray(out[i])
        if kind in ("flip", "cut", "junk"):  # a bit anywhere, the header included
            bit = how % (8 * len(frame))
            frame[bit // 8] ^= 0x80 >> (bit % 8)
            out[i] = bytes(frame)
        elif kind == "drop":
            del out[i]
        elif kind == "repeat":
            out.insert(i, out[i])
        else:  # another spacecraft's frame
            frame[1] ^= 0x10
            out[i] = bytes(frame)
    return out


def _demux_run(config: TmFrameConfig | AosFrameConfig, frames: list[bytes], *, batch: bool
               ) -> tuple[list[object], object, dict[int, object]]:
    demux = VcDemultiplexer(config)
    events: list[object] = []
    if batch:
        rows = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), config.frame_len)
        for lo in range(0, len(frames), 7):  # batches of several frames, and a last short one
            demux.feed_frames(rows[lo:lo + 7])
            events += demux.take_events()
    else:
        for frame in frames:
            demux.feed_frame(frame)
            events += list(demux.events())
    return _comparable(events), demux.total, demux.per_vc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from([TM, TM_FECF, AOS]), specs=packet_specs, idle_every=st.sampled_from([0, 4]),
       hits=damage, max_len=st.sampled_from([None, 200]))
def test_feed_frames_matches_feed_frame(config: TmFrameConfig | AosFrameConfig, specs: list[tuple[int, int, int, int]],
                                        idle_every: int, hits: list[tuple[str, float, int]],
                                        max_len: int | None) -> None:
    frames = _damage_frames(_frames(config, _packets(specs, pec=False), idle_every), hits)
    if not frames:
        return
    batch = _demux_run(config, frames, batch=True)
    reference = _demux_run(config, frames, batch=False)
    assert batch == reference
    if max_len is not None:  # a packet longer than the bound is a corrupt header on both paths
        a, b = VcDemultiplexer(config, max_packet_len=max_len), VcDemultiplexer(config, max_packet_len=max_len)
        a.feed_frames(np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), -1))
        for frame in frames:
            b.feed_frame(frame)
        assert (_comparable(a.take_events()), a.total, a.per_vc) == (_comparable(list(b.events())), b.total,
                                                                      b.per_vc)


def _damage_octets(data: bytes, hits: list[tuple[str, float, int]], rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for kind, where, how in hits:
        if not out:
            break
        i = int(where * (len(out) - 1))
        if kind == "flip":  # a burst: a few bits (RS corrects it) or many (the codeblock is uncorrectable)
            for k in range(1 + how % 200):
                j = (i + 3 * k) % len(out)
                out[j] ^= 1 << (how + k) % 8
        elif kind == "drop":  # a cut: part of a CADU lost, the synchroniser searches again
            del out[i:i + 1 + how % 1500]
        elif kind == "repeat":
            out[i:i] = out[i:i + 1 + how % 1500]
        elif kind == "junk":
            out[i:i] = rng.integers(0, 256, 1 + how % 300, dtype=np.uint8).tobytes()
        elif kind == "cut":  # the ASM of a CADU damaged beyond the tolerance
            for k in range(4):
                out[(i + k) % len(out)] ^= 0xFF
        else:  # a bit in the frame header region of the stream; RS puts most of these right again
            out[i] ^= 0x40
    return bytes(out)


def _decode(config: DownlinkConfig, data: bytes, cuts: list[int], *, batch: bool) -> tuple[list[object], object]:
    dec = DownlinkDecoder(config)
    dec._batch = batch
    events: list[object] = []
    pos = 0
    for cut in [*sorted(cuts), len(data)]:
        dec.feed(data[pos:max(pos, cut)])
        events += list(dec.events())
        pos = max(pos, cut)
    dec.close()
    events += list(dec.events())
    return _comparable(events), dec.counters


CODED = DownlinkConfig(frame=TmFrameConfig(frame_len=RSConfig(interleave=1).data_len, scid=SCID, has_ocf=True),
                       rs=RSConfig(interleave=1), packet_pec=True)
UNCODED = DownlinkConfig(frame=TmFrameConfig(frame_len=200, scid=SCID), rs=None, randomise=False, packet_pec=True,
                         search_bit_shifts=False)
CODED_AOS = DownlinkConfig(frame=AosFrameConfig(frame_len=RSConfig(interleave=2).data_len, scid=SCID),
                           rs=RSConfig(interleave=2), asm_max_bit_errors=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from([CODED, UNCODED, CODED_AOS]), specs=packet_specs, idle_every=st.sampled_from([0, 5]),
       hits=damage, chunking=st.one_of(st.just("octets"), st.lists(st.integers(0, 1 << 16), max_size=6)),
       inverted=st.booleans())
def test_decoder_batch_matches_reference(config: DownlinkConfig, specs: list[tuple[int, int, int, int]],
                                         idle_every: int, hits: list[tuple[str, float, int]],
                                         chunking: str | list[int], inverted: bool) -> None:
    frames = _frames(config.frame, _packets(specs, pec=config.packet_pec), idle_every)
    data = DownlinkEncoder(config, {0: 0}).code_frames(frames)
    data = _damage_octets(data, hits, np.random.default_rng(len(data)))
    if inverted:  # a BPSK phase ambiguity: the synchroniser re-inverts
        data = bytes(b ^ 0xFF for b in data)
    # one octet at a time over the first few CADUs (the whole stream would take long), or random cuts
    cuts = list(range(min(len(data), 4000))) if chunking == "octets" else [c % (len(data) + 1) for c in chunking]
    batch = _decode(config, data, cuts, batch=True)
    assert batch == _decode(config, data, [], batch=False)  # and the reference, fed at once
    assert batch == _decode(config, data, cuts, batch=False)


def test_feed_frames_batches_like_frames() -> None:
    """DownlinkDecoder.feed_frames (a file of frames), a wrong-length frame among them, both paths alike."""
    frames = _frames(CODED.frame, _packets([(0, 0x10, 1, 300)] * 30 + [(1, 0x11, 2, 40)] * 30, pec=True), 3)
    frames.insert(5, frames[5][:-1])
    out = []
    for batch in (True, False):
        dec = DownlinkDecoder(CODED)
        dec._batch = batch
        dec.feed_frames(frames)
        out.append((_comparable(list(dec.events())), dec.counters))
    assert out[0] == out[1]
    assert out[0][1].packets == 60 and out[0][1].frame_errors == 1
