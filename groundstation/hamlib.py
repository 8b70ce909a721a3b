"""Blocking clients for hamlib's network daemons: ``rotctld`` (antenna rotator) and ``rigctld`` (radio).

The subset of the protocol used, and why (commands as in the rotctld(1) and rigctld(1) man pages, hamlib 4.5):

* Every command is sent with the ``+`` prefix, the man pages' *Extended Response Protocol*: the reply echoes the
  command's long name and arguments (``set_pos: 10.000000 5.000000``), gives each value as a ``Key: value``
  record (``Azimuth: 10.00``) and always ends with ``RPRT n``. Replies are therefore framed and self-describing,
  so they are parsed strictly line by line: the echo must be ours, the values must be the ones asked for, and
  anything else is a :class:`GarbledReply` raised as soon as the offending line arrives, not at a timeout. The
  *Default Protocol* has neither a header nor an end marker on get replies (``p`` answers two bare numbers, or
  one ``RPRT -n`` line instead on error), which leaves a client guessing where a reply ends.
* rotctld: ``P``/set_pos, ``p``/get_pos, ``S``/stop, ``K``/park, ``_``/get_info. Nothing else: ``M``/move and
  the levels are manual-control conveniences a tracker has no use for.
* rigctld: ``F``/set_freq and ``f``/get_freq for the receive (downlink) VFO; ``S``/set_split_vfo
  ``1 VFOB`` once, then ``I``/set_split_freq and ``i``/get_split_freq for the transmit (uplink) VFO. Split is
  what makes a transceiver receive on one VFO while transmitting on another, which a satellite pass needs (the
  two Doppler-corrected frequencies differ); ``S 1 VFOB`` is what the dummy rig (model 1) accepts (``s`` then
  reports ``Split: 1``, ``TX VFO: VFOB``), and ``split_tx_vfo=`` takes another of the man page's tokens
  (``Sub``, ``TX`` ...) for rigs that name their VFOs differently. Split is enabled on the first uplink call,
  not on connecting: a receive-only station never changes its rig's split setting.
* rigctld: ``\\chk_vfo`` on every connection. In VFO mode (``rigctld -o``/``--vfo``) every command takes a VFO
  argument first, so ``F 145800000`` would swallow the next line as its frequency and the stream would be out
  of step; the client refuses such a daemon instead. It is sent without ``+``, as hamlib's own NET rigctl
  backend sends it, because its reply is the one with neither echo nor ``RPRT``: a single line, ``0`` from
  rigctld 4.5 (``ChkVFO: 0`` when sent with ``+``, ``CHKVFO 0`` from older daemons; all three are accepted).
  rotctld does not answer it at all, so a Radio pointed at a rotctld port times out saying so.
* Frequencies go on the wire as integers in Hz (``get_freq`` answers an integer), positions as ``%.6f``
  degrees. Values are checked before sending: the dummy rotator answers ``RPRT 0`` to ``P nan 10`` and the
  dummy rig to ``F 1e20`` (then reports -9223372036854775808 Hz), so the daemons cannot be relied on to refuse
  them. Position limits are the daemon's business (``rotctld -C max_el=180`` widens them for flip mode) and are
  not duplicated here.

Connections are never lost silently. A broken socket, an end of file or a reply that does not arrive within
``timeout_s`` (after which the stream cannot be trusted to be in step) closes the connection; the client then
reconnects, retrying with a short backoff for up to ``reconnect_s``, resends the command once, counts it in
``counters`` and records it in ``events`` (and passes it to ``on_event``). If it cannot reconnect in time it raises
:class:`HamlibUnavailable` (no attempt starts after ``reconnect_s``; one under way may take ``timeout_s``). The
constructor connects the same way, so a client started together with its daemon waits for it. Set commands are
idempotent, so resending one is safe; a rigctld session's split setting is replayed on the new connection before
the command is resent (a restarted daemon forgets it).

The protocol pieces (:class:`Command`, :class:`LineSplitter`, :class:`ReplyParser`) touch no socket; the
clients own the loop. A client is not thread-safe: use one per thread.
"""

from __future__ import annotations

import math
import operator
import re
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Self, TypeVar

