"""The channel simulator: the sans-IO impairment model, and the relay as a real process over loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import LocalProtocolError
from protocol.links import FrameReceiver, FrameSender, open_receiver, open_sender
from protocol.links.channel import Impairment
from protocol.mission import MISSION
from protocol.spacepacket import SpacePacket
from protocol.stack import DownlinkConfig, DownlinkDecoder, DownlinkEncoder
from protocol.vchannel import VcPacket

# ------------------------------------------------------------------ impairment model (no sockets, no clock)


def _popcount(a: bytes, b: bytes) -> int:
    x = np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)
    return int(np.unpackbits(x).sum())


def test_ber_statistics_within_bounds_and_flips_are_counted_exactly() -> None:
    model = Impairment(ber=1e-3, seed=11)
    frame = bytes(range(256)) * 4  # 8192 bits
    total = 0
    for _ in range(200):  # 1.6 Mbit
        out = model.submit(frame, 0.0)
        assert out is not None and not out.lost
        assert _popcount(frame, out.data) == out.bits_flipped  # distinct positions, each flipped once
        total += out.bits_flipped
    n_bits = 200 * 8 * len(frame)
    mean, sigma = n_bits * 1e-3, (n_bits * 1e-3 * (1 - 1e-3)) ** 0.5
    assert abs(total - mean) < 5 * sigma
    assert model.stats.bits_flipped == total
    assert len(model.pop_due(0.0)) == 200 and model.stats.frames_relayed == 200


def test_same_seed_same_errors_other_seed_other_errors() -> None:
    frames = [bytes([i]) * 1115 for i in range(20)]

    def run(seed: int) -> list[bytes]:
        m = Impairment(ber=1e-3, loss=0.2, seed=seed)
        for f in frames:
            m.submit(f, 0.0)
        return m.pop_due(0.0)

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_zero_ber_leaves_frames_intact() -> None:
    m = Impairment(seed=1)
    frames = [os.urandom(100) for _ in range(10)]
    for f in frames:
        m.submit(f, 1.0)
    assert m.pop_due(1.0) == frames and m.stats.bits_flipped == 0


def test_loss_probability_within_bounds() -> None:
    m = Impairment(loss=0.1, seed=3)
    n = 20000
    for _ in range(n):
        m.submit(b"\x00" * 10, 0.0)
    lost = m.stats.frames_lost
    assert abs(lost - 0.1 * n) < 5 * (n * 0.1 * 0.9) ** 0.5
    assert len(m.pop_due(0.0)) == n - lost == m.stats.frames_relayed


def test_total_loss_and_no_loss() -> None:
    m = Impairment(loss=1.0, seed=3)
    for _ in range(50):
        assert m.submit(b"x" * 8, 0.0).lost  # type: ignore[union-attr]
    assert m.pop_due(1e9) == [] and m.stats.frames_lost == 50


def test_rate_limit_queues_frames_behind_each_other() -> None:
    # 1000 octets at 8000 bit/s: one second of air time per frame
    m = Impairment(rate_bps=8000, seed=0)
    assert m.air_time_s(1000) == 1.0
    releases = [m.submit(b"\x00" * 1000, 0.0).release_s for _ in range(3)]  # type: ignore[union-attr]
    assert releases == [1.0, 2.0, 3.0]
    # a frame arriving after the channel went idle starts at once
    assert m.submit(b"\x00" * 500, 10.0).release_s == 10.5  # type: ignore[union-attr]
    assert m.pop_due(0.999) == []
    assert len(m.pop_due(1.0)) == 1 and len(m.pop_due(3.0)) == 2
    assert m.next_release_s() == 10.5


def test_rate_limit_with_delay_and_lost_frames_still_occupy_the_channel() -> None:
    m = Impairment(rate_bps=1000, delay_s=0.25, loss=1.0, seed=0)
    lost = m.submit(b"\x00" * 125, 0.0)  # one second on air, then lost
    assert lost is not None and lost.lost and lost.release_s == 1.25
    m.loss = 0.0
    ok = m.submit(b"\x00" * 125, 0.5)
    assert ok is not None and ok.release_s == 2.25  # waited for the lost frame's air time


def test_bounded_queue_drops_and_counts() -> None:
    m = Impairment(rate_bps=8000, queue_limit=2, seed=0)
    assert m.submit(b"\x00" * 1000, 0.0) is not None
    assert m.submit(b"\x00" * 1000, 0.0) is not None
    assert m.submit(b"\x00" * 1000, 0.0) is None  # two on the air/waiting: full
    assert m.stats.frames_dropped == 1
    # at t=1 the first frame has left the channel: room again, queued behind the second
    accepted = m.submit(b"\x00" * 1000, 1.0)
    assert accepted is not None and accepted.release_s == 3.0


def test_delay_only() -> None:
    m = Impairment(delay_s=0.5, seed=0)
    m.submit(b"a", 2.0)
    m.submit(b"b", 2.1)
    assert m.next_release_s() == 2.5
    assert m.pop_due(2.49) == []
    assert m.pop_due(2.5) == [b"a"]
    assert m.pop_due(3.0) == [b"b"] and m.waiting == 0 and m.next_release_s() is None


@pytest.mark.parametrize("kwargs", [{"ber": -0.1}, {"ber": 0.6}, {"loss": 1.5}, {"delay_s": -1.0},
                                    {"rate_bps": -5.0}, {"queue_limit": 0}])
def test_invalid_options_are_refused(kwargs: dict) -> None:
    with pytest.raises(LocalProtocolError):
        Impairment(**kwargs)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=300), st.floats(0, 100)), max_size=30),
       st.floats(0, 1e-2), st.floats(100, 1e6), st.floats(0, 5))
def test_order_kept_and_release_after_arrival_plus_air_time(frames: list, ber: float, rate_bps: float,
                                                           delay_s: float) -> None:
    m = Impairment(ber=ber, rate_bps=rate_bps, delay_s=delay_s, seed=1)
    now = 0.0
    last_release = -1.0
    for data, dt in frames:
        now += dt
        out = m.submit(data, now)
        assert out is not None
        assert len(out.data) == len(data)
        assert out.release_s >= now + 8 * len(data) / rate_bps + delay_s - 1e-9
        assert out.release_s >= last_release
        last_release = out.release_s
    released = m.pop_due(float("inf"))
    assert len(released) == len(frames)
    assert [len(r) for r in released] == [len(d) for d, _ in frames]


# ------------------------------------------------------------------ the process, over loopback


def _start_channel(*args: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "protocol.links.channel", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("READY "):
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise AssertionError(f"channel did not start: {line!r} {err}")
    return proc, json.loads(line[len("READY "):])


def _clean_up(proc: subprocess.Popen | None, endpoints: list) -> None:
    """Kill a channel still running (a failed test) and close the test's endpoints."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=5)
    for ep in endpoints:
        ep.close()


