"""kiss+tcp over real loopback sockets: a TNC emulated by a plain TCP server, reconnects, timestamps, polling."""

from __future__ import annotations

import socket
import time

import pytest
import zmq

from protocol.errors import LocalProtocolError
from protocol.kiss import encode_frame, encode_timestamp
from protocol.links import Carries, open_receiver, open_sender


def _until(predicate, timeout_s: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_bound_receiver_and_connecting_sender_move_whole_frames_in_order() -> None:
    rx = open_receiver("kiss+tcp://127.0.0.1:0?bind=1", carries=Carries.CLTUS)
    tx = open_sender(rx.url)
    try:
        assert rx.url.startswith("kiss+tcp://127.0.0.1:") and not rx.url.endswith(":0")
        _until(lambda: tx.connected == 1 and rx.connected == 1)
        frames = [bytes([i % 256]) * (1 + i) + b"\xc0\xdb" for i in range(200)]
        for f in frames:
            tx.send(f)
        got = []
        while len(got) < len(frames):
            f = rx.recv(5.0)
            assert f is not None, f"timed out after {len(got)}"
            got.append(f)
        assert [f.data for f in got] == frames and all(f.carries is Carries.CLTUS for f in got)
        assert tx.counters.frames_out == 200 and rx.counters.frames_in == 200 and rx.counters.rejected == 0
        assert rx.recv(0.05) is None
    finally:
        tx.close()
        rx.close()


def test_tnc_server_drop_reconnect_timestamps_and_poller() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    rx = open_receiver(f"kiss+tcp://127.0.0.1:{port}?port=1")
    try:
        server.settimeout(10)
        conn, _ = server.accept()
        # gr-satellites' KISS output: a timestamp frame before each data frame; TNC port 0 is not ours
        conn.sendall(encode_timestamp(1_764_741_600_123, port=1) + encode_frame(b"first", port=1)
                     + encode_frame(b"other port", port=0))
        poller = zmq.Poller()
        poller.register(rx.wait_handle(), zmq.POLLIN)
        assert poller.poll(5000), "the wait handle never turned readable"
        f = rx.recv(0)
        assert f.data == b"first" and f.ert_ns == 1_764_741_600_123_000_000
        assert f.meta == {"kiss_timestamp_ms": 1_764_741_600_123}
        conn.sendall(b"\xc0\x10half a fra")  # then the TNC goes away mid-frame
        conn.close()
        conn, _ = server.accept()  # the receiver connects again by itself
        conn.sendall(encode_frame(b"second", port=1))
        f = rx.recv(5.0)
        assert f is not None and f.data == b"second" and f.meta is None
        _until(lambda: rx.counters.reconnects == 1 and rx.counters.rejected == 1)
        assert rx.counters.frames_in == 2
        conn.close()
    finally:
        rx.close()
        server.close()


def test_sender_without_tnc_drops_and_counts_never_blocks() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()  # nobody listens there now
    tx = open_sender(f"kiss+tcp://127.0.0.1:{port}")
    try:
        for _ in range(1000):  # none of these waits for a peer
            tx.send(b"x" * 100)
        assert tx.counters.dropped == 1000 and tx.counters.frames_out == 0
    finally:
        tx.close()


def test_bad_options_are_typed_errors() -> None:
    with pytest.raises(LocalProtocolError, match="TNC port"):
        open_receiver("kiss+tcp://127.0.0.1:8001?port=16")
    with pytest.raises(LocalProtocolError, match="HOST:PORT"):
        open_receiver("kiss+tcp://127.0.0.1")
    with pytest.raises(LocalProtocolError, match="queue"):
        open_sender("kiss+tcp://127.0.0.1:8001?queue=0")