ROTCTLD_PORT = 4533  # rotctld(1): "-t, --port=NUM ... default 4533"
RIGCTLD_PORT = 4532  # rigctld(1): "-t, --port=NUM ... default 4532"
MAX_LINE_BYTES = 1024  # a reply line longer than this is garbage, not a slow reply
MAX_RECORDS = 16  # Key: value records in one reply; the commands used here return at most two
EVENTS_KEPT = 100
MAX_FREQ_HZ = 10**12  # 1 THz: far above any rig, and well inside a double's exact integers (hamlib's freq_t)
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 0.5

#: hamlib's ``enum rig_errcode_e`` (include/hamlib/rig.h, 4.5); ``RPRT n`` carries its negative.
HAMLIB_ERROR_NAMES: dict[int, str] = {
    1: "invalid parameter", 2: "invalid configuration", 3: "memory shortage", 4: "function not implemented",
    5: "communication timed out", 6: "IO error", 7: "internal hamlib error", 8: "protocol error",
    9: "command rejected by the rig", 10: "argument truncated", 11: "function not available",
    12: "VFO not targetable", 13: "bus error", 14: "bus collision", 15: "invalid argument", 16: "invalid VFO",
    17: "argument out of domain", 18: "function deprecated", 19: "security error", 20: "rig not powered on",
    21: "limit exceeded", 22: "access denied",
}

#: TX VFO tokens rigctld(1) lists under set_split_vfo.
SPLIT_TX_VFOS = frozenset({"VFOA", "VFOB", "VFOC", "currVFO", "VFO", "MEM", "Main", "Sub", "TX", "RX"})

_RPRT = re.compile(r"RPRT (-?\d+)")
_RECORD = re.compile(r"([A-Za-z][A-Za-z0-9 _()/.-]*): ?(.*)")
_DECIMAL = re.compile(r"[-+]?\d+(?:\.\d+)?")  # how hamlib prints a float with %f / %.2f
_INTEGER = re.compile(r"\d+")
_CHK_VFO = re.compile(r"(?:ChkVFO: |CHKVFO )?([01])")
_T = TypeVar("_T")


class HamlibError(Exception):
    """A hamlib daemon refused a command, answered it with garbage, or could not be reached."""

    def __init__(self, message: str, *, daemon: str, address: str, command: str, code: int | None = None) -> None:
        super().__init__(message)
        self.daemon = daemon  # "rotctld" or "rigctld"
        self.address = address  # "host:port"
        self.command = command  # the command as sent, without the "+" prefix, e.g. "P 500.000000 10.000000"
        self.code = code  # the RPRT code (negative hamlib error), or None when there was none


class GarbledReply(HamlibError):
    """The daemon's reply did not follow the Extended Response Protocol (``reply`` holds what came back)."""

    def __init__(self, message: str, *, daemon: str, address: str, command: str, reply: str) -> None:
        super().__init__(message, daemon=daemon, address=address, command=command)
        self.reply = reply


class HamlibUnavailable(HamlibError):
    """The daemon could not be reached (or reached again) within ``reconnect_s``."""


class ProtocolViolation(Exception):
    """Bytes that are not an Extended Response Protocol reply (``text`` is the offending part, as received)."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text}")
        self.reason = reason
        self.text = text


@dataclass(frozen=True)
class Command:
    """One hamlib command: its one-letter form, its long name (echoed in the reply) and its arguments."""

    short: str
    long_name: str
    args: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The command as a person would type it: ``P 10.000000 5.000000``."""
        return " ".join((self.short, *self.args))

    @property
    def header(self) -> str:
        """The first line of the reply, the daemon's echo: ``set_pos: 10.000000 5.000000``."""
        return " ".join((f"{self.long_name}:", *self.args))

    @property
    def wire(self) -> bytes:
        """The command as sent: ``+`` for the Extended Response Protocol, newline-terminated."""
        return f"+{self.text}\n".encode("ascii")


@dataclass(frozen=True)
class Reply:
    """One Extended Response Protocol reply: the echo (None if the daemon only sent RPRT), records and RPRT code."""

    header: str | None
    records: tuple[tuple[str, str], ...]
    code: int


