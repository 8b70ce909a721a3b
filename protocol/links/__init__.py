"""The I/O edge: adapters that move whole frames (CADUs down, CLTUs up) between processes.

Every adapter is one of two small interfaces, chosen by URL with
:func:`open_sender` / :func:`open_receiver`:

* ``zmq://HOST:PORT`` -- ZeroMQ PUB/SUB over TCP (loopback in tests), or
  ``zmq+ipc:///path/to/socket``. One message = one frame. Like a radio:
  a broadcast that several receivers may listen to, no back-pressure, and a
  frame sent while nobody listens is gone. Add ``?bind=1`` on the side that
  binds (by default senders bind and receivers connect).
* ``file:///path/recording.ttcrec`` -- a recording (:mod:`protocol.links.recording`):
  a sender appends frames with their earth-receive time; a receiver replays them.

A :class:`FrameReceiver` returns a :class:`ReceivedFrame` (octets plus
earth-receive time) or None when its timeout passes; nothing blocks forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from ..errors import LocalProtocolError

__all__ = ["ReceivedFrame", "FrameSender", "FrameReceiver", "open_sender", "open_receiver", "LinkUrl", "parse_url"]

LAYER = "link"


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One whole frame as received, with its earth-receive time (UTC, nanoseconds since 1970)."""

    data: bytes
    ert_ns: int


class FrameSender(Protocol):
    """Sends whole frames; never blocks on a missing or slow receiver."""

    def send(self, frame: bytes) -> None:
        """Send one whole frame (dropped, and counted, when it cannot go out now)."""

    def close(self) -> None:
        """Release the endpoint."""


class FrameReceiver(Protocol):
    """Receives whole frames."""

    def recv(self, timeout_s: float) -> ReceivedFrame | None:
        """The next frame, or None when ``timeout_s`` passes without one."""

    def close(self) -> None:
        """Release the endpoint."""


@dataclass(frozen=True, slots=True)
class LinkUrl:
    """A parsed link URL."""

    scheme: str  # "zmq", "zmq+ipc" or "file"
    address: str  # "tcp://127.0.0.1:5555", "ipc:///tmp/x" or a file path
    bind: bool | None  # None: the adapter's default
    options: dict[str, str]


def parse_url(url: str) -> LinkUrl:
    """Split a link URL into scheme, transport address and options."""
    parts = urlsplit(url)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    bind_opt = options.pop("bind", None)
    bind = None if bind_opt is None else bind_opt.lower() in ("1", "true", "yes")
    if parts.scheme == "zmq":
        if not parts.hostname or parts.port is None:
            raise LocalProtocolError(LAYER, "url", url, "zmq://HOST:PORT")
        return LinkUrl("zmq", f"tcp://{parts.hostname}:{parts.port}", bind, options)
    if parts.scheme == "zmq+ipc":
        return LinkUrl("zmq+ipc", f"ipc://{parts.path}", bind, options)
    if parts.scheme == "file":
        if not parts.path:
            raise LocalProtocolError(LAYER, "url", url, "file:///path/to/recording")
        return LinkUrl("file", parts.path, bind, options)
    raise LocalProtocolError(LAYER, "url scheme", parts.scheme, "zmq, zmq+ipc or file")


def open_sender(url: str) -> FrameSender:
    """A frame sender for ``url``."""
    link = parse_url(url)
    if link.scheme == "file":
        from .recording import RecordingWriter

        return RecordingWriter(link.address)
    from .zmqlink import ZmqSender

    return ZmqSender(link.address, bind=True if link.bind is None else link.bind, options=link.options)


def open_receiver(url: str) -> FrameReceiver:
    """A frame receiver for ``url``."""
    link = parse_url(url)
    if link.scheme == "file":
        from .recording import RecordingReader

        return RecordingReader(link.address, realtime=link.options.get("realtime", "0") in ("1", "true"))
    from .zmqlink import ZmqReceiver

    return ZmqReceiver(link.address, bind=False if link.bind is None else link.bind, options=link.options)
