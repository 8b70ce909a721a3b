"""The I/O edge: adapters that move link data (CADUs down, CLTUs up) between processes, chosen by URL.

One small interface for every adapter, and a registry of URL schemes instead of if/else on prefixes:
an adapter is one module that declares its :class:`LinkScheme` (``SCHEMES``) and one line in
:data:`BUILTIN_SCHEMES`; :func:`register_scheme` adds one at run time. :func:`open_sender` and
:func:`open_receiver` look the scheme up; :func:`schemes` lists them for ``--help`` texts and errors.

Built in:

* ``zmq://HOST:PORT``, ``zmq+ipc:///path`` -- ZeroMQ PUB/SUB, one message = one frame
  (:mod:`protocol.links.zmqlink`). Like a radio: a broadcast that several receivers may listen to,
  no back-pressure, and a frame sent while nobody listens is gone.
* ``file:///path/recording.ttcrec`` -- a recording (:mod:`protocol.links.recording`): a sender appends
  frames with their earth-receive time; a receiver replays them (``?realtime=1`` at their pace).
* ``gr+zmq://HOST:PORT`` -- GNU Radio PDUs (a PMT pair of a metadata dictionary and a u8vector) over
  ZeroMQ PUB/SUB, so a flowgraph's ``pub_msg_sink`` / ``sub_msg_source`` replaces either side of the
  ZeroMQ hop (:mod:`protocol.links.grzmq`).
* ``kiss+tcp://HOST:PORT`` -- KISS frames over TCP, as TNCs and gr-satellites' KISS server speak them
  (:mod:`protocol.links.kisslink`).

Common URL options: ``bind=1`` / ``bind=0`` (by default senders bind, receivers connect) and
``carries=cadus|frames|cltus`` where a link can carry either (a flowgraph that already synchronised,
derandomised and RS-decoded the frames hands over ``frames``).

Every link says what it :attr:`~Link.carries`, gives the :attr:`~Link.url` a peer uses to reach it
(an ephemeral port filled in), counts what it moved and refused (:class:`LinkCounters`), and exposes
:meth:`~Link.wait_handle`: a ZeroMQ socket or a file descriptor that a ``zmq.Poller`` waits on, or
None for a link with nothing to wait on (a recording: poll it, see :attr:`FrameReceiver.waiting`).
A receiver returns a :class:`ReceivedFrame` or None when its timeout passes; nothing blocks forever.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import LocalProtocolError

__all__ = [
    "Carries",
    "ReceivedFrame",
    "LinkCounters",
    "Link",
    "FrameSender",
    "FrameReceiver",
    "LinkUrl",
    "LinkScheme",
    "BUILTIN_SCHEMES",
    "parse_url",
    "register_scheme",
    "schemes",
    "open_sender",
    "open_receiver",
]

LAYER = "link"


class Carries(enum.Enum):
    """What the octets of a link's messages are."""

    CADUS = "cadus"  # attached sync marker + (RS-coded, randomised) codeblock, CCSDS 131.0-B-5 section 9
    FRAMES = "frames"  # transfer frames already synchronised, derandomised and decoded (132.0-B-3 / 732.0-B-4)
    CLTUS = "cltus"  # communications link transmission units, CCSDS 231.0-B-4 section 5
    SAMPLES = "samples"  # complex64 baseband samples (IQ)

    @classmethod
    def parse(cls, text: str) -> Carries:
        """The member named ``text`` (``cadus``, ``frames``, ...), or a typed error listing them."""
        try:
            return cls(text.lower())
        except ValueError:
            raise LocalProtocolError(LAYER, "carries", text, ", ".join(c.value for c in cls)) from None


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """One whole message as received, with its earth-receive time (UTC, nanoseconds since 1970).

    ``carries`` says what ``data`` is (a GNU Radio link may hand over whole CADUs or decoded frames);
    ``meta`` is what the radio attached (gr-satellites' RS corrections, sync-word errors, its own time),
    kept as received (None: nothing attached).
    """

    data: bytes
    ert_ns: int
    carries: Carries = Carries.CADUS
    meta: Mapping[str, Any] | None = None


@dataclass
class LinkCounters:
    """What one link endpoint moved and refused."""

    frames_in: int = 0
    octets_in: int = 0
    frames_out: int = 0
    octets_out: int = 0
    dropped: int = 0  # frames a sender could not send now (full queue, no peer connected)
    rejected: int = 0  # messages a receiver refused (not in its framing, too long, damaged)
    reconnects: int = 0  # connections a stream link (TCP) lost and made again

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class Link:
    """What every link endpoint has: its scheme, what it carries, its URL for peers, counters, a wait handle."""

    scheme: str = ""
    carries: Carries = Carries.CADUS

    def __init__(self) -> None:
        self.counters = LinkCounters()

    @property
    def url(self) -> str:
        """The URL a peer uses to reach this endpoint (a bound ephemeral port filled in)."""
        raise NotImplementedError

    def wait_handle(self) -> Any | None:
        """A ZeroMQ socket or file descriptor a ``zmq.Poller`` can wait on, or None: poll this link instead."""
        return None

    def close(self) -> None:
        """Release the endpoint."""

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameSender(Link):
    """Sends whole frames; never blocks on a missing or slow receiver."""

    def send(self, frame: bytes) -> None:
        """Send one whole frame (dropped, and counted, when it cannot go out now)."""
        raise NotImplementedError


