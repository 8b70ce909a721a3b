"""Frame links: URL parsing, ZeroMQ PUB/SUB over real loopback sockets, recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.links import open_receiver, open_sender, parse_url
from protocol.links.recording import MAGIC, RecordingReader, RecordingWriter, read_recording


def test_parse_urls() -> None:
    assert parse_url("zmq://127.0.0.1:5555").address == "tcp://127.0.0.1:5555"
    u = parse_url("zmq://127.0.0.1:5555?bind=1&hwm=10")
    assert u.bind is True and u.options == {"hwm": "10"}
    assert parse_url("zmq+ipc:///tmp/ttc-down").address == "ipc:///tmp/ttc-down"
    assert parse_url("file:///tmp/x.ttcrec").address == "/tmp/x.ttcrec"
    with pytest.raises(LocalProtocolError, match="zmq, zmq\\+ipc or file"):
        parse_url("http://example.org")
    with pytest.raises(LocalProtocolError, match="HOST:PORT"):
        parse_url("zmq://127.0.0.1")


def _handshake(sender, receiver) -> int:  # noqa: ANN001
    """Send probes until the subscriber sees one (PUB/SUB joins late); return probes sent."""
    for i in range(500):
        sender.send(b"probe")
        if receiver.recv(0.01) is not None:
            return i + 1
    raise AssertionError("subscriber never joined")


@pytest.mark.parametrize("scheme", ["zmq", "zmq+ipc"])
def test_zmq_frames_arrive_whole_and_in_order(scheme: str, tmp_path: Path) -> None:
    url = "zmq://127.0.0.1:0" if scheme == "zmq" else f"zmq+ipc://{tmp_path}/down"
    tx = open_sender(url)
    rx = open_receiver(url if scheme == "zmq+ipc" else "zmq://" + tx.address.split("//", 1)[1])
    try:
        _handshake(tx, rx)
        while rx.recv(0.05) is not None:  # drain probes
            pass
        frames = [bytes([i]) * (1 + i * 10) for i in range(50)]
        for f in frames:
            tx.send(f)
        got = []
        while len(got) < len(frames):
            frame = rx.recv(2.0)
            assert frame is not None, f"timed out after {len(got)} frames"
            got.append(frame.data)
        assert got == frames
        assert rx.recv(0.05) is None  # every receive has a timeout
    finally:
        tx.close()
        rx.close()


def test_sender_without_listener_never_blocks() -> None:
    tx = open_sender("zmq://127.0.0.1:0?hwm=5")
    try:
        for _ in range(1000):
            tx.send(b"\x00" * 100)
        assert tx.sent + tx.dropped == 1000
    finally:
        tx.close()


def test_recording_round_trip_and_truncated_tail(tmp_path: Path) -> None:
    path = tmp_path / "pass.ttcrec"
    w = RecordingWriter(path)
    w.send(b"one", ert_ns=1_000)
    w.send(b"two!", ert_ns=2_000)
    w.close()
    w2 = RecordingWriter(path)  # appending keeps one magic
    w2.send(b"three", ert_ns=3_000)
    w2.close()
    frames = read_recording(path)
    assert [(f.data, f.ert_ns) for f in frames] == [(b"one", 1000), (b"two!", 2000), (b"three", 3000)]
    assert path.read_bytes().count(MAGIC) == 1
    with open(path, "ab") as f:
        f.write(b"\x00" * 7)  # a crash mid-record
    reader = RecordingReader(path)
    assert [reader.recv().data for _ in range(3)] == [b"one", b"two!", b"three"]
    assert reader.recv() is None and reader.truncated_octets == 7
    reader.close()
    via_url = open_receiver(f"file://{path}")
    assert via_url.recv(0).data == b"one"
    via_url.close()


def test_recording_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x1a\xcf\xfc\x1d" * 10)
    with pytest.raises(RemoteProtocolError, match="magic"):
        RecordingReader(path)
