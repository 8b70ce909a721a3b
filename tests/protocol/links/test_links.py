"""Frame links: URL parsing, ZeroMQ PUB/SUB over real loopback sockets, recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.links import open_receiver, open_sender, parse_url
from protocol.links.zmqlink import zmq_address
from protocol.links.recording import MAGIC, RecordingReader, RecordingWriter, read_recording


def test_parse_urls() -> None:
    u = parse_url("zmq://127.0.0.1:5555")
    assert (u.scheme, u.host, u.port) == ("zmq", "127.0.0.1", 5555)
    u = parse_url("zmq://127.0.0.1:5555?bind=1&hwm=10")
    assert u.bind is True and dict(u.options) == {"hwm": "10"}
    assert parse_url("zmq+ipc:///tmp/ttc-down").path == "/tmp/ttc-down"
    assert parse_url("file:///tmp/x.ttcrec").path == "/tmp/x.ttcrec"
    assert zmq_address("zmq://127.0.0.1:0") == "tcp://127.0.0.1:*"
    assert zmq_address("zmq+ipc:///tmp/x?hwm=3") == "ipc:///tmp/x"
    with pytest.raises(LocalProtocolError, match="file, gr\\+zmq, kiss\\+tcp, zmq, zmq\\+ipc"):
        open_sender("http://example.org")
    with pytest.raises(LocalProtocolError, match="HOST:PORT"):
        open_sender("zmq://127.0.0.1")
    with pytest.raises(LocalProtocolError, match="carries"):
        open_receiver("zmq://127.0.0.1:5555?carries=samples")
    with pytest.raises(LocalProtocolError, match="hwm"):
        open_receiver("zmq://127.0.0.1:5555?hwm=lots")


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


def test_registry_lists_every_scheme_and_takes_new_ones() -> None:
    from protocol.links import Carries, FrameReceiver, FrameSender, LinkScheme, describe_schemes, register_scheme, schemes

    names = {name for name, _, _ in describe_schemes()}
    assert {"zmq", "zmq+ipc", "file", "gr+zmq", "kiss+tcp"} <= names
    assert all(summary and example.startswith(name) for name, example, summary in describe_schemes())

    sent: list[bytes] = []

    class MemorySender(FrameSender):
        scheme = "mem"

        def __init__(self, carries: Carries) -> None:
            super().__init__()
            self.carries = carries

        @property
        def url(self) -> str:
            return "mem://here"

        def send(self, frame: bytes) -> None:
            sent.append(frame)
            self.counters.frames_out += 1

    register_scheme(LinkScheme("mem", "in memory, for this test", lambda url, carries: MemorySender(carries), None,
                               "mem://here"))
    assert "mem" in schemes()
    tx = open_sender("mem://here", carries=Carries.CLTUS)
    tx.send(b"x")
    assert sent == [b"x"] and tx.carries is Carries.CLTUS and tx.counters.frames_out == 1 and tx.url == "mem://here"
    with pytest.raises(LocalProtocolError, match="can receive"):
        open_receiver("mem://here")
    assert FrameReceiver().finished is False and FrameReceiver().wait_handle() is None


def test_links_say_what_they_carry_and_where_peers_reach_them(tmp_path: Path) -> None:
    from protocol.links import Carries

    tx = open_sender("zmq://127.0.0.1:0", carries=Carries.CLTUS)
    rx = open_receiver(tx.url + "?carries=frames")
    try:
        assert tx.url.startswith("zmq://127.0.0.1:") and not tx.url.endswith(":0")
        assert tx.carries is Carries.CLTUS and rx.carries is Carries.FRAMES
        assert tx.wait_handle() is not None and rx.wait_handle() is not None
        _handshake(tx, rx)
        assert rx.counters.frames_in >= 1 and rx.counters.octets_in == 5 * rx.counters.frames_in
        assert tx.counters.frames_out == tx.sent and tx.counters.octets_out == 5 * tx.sent
    finally:
        tx.close()
        rx.close()
    w = open_sender(f"file://{tmp_path}/rec.ttcrec")
    w.send(b"abc")
    w.close()
    assert w.url == (tmp_path / "rec.ttcrec").resolve().as_uri() and w.counters.frames_out == 1
    r = open_receiver(f"file://{tmp_path}/rec.ttcrec?carries=frames")
    f = r.recv(0)
    assert f.data == b"abc" and f.carries is Carries.FRAMES and r.wait_handle() is None
    assert r.recv(0) is None and r.finished
    r.close()


def test_gr_zmq_pdus_with_metadata_and_refused_messages() -> None:
    import zmq

    from protocol.links import Carries
    from protocol.pmt import dumps

    tx = open_sender("gr+zmq://127.0.0.1:0")
    rx = open_receiver(tx.url + "?carries=frames")
    raw = zmq.Context.instance().socket(zmq.PUB)  # a peer that sends what is not a PDU
    raw.setsockopt(zmq.LINGER, 0)
    port = raw.bind_to_random_port("tcp://127.0.0.1")
    rx2 = open_receiver(f"gr+zmq://127.0.0.1:{port}")
    try:
        assert tx.url.startswith("gr+zmq://127.0.0.1:")
        _handshake(tx, rx)
        while rx.recv(0.05) is not None:
            pass
        tx.send(b"\x1a\xcf\xfc\x1d" + bytes(10), meta={"rs_errors": 2, "syncword_errors": 1})
        f = rx.recv(2.0)
        assert f is not None and f.data == b"\x1a\xcf\xfc\x1d" + bytes(10) and f.carries is Carries.FRAMES
        assert f.meta == {"rs_errors": 2, "syncword_errors": 1}
        for _ in range(200):  # until the subscription is in: garbage, a non-PDU PMT, then a good PDU
            raw.send(b"\xffgarbage")
            if rx2.counters.rejected or rx2.recv(0.01) is not None:
                break
        raw.send(dumps(5))
        raw.send(dumps((b"not", "a pair")))
        from protocol.pmt import encode_pdu
        raw.send(encode_pdu(b"ok"))
        good = None
        deadline = 50
        while good is None and deadline:
            good = rx2.recv(0.1)
            deadline -= 1
        assert good is not None and good.data == b"ok" and good.meta is None
        assert rx2.counters.rejected >= 3 and "pmt:" in rx2.last_error
    finally:
        for link in (tx, rx, rx2):
            link.close()
        raw.close(linger=0)