class LineSplitter:
    """Splits a byte stream into ASCII lines ending in ``\\n``, refusing a line longer than ``max_line_bytes``."""

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._buffer = bytearray()
        self._max_line_bytes = max_line_bytes

    def receive_data(self, data: bytes) -> None:
        """Append bytes received from the daemon."""
        self._buffer += data

    def next_line(self) -> str | None:
        """The next complete line without its terminator, or None until one has arrived."""
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > self._max_line_bytes:
                raise ProtocolViolation(f"a line longer than {self._max_line_bytes} bytes",
                                        repr(bytes(self._buffer[:80])) + "...")
            return None
        raw = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        if len(raw) > self._max_line_bytes:
            raise ProtocolViolation(f"a line longer than {self._max_line_bytes} bytes", repr(raw[:80]) + "...")
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ProtocolViolation("a line that is not ASCII text", repr(raw)) from exc

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet returned as a line."""
        return bytes(self._buffer)


class ReplyParser:
    """Assembles the reply to one command from its lines: the echo, ``Key: value`` records, then ``RPRT n``."""

    def __init__(self, command: Command, *, max_records: int = MAX_RECORDS) -> None:
        self._command = command
        self._max_records = max_records
        self._header_seen = False
        self._records: list[tuple[str, str]] = []

    def feed_line(self, line: str) -> Reply | None:
        """Take one line; the Reply once its ``RPRT`` line has arrived, None before."""
        rprt = _RPRT.fullmatch(line)
        if not self._header_seen:
            if line == self._command.header:
                self._header_seen = True
                return None
            if rprt and int(rprt[1]) < 0:  # an error acknowledged without an echo is still a framed reply
                return Reply(header=None, records=(), code=int(rprt[1]))
            raise ProtocolViolation(f"expected the echo {self._command.header!r}", repr(line))
        if rprt:
            return Reply(header=self._command.header, records=tuple(self._records), code=int(rprt[1]))
        record = _RECORD.fullmatch(line)
        if record is None or line.startswith("RPRT"):
            raise ProtocolViolation("expected a 'Key: value' record or 'RPRT n'", repr(line))
        if len(self._records) >= self._max_records:
            raise ProtocolViolation(f"more than {self._max_records} records", repr(line))
        self._records.append((record[1], record[2]))
        return None


def parse_chk_vfo(line: str) -> bool:
    """Whether rigctld's one-line ``\\chk_vfo`` reply says it runs in VFO mode."""
    match = _CHK_VFO.fullmatch(line)
    if match is None:
        raise ProtocolViolation("expected 0 or 1 (or 'ChkVFO: 0' / 'CHKVFO 0')", repr(line))
    return match[1] == "1"


def record(reply: Reply, key: str) -> str:
    """The value of the record ``key`` in ``reply``."""
    for name, value in reply.records:
        if name == key:
            return value
    raise ProtocolViolation(f"no {key!r} record", repr(reply.records))


def _finite_deg(name: str, value: float) -> float:
    """``value`` as a float, refused unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of degrees, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}: check the pointing computation upstream")
    return float(value)


def _freq_hz(name: str, value: int) -> int:
    """``value`` as an int number of Hz, refused unless it is a whole number in 1..MAX_FREQ_HZ."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}: check the Doppler computation upstream")
        raise TypeError(f"{name} must be a whole number of Hz (int), got {value!r}: pass round({name})")
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number of Hz (int), got {value!r}")
    try:
        hz = operator.index(value)
    except TypeError as exc:
        raise TypeError(f"{name} must be a whole number of Hz (int), got {value!r} "
                        f"({type(value).__name__})") from exc
    if not 0 < hz <= MAX_FREQ_HZ:
        raise ValueError(f"{name} must be in 1..{MAX_FREQ_HZ} Hz, got {hz}")
    return hz


def _parse_decimal(reply: Reply, key: str) -> float:
    """The record ``key`` as a float printed the way hamlib prints one."""
    text = record(reply, key)
    if not _DECIMAL.fullmatch(text):
        raise ProtocolViolation(f"{key} is not a decimal number", repr(text))
    return float(text)