def _handshake(tx: FrameSender, rx: FrameReceiver, probe: bytes, deadline_s: float = 10.0) -> None:
    """Send a probe until it comes out the far side (PUB/SUB subscriptions take a moment to propagate)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        tx.send(probe)
        got = rx.recv(0.05)
        while got is not None:
            if got.data == probe:
                while rx.recv(0.05) is not None:  # drain duplicates of the probe
                    pass
                return
            got = rx.recv(0.05)
    raise AssertionError("no frame crossed the channel within the deadline")


@pytest.mark.slow
def test_channel_process_relays_cadus_down_and_cltus_up_with_bit_errors() -> None:
    sc_down_tx = open_sender("zmq://127.0.0.1:0")
    gs_up_tx = open_sender("zmq://127.0.0.1:0")
    proc = None
    endpoints = [sc_down_tx, gs_up_tx]
    try:
        sc_port = sc_down_tx.address.rsplit(":", 1)[1]
        gs_port = gs_up_tx.address.rsplit(":", 1)[1]
        proc, urls = _start_channel("--sc-down", f"zmq://127.0.0.1:{sc_port}", "--gs-up",
                                    f"zmq://127.0.0.1:{gs_port}", "--ber", "2e-4", "--up-ber", "0",
                                    "--seed", "4", "--stats-interval-s", "0.5")
        assert urls["sc_down"] == f"zmq://127.0.0.1:{sc_port}" and urls["gs_down"].startswith("zmq://127.0.0.1:")
        gs_down_rx = open_receiver(urls["gs_down"])
        sc_up_rx = open_receiver(urls["sc_up"])
        endpoints += [gs_down_rx, sc_up_rx]

        config = DownlinkConfig.cubesat(scid=MISSION.scid, interleave=4)
        enc = DownlinkEncoder(config, {1: 0})
        _handshake(sc_down_tx, gs_down_rx, b"probe-down")
        _handshake(gs_up_tx, sc_up_rx, b"probe-up")

        packets = [SpacePacket(apid=0x10, sequence_count=i, data=bytes([i]) * 100).encode() for i in range(40)]
        for p in packets:
            enc.submit(1, p)
        cadus = [enc.next_cadu() for _ in range(12)]
        dec = DownlinkDecoder(config)
        received = []
        for cadu in cadus:
            sc_down_tx.send(cadu)
        deadline = time.monotonic() + 10
        while len(received) < len(cadus) and time.monotonic() < deadline:
            got = gs_down_rx.recv(0.2)
            if got is not None:
                received.append(got.data)
        assert len(received) == len(cadus)
        assert received != cadus  # the channel did flip bits ...
        for r in received:
            dec.feed(r)
        out = [e.data for e in dec.events() if isinstance(e, VcPacket)]
        assert out == packets  # ... and RS corrected them all
        assert dec.counters.rs_corrected > 0

        cltus = [b"\xeb\x90" + bytes([i]) * 40 for i in range(5)]
        for c in cltus:
            gs_up_tx.send(c)
        got_up = []
        while len(got_up) < len(cltus):
            got = sc_up_rx.recv(5.0)
            assert got is not None, "uplink frame lost on an error-free uplink"
            got_up.append(got.data)
        assert got_up == cltus

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        final = [line for line in err.splitlines() if "final stats down" in line]
        assert final, err
        m = re.search(r"relayed (\d+), lost (\d+), dropped (\d+) \(queue full\), bits flipped (\d+)", final[0])
        assert m is not None and int(m.group(1)) >= len(cadus) and int(m.group(4)) > 0
        assert "final stats up" in err and "Traceback" not in err
    finally:
        _clean_up(proc, endpoints)


@pytest.mark.slow
def test_channel_process_bad_url_is_one_clear_line() -> None:
    out = subprocess.run([sys.executable, "-m", "protocol.links.channel", "--sc-down", "kiss://nowhere"],
                         check=False, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "url scheme" in out.stderr and "Traceback" not in out.stderr


def test_sample_level_direction_modulates_adds_noise_and_demodulates() -> None:
    """CADUs in, what a receiver makes of the noisy signal out: RS corrects the errors the noise caused."""
    from protocol.links.channel import Impairment, SampleLevel
    from protocol.radio import RadioConfig
    from protocol.stack import DownlinkConfig, DownlinkDecoder, DownlinkEncoder

    config = DownlinkConfig.cubesat(scid=0x2A, interleave=4)
    enc = DownlinkEncoder(config, {0: 0})
    for i in range(300):
        enc.submit(0, bytes([0x08, 0x10, 0xC0 | (i >> 8), i & 0xFF, 0x00, 99]) + bytes([i & 0xFF]) * 100)
    cadus = [enc.next_cadu() for _ in range(40)]
    results = {}
    for ebn0 in (6.0, 30.0):
        ch = SampleLevel(Impairment(delay_s=0.5, seed=1), RadioConfig(), ebn0_db=ebn0, codeblock_len=1020,
                         offset_hz=200.0, seed=2)
        out = []
        for k, cadu in enumerate(cadus):
            assert ch.submit(cadu, float(k)) is not None
            out += ch.pop_due(float(k))
        assert ch.waiting == 1  # the last one is still in flight (0.5 s delay)
        out += ch.pop_due(100.0)
        dec = DownlinkDecoder(config)
        dec.feed(b"".join(out))
        dec.close()
        results[ebn0] = (len(out), dec.counters.rs_corrected, dec.counters.rs_uncorrectable, dec.counters.frames)
        assert ch.stats.frames_relayed == len(out) == ch.cadus_out
    n30, corrected30, bad30, frames30 = results[30.0]
    n6, corrected6, bad6, frames6 = results[6.0]
    assert 36 <= n30 <= 40 and corrected30 == 0 and bad30 == 0  # the demodulator still holds the last few
    assert 36 <= n6 <= 40 and corrected6 > 50 and bad6 == 0  # at 6 dB the noise flips bits: RS corrects them
    with pytest.raises(LocalProtocolError, match="ber"):
        SampleLevel(Impairment(ber=1e-3), RadioConfig(), ebn0_db=6.0, codeblock_len=1020)


# ------------------------------------------------------------------ the link follows the sky
PASSES_JSON = json.dumps({"passes": [  # the shape ttc passes --format json writes (two of its fields)
    {"station": "Almaty", "aos_utc": "2024-03-20T16:52:05.766Z", "los_utc": "2024-03-20T17:00:36.479Z"},
    {"station": "Almaty", "aos_utc": "2024-03-20T18:27:54.233Z", "los_utc": "2024-03-20T18:32:47.797Z"},
    {"station": "Kiruna", "aos_utc": "2024-03-20T18:30:00Z", "los_utc": "2024-03-20T18:40:00Z", "rate_bps": 9600},
]})
EPOCH = 1710953525.766  # 2024-03-20T16:52:05.766Z


def test_visibility_windows_on_an_accelerated_clock() -> None:
    from protocol.links.channel import Visibility

    vis = Visibility.from_json(PASSES_JSON, sim_start_s=EPOCH - 100.0, speed=10.0, t0_s=1000.0)
    assert vis.contact_at(1000.0) is None  # 100 s before AOS
    assert vis.next_change_s(1000.0) == pytest.approx(1010.0)  # AOS 10 real seconds later at speed 10
    c = vis.contact_at(1010.5)
    assert c is not None and c.station == "Almaty" and c.rate_bps is None
    assert vis.contact_at(1010.0 + 510.7 / 10 + 0.01) is None  # after the first LOS
    # the second Almaty pass overlaps Kiruna's window: the link stays up through both
    t_aos2 = 1010.0 + (1710959274.233 - EPOCH) / 10
    assert vis.contact_at(t_aos2 + 1).station == "Almaty"
    assert vis.contact_at(t_aos2 + 35).station == "Kiruna"  # Almaty's LOS at +29.4 s, Kiruna's until +72.6 s
    assert vis.contact_at(t_aos2 + 80) is None and vis.next_change_s(t_aos2 + 80) is None


@pytest.mark.parametrize("text, field", [
    ("{", "contacts"), ('{"passes": 3}', "contacts"), ('[{"aos_utc": "x", "los_utc": "y"}]', "contacts[0].aos_utc"),
    ('[{"aos_utc": "2024-03-20T10:00:00Z"}]', "contacts[0].los_utc"),
    ('[{"aos_utc": "2024-03-20T10:00:00Z", "los_utc": "2024-03-20T09:00:00Z"}]', "contacts[0].los"),
    ('[{"aos_utc": "2024-03-20T10:00:00Z", "los_utc": "2024-03-20T11:00:00Z", "rate_bps": -5}]',
     "contacts[0].rate_bps"),
    ('[7]', "contacts[0]"),
])
def test_visibility_refuses_bad_windows_naming_the_field(text: str, field: str) -> None:
    from protocol.links.channel import Visibility

    with pytest.raises(LocalProtocolError) as e:
        Visibility.from_json(text, sim_start_s=0.0)
    assert e.value.field == field


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_visibility_fuzz_raises_only_protocol_errors(text: str) -> None:
    from protocol.links.channel import Visibility

    try:
        Visibility.from_json(text, sim_start_s=0.0)
    except LocalProtocolError:
        pass


def test_gated_direction_carries_only_in_view_and_drops_what_waits_at_los() -> None:
    from protocol.links.channel import Contact, Gated, Visibility

    vis = Visibility([Contact(100.0, 200.0, "A", rate_bps=8000.0)], sim_start_s=0.0, speed=1.0, t0_s=0.0)
    gate = Gated(Impairment(rate_bps=1e6), vis)
    assert gate.submit(b"x" * 100, 50.0) is None  # before AOS
    item = gate.submit(b"y" * 100, 150.0)  # in view, at the window's own 8000 bit/s: 0.1 s of air time
    assert item is not None and item.release_s == pytest.approx(150.1)
    assert gate.pop_due(150.2) == [b"y" * 100]
    for k in range(30):  # 3 s of air time queued at 199 s: most is still waiting at LOS
        gate.submit(bytes([k]) * 100, 199.0)
    delivered = gate.pop_due(199.95)
    assert len(delivered) == 9
    assert gate.pop_due(203.0) == []  # released after LOS: dropped
    assert gate.submit(b"z", 250.0) is None
    s = gate.stats
    assert (s.frames_in, s.frames_relayed, s.frames_out_of_view) == (33, 10, 23)


@pytest.mark.slow
def test_channel_process_opens_and_closes_the_link_with_the_contact_windows(tmp_path) -> None:
    from datetime import datetime, timedelta, timezone

    start = datetime(2024, 3, 20, 16, 50, tzinfo=timezone.utc)
    window = [start + timedelta(seconds=30), start + timedelta(seconds=60)]  # 1.5 s to 3 s of real time at 20x
    contacts = tmp_path / "contacts.json"
    contacts.write_text(json.dumps([{"station": "Almaty", "aos_utc": window[0].isoformat(),
                                     "los_utc": window[1].isoformat()}]))
    sc_down_tx = open_sender("zmq://127.0.0.1:0")
    endpoints = [sc_down_tx]
    proc = None
    try:
        sc_port = sc_down_tx.address.rsplit(":", 1)[1]
        proc, urls = _start_channel("--sc-down", f"zmq://127.0.0.1:{sc_port}", "--contacts", str(contacts),
                                    "--sim-start", start.isoformat(), "--speed", "20", "--stats-interval-s", "0.5")
        t0 = time.monotonic()  # the channel's clock started just before READY
        gs_down_rx = open_receiver(urls["gs_down"])
        endpoints.append(gs_down_rx)
        sent: list[tuple[float, bytes]] = []
        got: list[tuple[float, bytes]] = []
        k = 0
        while time.monotonic() - t0 < 4.5:
            frame = k.to_bytes(4, "big") * 16
            sent.append((time.monotonic() - t0, frame))
            sc_down_tx.send(frame)
            k += 1
            r = gs_down_rx.recv(0.02)
            while r is not None:
                got.append((time.monotonic() - t0, r.data))
                r = gs_down_rx.recv(0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        _clean_up(proc, endpoints)
    assert proc.returncode == 0, err
    assert got, err
    # everything that arrived was sent inside the window (0.25 s of slack for process start and scheduling)
    sent_at = {frame: t for t, frame in sent}
    assert all(1.5 - 0.25 <= sent_at[frame] <= 3.0 + 0.25 for _, frame in got)
    # and most of what was sent well inside it arrived
    inside = [frame for t, frame in sent if 1.8 <= t <= 2.7]
    arrived = {frame for _, frame in got}
    assert len(inside) > 20 and sum(f in arrived for f in inside) >= 0.9 * len(inside)
    # logged when the loop saw them: within a simulated second of the edges (50 ms of real time at 20x)
    assert re.search(r"AOS Almaty at 2024-03-20 16:50:3[01] UTC \(simulated\): link up", err), err
    assert re.search(r"LOS Almaty at 2024-03-20 16:51:0[01] UTC \(simulated\): link down", err), err
    m = re.search(r"final stats down: relayed (\d+), .* out of view (\d+)", err)
    assert m is not None and int(m.group(2)) > 0 and int(m.group(1)) == len(got)
    assert "Traceback" not in err


def test_link_budget_is_free_space_loss_and_bpsk_error_rate() -> None:
    from protocol.links.channel import LinkBudget

    b = LinkBudget(9.6, 1000.0)
    assert b.ber_at(1000.0) == pytest.approx(1.0e-5, rel=0.1)  # BPSK's textbook 1e-5 at 9.6 dB
    assert b.ebn0_db_at(10_000.0) == pytest.approx(-10.4) and b.ebn0_db_at(500.0) == pytest.approx(9.6 + 6.0206, abs=1e-3)
    assert b.ber_at(2000.0) > 100 * b.ber_at(1000.0)  # 6 dB less at twice the range
    assert LinkBudget.parse("12@1500") == LinkBudget(12.0, 1500.0)
    with pytest.raises(LocalProtocolError) as e:
        LinkBudget.parse("twelve")
    assert e.value.field == "--link-budget"


def test_gated_bit_errors_follow_the_range_over_the_pass() -> None:
    from protocol.links.channel import Contact, Gated, LinkBudget, Visibility

    pass_ = Contact(0.0, 200.0, "A", geometry=((0.0, 2400.0), (100.0, 600.0), (200.0, 2400.0)))
    assert pass_.range_km_at(50.0) == pytest.approx(1500.0) and Contact(0.0, 1.0).range_km_at(0.5) is None
    vis = Visibility([pass_], sim_start_s=0.0, speed=1.0, t0_s=0.0)
    gate = Gated(Impairment(seed=3), vis, LinkBudget(12.0, 1000.0))
    for _ in range(200):
        gate.submit(bytes(1024), 2.0)  # 2350 km: ~4.6 dB, BER ~1e-2
    edge = gate.stats.bits_flipped
    for _ in range(200):
        gate.submit(bytes(1024), 100.0)  # 600 km: ~16.4 dB, BER ~1e-12
    assert edge > 10_000 and gate.stats.bits_flipped - edge < 5


def test_plan_json_geometry_reaches_the_channel() -> None:
    from click.testing import CliRunner

    from groundstation.cli import main as ttc
    from protocol.links.channel import Visibility

    out = CliRunner().invoke(ttc, ["plan", "--start", "2024-03-20T12:00Z", "--days", "0.3", "--format", "json"])
    vis = Visibility.from_json(out.output, sim_start_s=0.0)
    first = vis.contacts[0]
    doc = json.loads(out.output)["contacts"][0]
    assert first.geometry[0][1] == pytest.approx(doc["geometry"][0][1])
    mid = first.range_km_at(first.aos_s + 240.0)
    assert 500.0 < mid < first.geometry[0][1]  # nearer at the middle of the pass than at its start
    with pytest.raises(LocalProtocolError) as e:
        Visibility.from_json('[{"aos_utc": "2024-03-20T10:00:00Z", "los_utc": "2024-03-20T11:00:00Z", '
                             '"geometry": [[0, 900], [0, 800]]}]', sim_start_s=0.0)
    assert e.value.field == "contacts[0].geometry[1]"
