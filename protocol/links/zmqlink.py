"""ZeroMQ PUB/SUB frame links: a broadcast without back-pressure, like a radio.

Bounded high-water marks on both sides, ``linger=0`` on close, and every
receive has a timeout. A frame that meets a full queue is dropped and counted
(``dropped``), never waited for. Sockets belong to the thread that made them.
"""

from __future__ import annotations

import time

import zmq

from . import ReceivedFrame

__all__ = ["ZmqSender", "ZmqReceiver", "DEFAULT_HWM", "DEFAULT_MAX_MSG", "MAX_SUBSCRIPTION"]

DEFAULT_HWM = 1000  # frames
#: Largest message a receiver takes (``?max_msg=`` in the URL): transfer frames and CLTUs are a few kilo-
#: octets; a bigger message makes libzmq drop its sender, so no peer can make us buffer megabytes.
DEFAULT_MAX_MSG = 64 * 1024
#: Largest message a sender (PUB) takes: what comes back to a PUB is subscriptions, and ours subscribe to
#: everything (an empty prefix); a 50 MB subscription would otherwise sit in the sender's memory for good.
MAX_SUBSCRIPTION = 256


def _socket(kind: int, address: str, *, bind: bool, hwm: int, max_msg: int | None = None) -> zmq.Socket:
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if max_msg is not None:
        sock.setsockopt(zmq.MAXMSGSIZE, max_msg)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    if bind:
        sock.bind(address)
    else:
        sock.connect(address)
    return sock


class ZmqSender:
    """Publishes frames on a PUB socket."""

    def __init__(self, address: str, *, bind: bool = True, options: dict[str, str] | None = None) -> None:
        hwm = int((options or {}).get("hwm", DEFAULT_HWM))
        self._sock = _socket(zmq.PUB, address, bind=bind, hwm=hwm, max_msg=MAX_SUBSCRIPTION)
        self.address = self._sock.getsockopt_string(zmq.LAST_ENDPOINT) if bind else address
        self.sent = 0
        self.dropped = 0

    def send(self, frame: bytes) -> None:
        """Publish one frame; dropped (and counted) when the queue is full."""
        try:
            self._sock.send(frame, zmq.NOBLOCK, copy=False)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1

    def close(self) -> None:
        """Close the socket at once (linger 0)."""
        self._sock.close(linger=0)


class ZmqReceiver:
    """Receives frames on a SUB socket subscribed to everything."""

    def __init__(self, address: str, *, bind: bool = False, options: dict[str, str] | None = None) -> None:
        hwm = int((options or {}).get("hwm", DEFAULT_HWM))
        self._sock = _socket(zmq.SUB, address, bind=bind, hwm=hwm,
                             max_msg=int((options or {}).get("max_msg", DEFAULT_MAX_MSG)))
        self._sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.address = self._sock.getsockopt_string(zmq.LAST_ENDPOINT) if bind else address
        self.received = 0

    def recv(self, timeout_s: float) -> ReceivedFrame | None:
        """The next frame, or None after ``timeout_s``."""
        if not self._sock.poll(max(0, int(timeout_s * 1000)), zmq.POLLIN):
            return None
        data = self._sock.recv()
        self.received += 1
        return ReceivedFrame(data, time.time_ns())

    def fileno_socket(self) -> zmq.Socket:
        """The underlying socket, for a zmq.Poller that waits on several inputs."""
        return self._sock

    def close(self) -> None:
        """Close the socket at once (linger 0)."""
        self._sock.close(linger=0)
