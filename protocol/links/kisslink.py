"""KISS over TCP: ``kiss+tcp://HOST:PORT`` for TNCs (Dire Wolf, a radio's KISS port) and gr-satellites.

By default both a sender and a receiver connect: a KISS TNC, and gr-satellites' ``kiss_server_sink``,
are TCP servers. ``?bind=1`` listens instead and serves every client that connects (what a TNC-side
program, or a test, needs). ``?port=N`` sends on TNC port N (0..15) and receives only from it.

One frame per KISS data frame (:mod:`protocol.kiss`); gr-satellites' timestamp control frame becomes the
frame's ``meta["kiss_timestamp_ms"]`` and its earth-receive time. A connection that drops is made again
(with back-off from 0.2 s to 2 s) and counted (``counters.reconnects``); a frame cut off by the drop,
or a broken one, is counted as rejected; a frame sent while no peer is connected is dropped and counted,
like a radio transmitting into nothing. Nothing is lost silently and nothing blocks the caller.

The TCP socket lives on a small I/O thread of this endpoint (a reconnect replaces the socket, which a
caller's poller could not follow); the caller waits on :meth:`KissTcpLink.wait_handle`, the read end of
a pipe that the thread writes to whenever a frame is ready. Queues both ways are bounded.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping

from ..errors import LocalProtocolError
from ..kiss import KissDecoder, KissFrame, KissRejected, encode_frame
from . import LAYER, Carries, FrameReceiver, FrameSender, LinkScheme, LinkUrl, ReceivedFrame

__all__ = ["KissTcpSender", "KissTcpReceiver", "SCHEMES", "DEFAULT_QUEUE"]

log = logging.getLogger("link.kiss")
DEFAULT_QUEUE = 1000  # frames waiting either way; beyond, dropped and counted
_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
_RECV_OCTETS = 1 << 16


class KissTcpLink:
    """The shared machinery of a KISS-over-TCP endpoint: the I/O thread, its queues and its counters."""

    def __init__(self, host: str, port: int, *, bind: bool, tnc_port: int, queue: int, owner: FrameSender | FrameReceiver,
                 receive: bool) -> None:
        self.host, self.port, self.bind, self.tnc_port = host, port, bind, tnc_port
        self._owner = owner
        self._receive = receive
        self._inbox: deque[ReceivedFrame] = deque()
        self._outbox: deque[bytes] = deque()
        self._queue = queue
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready_r, self._ready_w = os.pipe()  # the thread -> the caller: frames are in the inbox
        self._wake_r, self._wake_w = os.pipe()  # the caller -> the thread: frames are in the outbox, or stop
        for fd in (self._ready_r, self._ready_w, self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        self._listener: socket.socket | None = None
        if bind:  # bind here, not on the thread, so a port in use is the caller's error at once
            self._listener = socket.create_server((host, port), reuse_port=False)
            self._listener.setblocking(False)
            self.port = self._listener.getsockname()[1]
        self.connected = 0  # peers connected now
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"kiss+tcp {host}:{self.port}", daemon=True)
        self._thread.start()

    # -- the caller's side --
    def put(self, frame: bytes) -> None:
        with self._lock:
            if len(self._outbox) >= self._queue or not self.connected:
                self._owner.counters.dropped += 1
                return
            self._outbox.append(encode_frame(frame, port=self.tnc_port))
        self._poke(self._wake_w)

    def take(self, timeout_s: float) -> ReceivedFrame | None:
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            with self._lock:
                if self._inbox:
                    return self._inbox.popleft()
                _drain(self._ready_r)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            select.select([self._ready_r], [], [], left)

    def close(self) -> None:
        self._stop.set()
        self._poke(self._wake_w)
        self._thread.join(5.0)
        for fd in (self._ready_r, self._ready_w, self._wake_r, self._wake_w):
            os.close(fd)

    # -- the I/O thread --
    def _run(self) -> None:
        try:
            if self._listener is not None:
                self._session([], listener=self._listener)
            else:
                self._connect_loop()
        except Exception as e:  # an I/O thread must not die silently: say why, and the counters show it
            self.last_error = f"{type(e).__name__}: {e}"
            log.exception("kiss+tcp %s:%d I/O thread stopped", self.host, self.port)
        finally:
            if self._listener is not None:
                self._listener.close()

    def _connect_loop(self) -> None:
        attempt = 0
        ever = False
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError as e:
                self.last_error = f"connect to {self.host}:{self.port}: {e}"
                self._stop.wait(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
                attempt += 1
                continue
            attempt = 0
            if ever:
                self._owner.counters.reconnects += 1
                log.info("kiss+tcp: connected again to %s:%d", self.host, self.port)
            ever = True
            self._session([sock])

    def _session(self, socks: list[socket.socket], *, listener: socket.socket | None = None) -> None:
        """Move octets until the stop event (or, when connecting, until the peer goes away)."""
        decoders = {s: KissDecoder() for s in socks}
        for s in socks:
            s.setblocking(False)
        with self._lock:
            self.connected = len(socks)
        pending: dict[socket.socket, bytearray] = {s: bytearray() for s in socks}
        try:
            while not self._stop.is_set():
                if listener is None and not socks:
                    return
                self._take_outbox(pending)
                readers = [*socks, self._wake_r] + ([listener] if listener is not None else [])
                writers = [s for s in socks if pending[s]]
                readable, writable, _ = select.select(readers, writers, [], 0.5)
                if self._wake_r in readable:
                    _drain(self._wake_r)
                if listener is not None and listener in readable:
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        conn = None
                    if conn is not None:
                        conn.setblocking(False)
                        socks.append(conn)
                        decoders[conn] = KissDecoder()
                        pending[conn] = bytearray()
                        with self._lock:
                            self.connected = len(socks)
                for s in writable:
                    try:
                        sent = s.send(pending[s])
                        del pending[s][:sent]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self._drop(s, socks, decoders, pending)
                for s in [s for s in readable if s in decoders]:
                    try:
                        data = s.recv(_RECV_OCTETS)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self._drop(s, socks, decoders, pending)
                        continue
                    self._decoded(decoders[s], data)
        finally:
            for s in list(socks):
                self._drop(s, socks, decoders, pending, log_it=False)

    def _take_outbox(self, pending: dict[socket.socket, bytearray]) -> None:
        with self._lock:
            frames, self._outbox = list(self._outbox), deque()
        if not frames:
            return
        if not pending:
            self._owner.counters.dropped += len(frames)
            return
        octets = b"".join(frames)
        for buf in pending.values():  # to every peer, like a radio
            buf += octets
        self._owner.counters.frames_out += len(frames)
        self._owner.counters.octets_out += len(octets)

    def _decoded(self, decoder: KissDecoder, data: bytes) -> None:
        decoder.feed(data)
        got = False
        for ev in decoder.events():
            if isinstance(ev, KissRejected):
                self._owner.counters.rejected += 1
                self.last_error = f"{ev.reason} at stream offset {ev.offset}"
            elif isinstance(ev, KissFrame) and self._receive and ev.port == self.tnc_port:
                ert = ev.timestamp_ms * 1_000_000 if ev.timestamp_ms is not None else time.time_ns()
                meta = None if ev.timestamp_ms is None else {"kiss_timestamp_ms": ev.timestamp_ms}
                with self._lock:
                    if len(self._inbox) >= self._queue:
                        self._owner.counters.dropped += 1
                        continue
                    self._inbox.append(ReceivedFrame(ev.data, ert, self._owner.carries, meta))
                self._owner.counters.frames_in += 1
                self._owner.counters.octets_in += len(ev.data)
                got = True
        if got:
            self._poke(self._ready_w)

    def _drop(self, s: socket.socket, socks: list[socket.socket], decoders: dict, pending: dict, *,
              log_it: bool = True) -> None:
        decoder = decoders.pop(s, None)
        if decoder is not None:
            decoder.close()  # a frame cut off by the drop is counted as rejected
            for ev in decoder.events():
                if isinstance(ev, KissRejected):
                    self._owner.counters.rejected += 1
        lost = pending.pop(s, b"")
        if lost:
            self.last_error = f"connection lost with {len(lost)} octets unsent"
        if s in socks:
            socks.remove(s)
        with self._lock:
            self.connected = len(socks)
        if log_it:
            log.warning("kiss+tcp %s:%d: connection lost", self.host, self.port)
        s.close()

    @staticmethod
    def _poke(fd: int) -> None:
        try:
            os.write(fd, b"!")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the reader is awake anyway


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, OSError):
        pass


class _KissTcpEndpoint:
    """What a KISS-over-TCP sender and receiver share: the link machinery, its URL, peers and close."""

    scheme = "kiss+tcp"
    _receive = False

    def __init__(self, host: str, port: int, *, bind: bool = False, tnc_port: int = 0, queue: int = DEFAULT_QUEUE,
                 carries: Carries = Carries.CADUS) -> None:
        super().__init__()  # type: ignore[call-arg]  # Link.__init__: the counters
        self.carries = carries
        self._link = KissTcpLink(host, port, bind=bind, tnc_port=tnc_port, queue=queue, owner=self,  # type: ignore[arg-type]
                                 receive=self._receive)

    @property
    def url(self) -> str:
        """``kiss+tcp://HOST:PORT`` (a bound port filled in)."""
        return f"kiss+tcp://{self._link.host}:{self._link.port}"

    @property
    def connected(self) -> int:
        """Peers connected now."""
        return self._link.connected

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt or frame failed (None: nothing yet)."""
        return self._link.last_error

    def close(self) -> None:
        """Stop the I/O thread and close the connection."""
        self._link.close()


class KissTcpSender(_KissTcpEndpoint, FrameSender):
    """Sends each frame as one KISS data frame to the TNC (or to every client, when bound)."""

    def send(self, frame: bytes) -> None:
        """Queue one frame for the TNC; dropped (and counted) when no peer is connected or the queue is full."""
        self._link.put(frame)


class KissTcpReceiver(_KissTcpEndpoint, FrameReceiver):
    """Receives KISS data frames from the TNC (or from every client, when bound)."""

    _receive = True

    def wait_handle(self) -> int:
        """A file descriptor that turns readable when a frame is ready."""
        return self._link._ready_r

    def recv(self, timeout_s: float) -> ReceivedFrame | None:
        """The next frame, or None after ``timeout_s``."""
        return self._link.take(timeout_s)


def _options(url: LinkUrl) -> tuple[str, int, dict[str, object]]:
    host, port = url.host_port("kiss+tcp://HOST:PORT")
    opts: Mapping[str, str] = url.options
    tnc = opts.get("port", "0")
    if not tnc.isdigit() or not 0 <= int(tnc) <= 15:
        raise LocalProtocolError(LAYER, "port (TNC port)", tnc, "0..15")
    queue = opts.get("queue", str(DEFAULT_QUEUE))
    if not queue.isdigit() or not 1 <= int(queue) <= 1 << 20:
        raise LocalProtocolError(LAYER, "queue", queue, f"1..{1 << 20}")
    return host, port, {"bind": bool(url.bind), "tnc_port": int(tnc), "queue": int(queue)}


_CARRY = (Carries.CADUS, Carries.FRAMES, Carries.CLTUS)


def _sender(url: LinkUrl, default: Carries) -> KissTcpSender:
    host, port, kw = _options(url)
    return KissTcpSender(host, port, carries=url.carries(default, _CARRY), **kw)  # type: ignore[arg-type]


def _receiver(url: LinkUrl, default: Carries) -> KissTcpReceiver:
    host, port, kw = _options(url)
    return KissTcpReceiver(host, port, carries=url.carries(default, _CARRY), **kw)  # type: ignore[arg-type]


SCHEMES = (LinkScheme("kiss+tcp", "KISS frames over TCP, to a TNC or gr-satellites' KISS server (connects; options: "
                                  "bind, port=TNC port, queue, carries)", _sender, _receiver,
                      "kiss+tcp://127.0.0.1:8001"),)