def _parse_freq_hz(reply: Reply, key: str) -> int:
    """The record ``key`` as a positive integer frequency in Hz."""
    text = record(reply, key)
    if not _INTEGER.fullmatch(text) or int(text) == 0:
        raise ProtocolViolation(f"{key} is not a positive whole number of Hz", repr(text))
    return int(text)


class _DaemonClient:
    """The connection, its bounded reconnection and its bookkeeping, shared by Rotator and Radio."""

    DAEMON: ClassVar[str]
    MODEL_HINT: ClassVar[str]

    def __init__(self, host: str, port: int, *, timeout_s: float, reconnect_s: float,
                 on_event: Callable[[str], None] | None) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be an int in 1..65535, got {port!r}")
        if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a finite number of seconds > 0, got {timeout_s!r}")
        if not (isinstance(reconnect_s, (int, float)) and math.isfinite(reconnect_s) and reconnect_s >= 0):
            raise ValueError(f"reconnect_s must be a finite number of seconds >= 0, got {reconnect_s!r}")
        self.host = host
        self.port = port
        self.timeout_s = float(timeout_s)
        self.reconnect_s = float(reconnect_s)
        self.on_event = on_event
        #: commands: commands asked for (a resend is not counted twice; replays on reconnection are not counted);
        #: errors: commands the daemon refused (RPRT n < 0) or answered with garbage;
        #: reconnects: connections re-established; failures: commands lost because the daemon was unreachable.
        self.counters: dict[str, int] = {"commands": 0, "errors": 0, "reconnects": 0, "failures": 0}
        #: (time.time(), text) of connection losses, reconnections and failures, newest last.
        self.events: deque[tuple[float, str]] = deque(maxlen=EVENTS_KEPT)
        self._sock: socket.socket | None = None
        self._lines = LineSplitter()
        self._drop_reason: str | None = None  # why a still-open client has no connection
        self._closed = False
        self._connect_within(self.reconnect_s, first=True)

    @property
    def address(self) -> str:
        """``host:port`` of the daemon."""
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        """Close the connection; the client cannot be used afterwards."""
        self._closed = True
        self._disconnect()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self._sock is not None else "disconnected"
        return f"<{type(self).__name__} {self.DAEMON} {self.address} {state}>"

    # -- subclass hook ---------------------------------------------------------------------------------------

    def _on_connected(self) -> None:
        """Bring a fresh connection to the session's state (nothing by default)."""

    # -- connection ------------------------------------------------------------------------------------------

    def _event(self, text: str) -> None:
        """Record a connection event and pass it to on_event."""
        text = f"{self.DAEMON} {self.address}: {text}"
        self.events.append((time.time(), text))
        if self.on_event is not None:
            self.on_event(text)

    def _disconnect(self) -> None:
        """Close the socket, if any, and forget any partly received reply."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._lines = LineSplitter()

    def _unavailable(self, command: str, why: str) -> HamlibUnavailable:
        """The error for a daemon that cannot be reached, naming it and how to start it."""
        return HamlibUnavailable(
            f"{self.DAEMON} at {self.address} is unreachable ({why}): is {self.DAEMON} running? "
            f"({self.DAEMON} -m MODEL -t {self.port}{self.MODEL_HINT})",
            daemon=self.DAEMON, address=self.address, command=command)

    def _connect_within(self, budget_s: float, *, first: bool = False, command: str = "") -> float:
        """Connect (and run the session set-up), retrying with backoff for up to budget_s; the seconds taken."""
        started = time.monotonic()
        deadline = started + budget_s
        backoff_s = BACKOFF_FIRST_S
        attempts = 0
        while True:
            attempts += 1
            try:
                # no new attempt starts after budget_s, but one under way may take its full timeout_s: a
                # remote daemon gets a fair chance to answer even when budget_s is 0 (a single attempt)
                self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._lines = LineSplitter()
                self._on_connected()
                return time.monotonic() - started
            except OSError as exc:  # refused, reset or timed out: the daemon may be (re)starting, try again
                self._disconnect()
                last = exc
            except BaseException:  # e.g. rigctld in VFO mode refused the session: retrying will not help
                self._disconnect()
                raise
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                what = "connecting" if first else "reconnecting"
                raise self._unavailable(
                    command, f"{what} failed {attempts} times in {budget_s:g} s, last: {_describe(last)}") from last
            time.sleep(min(backoff_s, remaining_s))
            backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)

    def _read_line(self, deadline: float) -> str:
        """The next line from the daemon, waiting no later than deadline (time.monotonic())."""
        sock = self._sock
        if sock is None:
            raise ConnectionError("not connected")
        while (line := self._lines.next_line()) is None:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise TimeoutError(f"no complete reply within {self.timeout_s:g} s")
            sock.settimeout(remaining_s)
            try:
                data = sock.recv(4096)
            except TimeoutError as exc:
                raise TimeoutError(f"no complete reply within {self.timeout_s:g} s") from exc
            if not data:
                raise ConnectionError("the daemon closed the connection")
            self._lines.receive_data(data)
        return line

    def _exchange(self, command: Command) -> Reply:
        """Send one command and read its reply on the current connection (no reconnection, no bookkeeping)."""
        sock = self._sock
        if sock is None:
            raise ConnectionError("not connected")
        deadline = time.monotonic() + self.timeout_s
        sock.settimeout(self.timeout_s)
        sock.sendall(command.wire)
        parser = ReplyParser(command)
        while (reply := parser.feed_line(self._read_line(deadline))) is None:
            pass
        if self._lines.pending:
            raise ProtocolViolation("bytes after the RPRT line", repr(self._lines.pending))
        return reply

    def _garbled(self, command: Command, exc: ProtocolViolation) -> GarbledReply:
        """The error for a reply that broke the protocol; the connection is dropped to get back in step."""
        self._disconnect()
        self._drop_reason = f"garbled reply to {command.text!r}"
        self._event(f"garbled reply to {command.text!r} ({exc.reason}: {exc.text}); dropped the connection")
        return GarbledReply(
            f"{self.DAEMON} {self.address} answered {command.text!r} with a garbled reply ({exc.reason}): "
            f"{exc.text}; is {self.address} really {self.DAEMON} from hamlib 4 (not another service)?",
            daemon=self.DAEMON, address=self.address, command=command.text, reply=exc.text)

    def _rejected(self, command: Command, code: int) -> HamlibError:
        """The error for a command the daemon answered with RPRT code < 0."""
        name = HAMLIB_ERROR_NAMES.get(-code, "unknown hamlib error")
        return HamlibError(
            f"{self.DAEMON} {self.address} refused {command.text!r}: RPRT {code} ({name}); "
            f"{self._hint(command, code)}",
            daemon=self.DAEMON, address=self.address, command=command.text, code=code)

    def _hint(self, command: Command, code: int) -> str:
        """What to do about a refused command."""
        if code in (-4, -11):
            return f"this {self.DAEMON} backend does not implement {command.long_name}"
        return f"run {self.DAEMON} with -vvvv to see why the backend refused it"

    def _transact(self, command: Command) -> Reply:
        """Send a command and return its successful reply, reconnecting once (within reconnect_s) if needed."""
        if self._closed:
            raise RuntimeError(f"{self!r} was closed; create a new {type(self).__name__} to talk to {self.address}")
        self.counters["commands"] += 1
        if self._sock is None:  # dropped after a garbled reply: reconnect before sending
            self._reconnect(command, self._drop_reason or "not connected")
        try:
            reply = self._exchange(command)
        except ProtocolViolation as exc:
            self.counters["errors"] += 1
            raise self._garbled(command, exc) from exc
        except OSError as exc:
            self._disconnect()
            self._reconnect(command, f"connection lost ({_describe(exc)})")
            try:
                reply = self._exchange(command)
            except ProtocolViolation as again:
                self.counters["errors"] += 1
                raise self._garbled(command, again) from again
            except OSError as again:
                self._disconnect()
                self._drop_reason = f"connection lost again ({_describe(again)})"
                self.counters["failures"] += 1
                self._event(f"connection lost again resending {command.text!r} ({_describe(again)}); gave up")
                raise self._unavailable(
                    command.text, f"lost the connection again resending {command.text!r}: {_describe(again)}"
                ) from again
        if reply.code != 0:
            self.counters["errors"] += 1
            raise self._rejected(command, reply.code)
        return reply

    def _reconnect(self, command: Command, why: str) -> None:
        """Reconnect within reconnect_s after ``why``, counting and recording it, or raise HamlibUnavailable."""
        try:
            took_s = self._connect_within(self.reconnect_s, command=command.text)
        except HamlibUnavailable:
            self._drop_reason = why
            self.counters["failures"] += 1
            self._event(f"{why}; could not reconnect within {self.reconnect_s:g} s, {command.text!r} not sent")
            raise
        except HamlibError as exc:
            self._drop_reason = why
            self.counters["failures"] += 1
            self._event(f"{why}; reconnected, but the new session was refused: {exc}")
            raise
        self._drop_reason = None
        self.counters["reconnects"] += 1
        self._event(f"{why}; reconnected after {took_s:.1f} s")

    def _value(self, command: Command, reply: Reply, parse: Callable[[Reply, str], _T], key: str) -> _T:
        """A parsed record of a successful reply, as a GarbledReply if it is missing or malformed."""
        try:
            return parse(reply, key)
        except ProtocolViolation as exc:
            self.counters["errors"] += 1
            raise self._garbled(command, exc) from exc


def _describe(exc: BaseException) -> str:
    """A short description of a connection error."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Rotator(_DaemonClient):
    """An antenna rotator behind ``rotctld``: point it, read where it is, stop or park it."""

    DAEMON = "rotctld"
    MODEL_HINT = "; model 1 is the dummy rotator"

    def __init__(self, host: str = "127.0.0.1", port: int = ROTCTLD_PORT, *, timeout_s: float = 2.0,
                 reconnect_s: float = 5.0, on_event: Callable[[str], None] | None = None) -> None:
        super().__init__(host, port, timeout_s=timeout_s, reconnect_s=reconnect_s, on_event=on_event)

    def set_position(self, az_deg: float, el_deg: float) -> None:
        """Command the rotator towards azimuth and elevation in degrees (it returns before arriving)."""
        az = _finite_deg("az_deg", az_deg)
        el = _finite_deg("el_deg", el_deg)
        self._transact(Command("P", "set_pos", (f"{az:.6f}", f"{el:.6f}")))

    def position(self) -> tuple[float, float]:
        """Where the rotator points now: (az_deg, el_deg)."""
        command = Command("p", "get_pos")
        reply = self._transact(command)
        az_deg = self._value(command, reply, _parse_decimal, "Azimuth")
        el_deg = self._value(command, reply, _parse_decimal, "Elevation")
        return az_deg, el_deg

    def stop(self) -> None:
        """Stop the rotator where it is."""
        self._transact(Command("S", "stop"))

    def park(self) -> None:
        """Send the rotator to its park position."""
        self._transact(Command("K", "park"))

    def info(self) -> str:
        """The backend's description of the rotator (the dummy says ``Dummy rotator``)."""
        command = Command("_", "get_info")
        return self._value(command, self._transact(command), record, "Info")

    def _hint(self, command: Command, code: int) -> str:
        """What to do about a refused command: for set_pos, the rotator's limits."""
        if command.long_name == "set_pos" and code == -1:
            return ("the position is outside the rotator's limits: see them with `rotctl -m MODEL -u` "
                    "(Min/Max Azimuth/Elevation) or widen them with rotctld -C min_az=..,max_az=..,min_el=..,"
                    "max_el=.. (max_el=180 for flip mode)")
        return super()._hint(command, code)