class FrameReceiver(Link):
    """Receives whole frames."""

    #: True when the last :meth:`recv` returned None only because the next frame is not due yet
    #: (a recording replayed at its own pace); a loop with no wait handle then waits a little.
    waiting: bool = False

    def recv(self, timeout_s: float) -> ReceivedFrame | None:
        """The next frame, or None when ``timeout_s`` passes without one."""
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        """True when no frame will ever come again (a recording replayed to its end)."""
        return False


@dataclass(frozen=True, slots=True)
class LinkUrl:
    """A parsed link URL: scheme, host and port or path, and the query options."""

    scheme: str
    host: str | None
    port: int | None
    path: str
    bind: bool | None  # None: the adapter's default (senders bind, receivers connect)
    options: Mapping[str, str]
    text: str  # the URL as given

    def host_port(self, form: str) -> tuple[str, int]:
        """(host, port), or a typed error naming the ``form`` the scheme expects."""
        if not self.host or self.port is None:
            raise LocalProtocolError(LAYER, "url", self.text, form)
        return self.host, self.port

    def carries(self, default: Carries, allowed: tuple[Carries, ...]) -> Carries:
        """The ``carries=`` option, checked against what this scheme can carry."""
        text = self.options.get("carries")
        if text is None:
            return default
        value = Carries.parse(text)
        if value not in allowed:
            raise LocalProtocolError(LAYER, "carries", text, ", ".join(c.value for c in allowed))
        return value


def parse_url(url: str) -> LinkUrl:
    """Split a link URL into scheme, host/port or path, bind and the other options (the scheme unchecked)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise LocalProtocolError(LAYER, "url", url, f"SCHEME://HOST:PORT or SCHEME:///path ({e})") from e
    if not parts.scheme:
        raise LocalProtocolError(LAYER, "url", url, "SCHEME://... with a scheme of " + ", ".join(schemes()))
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    bind_opt = options.pop("bind", None)
    bind = None if bind_opt is None else bind_opt.lower() in ("1", "true", "yes")
    return LinkUrl(parts.scheme.lower(), parts.hostname, port, parts.path, bind, MappingProxyType(options), url)


@dataclass(frozen=True)
class LinkScheme:
    """One URL scheme: how to open its senders and receivers, and one line saying what it is."""

    name: str
    summary: str
    #: (parsed URL, what the caller says it moves unless the URL's ``carries=`` says otherwise) -> a link
    open_sender: Callable[[LinkUrl, Carries], FrameSender] | None
    open_receiver: Callable[[LinkUrl, Carries], FrameReceiver] | None
    example: str = field(default="")


#: scheme -> the module that declares it (imported when the scheme is first used)
BUILTIN_SCHEMES: Mapping[str, str] = MappingProxyType({
    "zmq": "protocol.links.zmqlink",
    "zmq+ipc": "protocol.links.zmqlink",
    "file": "protocol.links.recording",
    "gr+zmq": "protocol.links.grzmq",
    "kiss+tcp": "protocol.links.kisslink",
})

_registry: dict[str, LinkScheme] = {}


def register_scheme(scheme: LinkScheme) -> None:
    """Add (or replace) a URL scheme."""
    _registry[scheme.name] = scheme


def _scheme(name: str, url: str) -> LinkScheme:
    if name not in _registry and name in BUILTIN_SCHEMES:
        module = importlib.import_module(BUILTIN_SCHEMES[name])
        for s in getattr(module, "SCHEMES", ()):
            _registry.setdefault(s.name, s)
    found = _registry.get(name)
    if found is None:
        raise LocalProtocolError(LAYER, "url scheme", name, ", ".join(schemes()) + f" (in {url!r})")
    return found


def schemes() -> list[str]:
    """The URL schemes a link can be opened with."""
    return sorted(set(BUILTIN_SCHEMES) | set(_registry))


def describe_schemes() -> list[tuple[str, str, str]]:
    """(scheme, example URL, what it is) for every scheme, built-in ones loaded."""
    out = []
    for name in schemes():
        s = _scheme(name, name)
        out.append((name, s.example, s.summary))
    return out


def open_sender(url: str, *, carries: Carries = Carries.CADUS) -> FrameSender:
    """A frame sender for ``url``, moving ``carries`` unless the URL's ``carries=`` option says otherwise."""
    link = parse_url(url)
    scheme = _scheme(link.scheme, url)
    if scheme.open_sender is None:
        raise LocalProtocolError(LAYER, "url scheme", link.scheme, "a scheme that can send (it only receives)")
    return scheme.open_sender(link, carries)


def open_receiver(url: str, *, carries: Carries = Carries.CADUS) -> FrameReceiver:
    """A frame receiver for ``url``, taking ``carries`` unless the URL's ``carries=`` option says otherwise."""
    link = parse_url(url)
    scheme = _scheme(link.scheme, url)
    if scheme.open_receiver is None:
        raise LocalProtocolError(LAYER, "url scheme", link.scheme, "a scheme that can receive (it only sends)")
    return scheme.open_receiver(link, carries)
