"""The real process: `python -m spacecraft` over loopback ZeroMQ and recordings, stopped by signals."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.links import open_receiver, open_sender
from protocol.links.recording import read_recording
from protocol.mission import MISSION
from protocol.pus import AckFlags
from protocol.stack import DownlinkConfig, DownlinkDecoder, UplinkEncoder
from protocol.vchannel import VcPacket
from spacecraft.onboard import UPLINK

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DOWNLINK = DownlinkConfig.cubesat(scid=MISSION.scid, interleave=4)


class Spacecraft:
    """A `python -m spacecraft` child: started, READY line read, always killed at the end."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "spacecraft", *args], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.endpoints = self._ready(timeout_s=15.0)

    def _ready(self, *, timeout_s: float) -> dict[str, str]:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        try:
            if not sel.select(timeout_s):
                raise AssertionError("no READY line in time")
        finally:
            sel.close()
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("READY "), line + self.proc.stderr.read()  # type: ignore[union-attr]
        return json.loads(line[len("READY "):])

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``; the exit status and everything logged."""
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


@pytest.fixture
def children() -> Iterator[list[Spacecraft]]:
    started: list[Spacecraft] = []
    yield started
    for sc in started:
        sc.kill()


def _packets(decoder: DownlinkDecoder) -> Iterator[tuple[int, object]]:
    for ev in decoder.events():
        if isinstance(ev, VcPacket):
            yield ev.vcid, MISSION.decode_tm(ev.data)


def test_ping_over_zeromq_and_junk_is_counted(children: list[Spacecraft]) -> None:
    up = open_sender("zmq://127.0.0.1:0")
    try:
        sc = Spacecraft("--up", "zmq://" + up.address.split("//", 1)[1], "--down", "zmq://127.0.0.1:0",
                        "--hk-interval", "3600")
        children.append(sc)
        down = open_receiver(sc.endpoints["down"])
        decoder = DownlinkDecoder(DOWNLINK)
        tc = MISSION.command("PING").to_tc({}, sequence_count=77, ack_flags=AckFlags.ALL)
        cltus = UplinkEncoder(UPLINK).encode(tc.encode())
        seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + 15
        next_send = 0.0
        # PUB/SUB joins late: repeat junk + ping until the reports come back (a handshake, not a sleep)
        while not {(1, 1), (17, 2), (1, 7)} <= set(seen):
            assert time.monotonic() < deadline, f"no ping reports, got {seen}"
            if time.monotonic() >= next_send:
                up.send(b"\x00junk\xff" * 40)
                for cltu in cltus:
                    up.send(cltu)
                next_send = time.monotonic() + 0.5
            frame = down.recv(0.1)
            if frame is None:
                continue
            decoder.feed(frame.data)
            for _, d in _packets(decoder):
                if d.tm.service in (1, 17):
                    seen.append((d.tm.service, d.tm.subtype))
        assert seen.index((1, 1)) < seen.index((1, 7))
        down.close()
        status, err = sc.stop()
    finally:
        up.close()
    assert status == 0
    counters = json.loads(err.rsplit("stopped; counters ", 1)[1].splitlines()[0])
    assert counters["uplink"]["skipped_octets"] > 0  # the junk was counted, and it did not stop the ping
    assert counters["tc"]["completed"] >= 1 and counters["uplink"]["decoder_errors"] == 0


def _wait_for_recorded(path: Path, predicate, *, timeout_s: float) -> list:
    """Decode the growing recording until ``predicate(packets)`` holds (polling a file: no signal to wait on)."""
    deadline = time.monotonic() + timeout_s
    while True:
        decoder = DownlinkDecoder(DOWNLINK)
        for frame in read_recording(path) if path.exists() else []:
            decoder.feed(frame.data)
        packets = list(_packets(decoder))
        if predicate(packets) or time.monotonic() > deadline:
            return packets
        time.sleep(0.05)


def _boots(packets: list) -> list[int]:
    return [int.from_bytes(d.event_data, "big") for _, d in packets if d.event is not None and d.event.name == "BOOT"]


def test_stored_packets_survive_a_kill_and_restart(tmp_path: Path, children: list[Spacecraft]) -> None:
    state = tmp_path / "state"
    first = tmp_path / "first.ttcrec"
    # 100 bit/s: the first CADU goes at once (VC 0), the next only after 82 s, so the BOOT event waits in storage
    sc = Spacecraft("--down", f"file://{first}", "--state-dir", str(state), "--rate-bps", "100")
    children.append(sc)
    sent = _wait_for_recorded(first, lambda p: len(p) > 0, timeout_s=10)
    assert sent and _boots(sent) == []  # housekeeping went out first; the BOOT event (VC 1) still waits
    sc.stop(signal.SIGKILL)  # a crash: nothing flushed at exit
    second = tmp_path / "second.ttcrec"
    sc2 = Spacecraft("--down", f"file://{second}", "--state-dir", str(state))
    children.append(sc2)
    packets = _wait_for_recorded(second, lambda p: _boots(p) == [1, 2], timeout_s=10)
    assert _boots(packets) == [1, 2]  # the first boot's event, kept on board, then the second's
    status, err = sc2.stop()
    assert status == 0 and "boot 2:" in err
    assert json.loads((state / "state.json").read_text())["reboot_count"] == 2


_HOG = """
import sys, time, zmq
sub = zmq.Context.instance().socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0); sub.connect(sys.argv[1])
time.sleep(0.3)
print("sent", flush=True)
sub.setsockopt(zmq.SUBSCRIBE, b"x" * (50 << 20))  # one 50 MB subscription message to the downlink PUB
time.sleep(2)
"""


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_a_50_mb_subscription_to_the_downlink_costs_the_hog_its_connection_not_the_spacecraft_its_memory(
        children: list[Spacecraft]) -> None:
    sc = Spacecraft("--down", "zmq://127.0.0.1:0", "--no-adcs", "--hk-interval", "1")
    children.append(sc)
    down = open_receiver(sc.endpoints["down"])
    try:
        assert down.recv(10) is not None  # frames flow before
        before = _rss_mb(sc.proc.pid)
        hogs = [subprocess.Popen([sys.executable, "-c", _HOG, sc.endpoints["down"].replace("zmq://", "tcp://")],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
        for hog in hogs:
            assert hog.stdout is not None and hog.stdout.readline().strip() == "sent"
        for hog in hogs:
            try:
                hog.wait(4)  # libzmq may crash the hog whose subscription was refused: its problem
            except subprocess.TimeoutExpired:
                hog.kill()
                hog.wait()
        while down.recv(0) is not None:  # what queued meanwhile
            pass
        assert down.recv(10) is not None  # frames still flow after
        grown = _rss_mb(sc.proc.pid) - before
        assert grown < 40, f"spacecraft RSS grew {grown:.0f} MB for 2 x 50 MB of subscriptions"
        assert sc.proc.poll() is None
    finally:
        down.close()
