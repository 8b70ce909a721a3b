"""ZeroMQ PUB/SUB frame links: a broadcast without back-pressure, like a radio.

Bounded high-water marks on both sides, ``linger=0`` on close, and every
receive has a timeout. A frame that meets a full queue is dropped and counted
(``dropped``), never waited for. Sockets belong to the thread that made them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import zmq

from ..errors import LocalProtocolError
from . import LAYER, Carries, FrameReceiver, FrameSender, LinkScheme, LinkUrl, ReceivedFrame

__all__ = ["ZmqSender", "ZmqReceiver", "zmq_address", "link_url_of", "DEFAULT_HWM", "DEFAULT_MAX_MSG",
           "MAX_SUBSCRIPTION", "SCHEMES"]

DEFAULT_HWM = 1000  # frames
#: Largest message a receiver takes (``?max_msg=`` in the URL): transfer frames and CLTUs are a few kilo-
#: octets; a bigger message makes libzmq drop its sender, so no peer can make us buffer megabytes.
DEFAULT_MAX_MSG = 64 * 1024
#: Largest message a sender (PUB) takes: what comes back to a PUB is subscriptions, and ours subscribe to
#: everything (an empty prefix); a 50 MB subscription would otherwise sit in the sender's memory for good.
MAX_SUBSCRIPTION = 256


def zmq_address(url: str) -> str:
    """The libzmq endpoint of ``zmq://H:P`` (``tcp://H:P``) or ``zmq+ipc:///p`` (``ipc:///p``); tcp:// and
    ipc:// pass through; port 0 becomes libzmq's ephemeral ``*``."""
    scheme, sep, rest = url.partition("://")
    rest = rest.split("?", 1)[0]
    if not sep or scheme not in ("zmq", "zmq+ipc", "gr+zmq", "tcp", "ipc") or not rest:
        raise LocalProtocolError(LAYER, "url", url, "zmq://HOST:PORT, zmq+ipc:///path, tcp://HOST:PORT or ipc:///path")
    if scheme in ("zmq+ipc", "ipc"):
        return "ipc://" + rest
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not (port.isdigit() or port == "*"):
        raise LocalProtocolError(LAYER, "url", url, f"{scheme}://HOST:PORT")
    return f"tcp://{host}:{'*' if port in ('0', '*') else port}"


def link_url_of(endpoint: str, scheme: str = "zmq") -> str:
    """The link URL (``zmq://``, ``zmq+ipc://`` or ``gr+zmq://``) of a libzmq endpoint."""
    if endpoint.startswith("ipc://"):
        return ("zmq+ipc" if scheme == "zmq" else scheme) + "://" + endpoint[len("ipc://"):]
    if endpoint.startswith("tcp://"):
        return f"{scheme}://" + endpoint[len("tcp://"):]
    return endpoint


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


def _int_option(options: Mapping[str, str] | None, name: str, default: int, lo: int, hi: int) -> int:
    text = (options or {}).get(name)
    if text is None:
        return default
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise LocalProtocolError(LAYER, name, text, f"{lo}..{hi}")
    return int(text)


class ZmqSender(FrameSender):
    """Publishes frames on a PUB socket."""

    scheme = "zmq"

    def __init__(self, address: str, *, bind: bool = True, options: Mapping[str, str] | None = None,
                 carries: Carries = Carries.CADUS) -> None:
        super().__init__()
        self.carries = carries
        hwm = _int_option(options, "hwm", DEFAULT_HWM, 1, 1 << 24)
        self._sock = _socket(zmq.PUB, zmq_address(address), bind=bind, hwm=hwm, max_msg=MAX_SUBSCRIPTION)
        self.address = self._sock.getsockopt_string(zmq.LAST_ENDPOINT) if bind else zmq_address(address)

    @property
    def url(self) -> str:
        """``zmq://HOST:PORT`` (the bound port) or ``zmq+ipc:///path``."""
        return link_url_of(self.address, self.scheme)

    @property
    def sent(self) -> int:
        """Frames handed to libzmq."""
        return self.counters.frames_out

    @property
    def dropped(self) -> int:
        """Frames that met a full queue."""
        return self.counters.dropped

    def wait_handle(self) -> zmq.Socket:
        """The PUB socket."""
        return self._sock

    def send(self, frame: bytes) -> None:
        """Publish one frame; dropped (and counted) when the queue is full."""
        self._publish(frame)

    def _publish(self, message: bytes) -> None:
        try:
            self._sock.send(message, zmq.NOBLOCK, copy=False)
            self.counters.frames_out += 1
            self.counters.octets_out += len(message)
        except zmq.Again:
            self.counters.dropped += 1

    def close(self) -> None:
        """Close the socket at once (linger 0)."""
        self._sock.close(linger=0)


class ZmqReceiver(FrameReceiver):
    """Receives frames on a SUB socket subscribed to everything."""

    scheme = "zmq"

    def __init__(self, address: str, *, bind: bool = False, options: Mapping[str, str] | None = None,
                 carries: Carries = Carries.CADUS) -> None:
        super().__init__()
        self.carries = carries
        hwm = _int_option(options, "hwm", DEFAULT_HWM, 1, 1 << 24)
        max_msg = _int_option(options, "max_msg", DEFAULT_MAX_MSG, 1, 1 << 30)
        self._sock = _socket(zmq.SUB, zmq_address(address), bind=bind, hwm=hwm, max_msg=max_msg)
        self._sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.address = self._sock.getsockopt_string(zmq.LAST_ENDPOINT) if bind else zmq_address(address)

    @property
    def url(self) -> str:
        """``zmq://HOST:PORT`` or ``zmq+ipc:///path``."""
        return link_url_of(self.address, self.scheme)

    @property
    def received(self) -> int:
        """Frames received."""
        return self.counters.frames_in

    def wait_handle(self) -> zmq.Socket:
        """The SUB socket, for a zmq.Poller that waits on several inputs."""
        return self._sock

    def _message(self, timeout_s: float) -> bytes | None:
        if not self._sock.poll(max(0, int(timeout_s * 1000)), zmq.POLLIN):
            return None
        data = self._sock.recv()
        self.counters.frames_in += 1
        self.counters.octets_in += len(data)
        return data

    def recv(self, timeout_s: float) -> ReceivedFrame | None:
        """The next frame, or None after ``timeout_s``."""
        data = self._message(timeout_s)
        return None if data is None else ReceivedFrame(data, time.time_ns(), self.carries)

    def close(self) -> None:
        """Close the socket at once (linger 0)."""
        self._sock.close(linger=0)


_CARRY = (Carries.CADUS, Carries.FRAMES, Carries.CLTUS)


def _sender(url: LinkUrl, default: Carries) -> ZmqSender:
    return ZmqSender(url.text, bind=True if url.bind is None else url.bind, options=url.options,
                     carries=url.carries(default, _CARRY))


def _receiver(url: LinkUrl, default: Carries) -> ZmqReceiver:
    return ZmqReceiver(url.text, bind=False if url.bind is None else url.bind, options=url.options,
                       carries=url.carries(default, _CARRY))


SCHEMES = (
    LinkScheme("zmq", "ZeroMQ PUB/SUB over TCP, one message per frame (options: bind, hwm, max_msg, carries)",
               _sender, _receiver, "zmq://127.0.0.1:5555"),
    LinkScheme("zmq+ipc", "ZeroMQ PUB/SUB over a Unix socket", _sender, _receiver, "zmq+ipc:///tmp/ttc-down"),
)