class Radio(_DaemonClient):
    """A transceiver behind ``rigctld``: downlink (receive VFO) and uplink (split transmit VFO) frequencies."""

    DAEMON = "rigctld"
    MODEL_HINT = "; model 1 is the dummy rig"

    def __init__(self, host: str = "127.0.0.1", port: int = RIGCTLD_PORT, *, timeout_s: float = 2.0,
                 reconnect_s: float = 5.0, on_event: Callable[[str], None] | None = None,
                 split_tx_vfo: str = "VFOB") -> None:
        if split_tx_vfo not in SPLIT_TX_VFOS:
            raise ValueError(f"split_tx_vfo must be one of rigctld's TX VFO tokens {sorted(SPLIT_TX_VFOS)}, "
                             f"got {split_tx_vfo!r}")
        self.split_tx_vfo = split_tx_vfo
        self._split_on = False  # set by the first uplink call, replayed on every new connection
        super().__init__(host, port, timeout_s=timeout_s, reconnect_s=reconnect_s, on_event=on_event)

    def set_frequency_hz(self, freq_hz: int) -> None:
        """Tune the receive (downlink) VFO to freq_hz."""
        self._transact(Command("F", "set_freq", (str(_freq_hz("freq_hz", freq_hz)),)))

    def frequency_hz(self) -> int:
        """The receive (downlink) VFO's frequency in Hz."""
        command = Command("f", "get_freq")
        return self._value(command, self._transact(command), _parse_freq_hz, "Frequency")

    def set_tx_frequency_hz(self, freq_hz: int) -> None:
        """Tune the transmit (uplink) VFO to freq_hz, enabling split first if this session has not yet."""
        command = Command("I", "set_split_freq", (str(_freq_hz("freq_hz", freq_hz)),))
        self._enable_split()
        self._transact(command)

    def tx_frequency_hz(self) -> int:
        """The transmit (uplink) VFO's frequency in Hz, enabling split first if this session has not yet."""
        self._enable_split()
        command = Command("i", "get_split_freq")
        return self._value(command, self._transact(command), _parse_freq_hz, "TX Frequency")

    def info(self) -> str:
        """The backend's description of the rig (the dummy says ``Nothing much (dummy)``)."""
        command = Command("_", "get_info")
        return self._value(command, self._transact(command), record, "Info")

    def _split_command(self) -> Command:
        """set_split_vfo: split on, transmitting on split_tx_vfo."""
        return Command("S", "set_split_vfo", ("1", self.split_tx_vfo))

    def _enable_split(self) -> None:
        """Turn split on once per session (and, through _on_connected, once per connection)."""
        if not self._split_on:
            self._transact(self._split_command())
            self._split_on = True

    def _on_connected(self) -> None:
        """Refuse a daemon in VFO mode, and replay split on a new connection if the session uses it."""
        sock = self._sock
        if sock is None:
            raise ConnectionError("not connected")
        deadline = time.monotonic() + self.timeout_s
        sock.settimeout(self.timeout_s)
        sock.sendall(b"\\chk_vfo\n")
        try:
            vfo_mode = parse_chk_vfo(self._read_line(deadline))
        except TimeoutError as exc:
            raise TimeoutError(f"connected, but no answer to '\\chk_vfo' within {self.timeout_s:g} s: "
                               f"is this port rigctld's (rotctld ignores that command)?") from exc
        except ProtocolViolation as exc:
            raise GarbledReply(
                f"{self.DAEMON} {self.address} answered '\\chk_vfo' with {exc.text} ({exc.reason}); "
                f"is {self.address} really rigctld (rotctld's port is {ROTCTLD_PORT})?",
                daemon=self.DAEMON, address=self.address, command="\\chk_vfo", reply=exc.text) from exc
        if vfo_mode:
            raise HamlibError(
                f"rigctld {self.address} runs in VFO mode (-o/--vfo), where every command takes a VFO argument "
                f"first; restart it without -o",
                daemon=self.DAEMON, address=self.address, command="\\chk_vfo")
        if self._split_on:
            command = self._split_command()
            try:
                reply = self._exchange(command)
            except ProtocolViolation as exc:
                raise GarbledReply(
                    f"rigctld {self.address} answered {command.text!r} with a garbled reply ({exc.reason}): "
                    f"{exc.text}", daemon=self.DAEMON, address=self.address, command=command.text,
                    reply=exc.text) from exc
            if reply.code != 0:
                raise self._rejected(command, reply.code)

    def _hint(self, command: Command, code: int) -> str:
        """What to do about a refused command: for split, the rig's VFO names."""
        if command.long_name == "set_split_vfo":
            return (f"the rig may not have a VFO called {self.split_tx_vfo!r}: try Radio(split_tx_vfo='Sub') "
                    f"or another token from rigctld(1)'s set_split_vfo")
        return super()._hint(command, code)
