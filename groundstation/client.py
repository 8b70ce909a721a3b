"""A small Python client of the station API, for scripted procedures (the way operators automate passes).

    from groundstation.client import StationClient

    with StationClient("tcp://127.0.0.1:5570", "tcp://127.0.0.1:5571") as gs:
        cid = gs.send("SET_HK_INTERVAL", {"SID": "POWER", "INTERVAL": 5})
        gs.wait(cid, stage="completed", timeout_s=10)      # raises CommandFailed / CommandTimeout
        for msg in gs.subscribe("alarm.", timeout_s=30):   # live stream, ends after 30 s of silence
            print(msg.topic, msg.data)

Requests go over a DEALER socket to the station's ROUTER (one at a time, each
with a correlation id and a timeout); the live stream comes from its PUB
socket. Both are CURVE clients: the client key pair and the station's public
key come from the key directory (``keys_dir``, default ``$TTC_KEYS`` or
~/.config/ttc/keys, see groundstation/keys.py); a station that refuses the key
(CURVE gives no reply, so the socket monitor tells) raises
:class:`AuthenticationFailed`. :meth:`StationClient.wait` reads the stages
from the archive (so it cannot miss one that arrived before it subscribed) and
wakes up early when the live stream announces a new one. Messages are documented in docs/station-api.md.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from .keys import KeysError, client_credentials, default_keys_dir, fingerprint

__all__ = ["StationClient", "Message", "StationError", "StationUnavailable", "AuthenticationFailed", "RequestRefused",
           "CommandFailed", "CommandTimeout", "default_api_url", "default_events_url", "WAIT_STAGES"]

DEFAULT_API = "tcp://127.0.0.1:5570"
DEFAULT_EVENTS = "tcp://127.0.0.1:5571"
#: Stages a caller may wait for, in the order a command reaches them.
WAIT_STAGES = ("sent", "accepted", "started", "completed")
_ORDER = ("queued", "sent", "accepted", "started", "progress", "completed")


def default_api_url() -> str:
    """The API URL: $TTC_API or the default loopback port."""
    return os.environ.get("TTC_API", DEFAULT_API)


def default_events_url() -> str:
    """The live-stream URL: $TTC_EVENTS or the default loopback port."""
    return os.environ.get("TTC_EVENTS", DEFAULT_EVENTS)


_VERDICTS = ("lost", "timed out", "unknown")  # the station's own verdicts (groundstation.station._check_verdicts)


class StationError(Exception):
    """Root of the client's errors."""


class StationUnavailable(StationError):
    """The station did not answer within the timeout."""


class AuthenticationFailed(StationUnavailable):
    """The station refused this client's CURVE handshake, or the keys it needs are missing (the message: the fix)."""


class RequestRefused(StationError):
    """The station refused the request: ``code`` for programs, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CommandFailed(StationError):
    """A verification stage of the command failed (``stages`` holds every stage seen)."""

    def __init__(self, command_id: int, stages: list[dict[str, Any]], failed: dict[str, Any]) -> None:
        what = "scheduling" if failed.get("of") == "schedule" else "command"
        super().__init__(f"{what} {command_id} failed at {failed['stage']}: {failed.get('reason')} "
                         f"(code {failed.get('code')})")
        self.command_id = command_id
        self.stages = stages
        self.failed = failed


class CommandTimeout(StationError):
    """The command did not reach the stage waited for within the timeout."""

    def __init__(self, command_id: int, stage: str, timeout_s: float, stages: list[dict[str, Any]]) -> None:
        last = stages[-1]["stage"] if stages else "nothing"
        super().__init__(f"command {command_id} did not reach {stage} within {timeout_s:g} s (last stage: {last})")
        self.command_id = command_id
        self.stage = stage
        self.stages = stages


@dataclass(frozen=True, slots=True)
class Message:
    """One live-stream message: its topic (``parameter.NAME``, ...) and JSON payload."""

    topic: str
    data: dict[str, Any]


def _time_arg(t: datetime | float | str | None) -> float | str | None:
    if t is None or isinstance(t, (int, float, str)):
        return t
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


_HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                     | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


class _Handshake:
    """One socket's monitor, read for what a refused CURVE handshake leaves (the station itself never answers)."""

    def __init__(self, sock: zmq.Socket) -> None:
        self.monitor = sock.get_monitor_socket(_HANDSHAKE_EVENTS)
        self._sock = sock
        self.succeeded = False
        self.refused: int | None = None  # EVENT_HANDSHAKE_FAILED_AUTH or _PROTOCOL: the station said no
        self.dropped = False  # EVENT_HANDSHAKE_FAILED_NO_DETAIL: it closed the connection mid-handshake

    def read(self) -> None:
        """Take the events the monitor queued."""
        while self.monitor.poll(0, zmq.POLLIN):
            event = recv_monitor_message(self.monitor, zmq.NOBLOCK)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.succeeded, self.refused, self.dropped = True, None, False
            elif event in (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL):
                self.refused = event
            elif event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                self.dropped = True

    def close(self) -> None:
        """Stop monitoring (before the socket closes)."""
        if not self._sock.closed:
            self._sock.disable_monitor()
        self.monitor.close(linger=0)


class StationClient:
    """Talks to one station: requests over DEALER, the live stream over SUB. Not thread-safe.

    ``keys_dir`` is the CURVE key directory (default ``$TTC_KEYS`` or ~/.config/ttc/keys): its client.key_secret
    and station.key. ``insecure`` talks to a station started with ``--insecure`` (no CURVE; default: whether
    ``$TTC_INSECURE`` is 1).
    """

    def __init__(self, api_url: str | None = None, events_url: str | None = None, *,
                 timeout_s: float = 5.0, keys_dir: str | Path | None = None, insecure: bool | None = None) -> None:
        from .station import zmq_endpoint

        self.api_url = zmq_endpoint(api_url or default_api_url())
        self.events_url = zmq_endpoint(events_url or default_events_url())
        self.timeout_s = timeout_s
        self.keys_dir = Path(keys_dir).expanduser() if keys_dir else default_keys_dir()
        self.insecure = os.environ.get("TTC_INSECURE") == "1" if insecure is None else insecure
        # (client public, client secret, station public); a missing key is reported at the first request, so a
        # caller's usual StationUnavailable handling covers it
        self._curve: tuple[bytes, bytes, bytes] | None = None
        self._keys_problem: str | None = None
        if not self.insecure:
            try:
                self._curve = client_credentials(self.keys_dir)
            except KeysError as e:
                self._keys_problem = (f"cannot authenticate to the station, keys missing: {e}; on another "
                                      f"machine than the station's, use the directory `ttc keys new-client` "
                                      f"makes there")
        self._ctx = zmq.Context.instance()
        self._ids = itertools.count(1)
        self._handshakes: dict[zmq.Socket, _Handshake] = {}
        self._dealer: zmq.Socket | None = None
        self._sub: zmq.Socket | None = None
        self._wait_sub: zmq.Socket | None = None

    def _secure(self, sock: zmq.Socket) -> zmq.Socket:
        """Give a new socket its CURVE keys (refusing when they are missing) and a handshake monitor."""
        if self._keys_problem is not None:
            sock.close(linger=0)
            raise AuthenticationFailed(self._keys_problem)
        if self._curve is not None:
            public, secret, server = self._curve
            sock.setsockopt(zmq.CURVE_SERVERKEY, server)
            sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
            sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        self._handshakes[sock] = _Handshake(sock)
        return sock

    def _close_socket(self, sock: zmq.Socket) -> None:
        watch = self._handshakes.pop(sock, None)
        if watch is not None:
            watch.close()
        sock.close(linger=0)

    def _new_dealer(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100)
        sock.setsockopt(zmq.RCVHWM, 100)
        self._secure(sock).connect(self.api_url)
        return sock

    def _api(self) -> zmq.Socket:
        if self._dealer is None:
            self._dealer = self._new_dealer()
        return self._dealer

    def _drop_dealer(self) -> None:
        """Start afresh at the next request, so an unanswered request cannot block it."""
        if self._dealer is not None:
            self._close_socket(self._dealer)
            self._dealer = None

    def _new_sub(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 10_000)
        self._secure(sock).connect(self.events_url)
        return sock

    def _subscriber(self) -> zmq.Socket:
        if self._sub is None:
            self._sub = self._new_sub()
        return self._sub

    def _refusal(self, url: str, watch: _Handshake, *, timed_out: bool) -> AuthenticationFailed | None:
        """The error to raise when the monitor shows the station refused us (or, after a timeout, dropped us)."""
        watch.read()
        how = f"TTC_KEYS, now {self.keys_dir}; the station's is its --keys"
        if watch.refused == zmq.EVENT_HANDSHAKE_FAILED_AUTH and self._curve is not None:
            key = self._curve[0]
            return AuthenticationFailed(
                f"authentication failed: the station at {url} refused this client's key {fingerprint(key)} "
                f"({self.keys_dir / 'client.key'}). On the station host, `ttc keys add-client NAME "
                f"{self.keys_dir / 'client.key'}` authorises it; or use the key directory the station uses ({how})")
        if watch.refused is not None:
            if self._curve is None:
                return AuthenticationFailed(
                    f"authentication failed: the station at {url} requires CURVE and this client is insecure "
                    f"(TTC_INSECURE / insecure=True): drop that and use the station's keys ({how})")
            return AuthenticationFailed(
                f"authentication failed: the station at {url} does not speak CURVE (was it started with "
                f"--insecure? then set TTC_INSECURE=1 / insecure=True here) or is not a ttc station")
        if timed_out and watch.dropped and not watch.succeeded:
            return AuthenticationFailed(
                f"authentication failed: the station at {url} closed every connection during the CURVE handshake: "
                f"{self.keys_dir / 'station.key'} is probably not its public key (copy the station's station.key "
                f"there, or `ttc keys new-client` on the station host; {how})")
        return None

    def close(self) -> None:
        """Close the sockets (linger 0)."""
        for sock in (self._dealer, self._sub, self._wait_sub):
            if sock is not None:
                self._close_socket(sock)
        self._dealer = None

    def __enter__(self) -> StationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def request(self, op: str, **params: Any) -> Any:
        """Send one request and return its result; RequestRefused / StationUnavailable otherwise."""
        dealer = self._api()
        watch = self._handshakes[dealer]
        req_id = next(self._ids)
        msg = {"id": req_id, "op": op, **{k: v for k, v in params.items() if v is not None}}
        try:
            dealer.send_multipart([b"", json.dumps(msg).encode()], zmq.NOBLOCK)
        except zmq.Again as e:
            raise StationUnavailable(f"station API {self.api_url}: request queue full") from e
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        poller.register(watch.monitor, zmq.POLLIN)
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            ready = dict(poller.poll(int(left * 1000) + 1))
            if watch.monitor in ready and (refused := self._refusal(self.api_url, watch, timed_out=False)):
                self._drop_dealer()
                raise refused
            if dealer not in ready:
                continue
            parts = dealer.recv_multipart()
            try:
                reply = json.loads(parts[-1])
            except ValueError:
                continue
            if not isinstance(reply, dict):
                continue
            if reply.get("id") is None and reply.get("ok") is False:
                # the station could not read this request's id: one request is in flight, so it is ours
                err = reply.get("error") or {}
                raise RequestRefused(str(err.get("code", "error")), str(err.get("message", "refused")))
            if reply.get("id") != req_id:
                continue  # a late answer to an earlier request that timed out
            if reply.get("ok"):
                return reply.get("result")
            err = reply.get("error") or {}
            raise RequestRefused(str(err.get("code", "error")), str(err.get("message", "refused")))
        refused = self._refusal(self.api_url, watch, timed_out=True)
        self._drop_dealer()
        if refused is not None:
            raise refused
        raise StationUnavailable(f"station API {self.api_url} did not answer {op} within {self.timeout_s:g} s")

    def ping(self) -> dict[str, Any]:
        """Station identity, endpoints and uptime."""
        return self.request("ping")

    def counters(self) -> dict[str, Any]:
        """All counters: downlink layers, uplink, station, archive."""
        return self.request("counters")

    def latest(self, *, stale_factor: float | None = None, expire_factor: float | None = None) -> dict[str, Any]:
        """The newest value of every parameter (with its age and freshness: FRESH, STALE, EXPIRED), the active
        alarms and the link status; the factors (x the parameter's interval) override the station's."""
        params = {k: v for k, v in (("stale_factor", stale_factor), ("expire_factor", expire_factor))
                  if v is not None}
        return self.request("latest", **params)

    def send(self, name: str, args: Mapping[str, Any] | None = None, *, at: datetime | float | str | None = None,
             source: str | None = None, confirm: bool = False, bypass: bool = False) -> int:
        """Submit a command (time-tagged when ``at`` is given; ``confirm`` for a hazardous one; ``bypass``: BD
        even when COP-1's AD service is initiated); its command id."""
        result = self.request("send", name=name, args=dict(args or {}), at=_time_arg(at), source=source,
                              confirm=confirm or None, bypass=bypass or None)
        return int(result["command_id"])

    def cop1(self, directive: str = "status", value: int | float | None = None) -> dict[str, Any]:
        """COP-1 of the uplink: ``status``, or a directive (``initiate``, ``initiate-check``, ``initiate-unlock``,
        ``initiate-set-vr`` VALUE, ``terminate``, ``resume``, ``set-vs``/``set-window``/``set-timer``/
        ``set-limit``/``set-timeout-type`` VALUE): {"responses": [...], "status": {...}}."""
        return self.request("cop1", directive=directive, value=value)

    def history(self, command_id: int | None = None, *, start: datetime | float | str | None = None,
                end: datetime | float | str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Commands with their verification stages (newest ``limit``, oldest first)."""
        return self.request("history", command_id=command_id, limit=limit, **{"from": _time_arg(start),
                                                                               "to": _time_arg(end)})

    def stages(self, command_id: int) -> list[dict[str, Any]]:
        """Verification stages of one command so far."""
        rows = self.history(command_id)
        if not rows:
            raise RequestRefused("unknown_command_id", f"no command {command_id} in the station's history")
        return list(rows[0]["stages"])

    def _rows(self, op: str, names: str | Sequence[str] | None, start: Any, end: Any, limit: int,
              newest: bool, after_id: int | None = None, **extra: Any) -> list[dict[str, Any]]:
        if isinstance(names, str):
            names = [names]
        return self.request(op, names=list(names) if names else None, limit=limit, newest=newest or None,
                            after_id=after_id, **{"from": _time_arg(start), "to": _time_arg(end)}, **extra)

    def parameters(self, names: str | Sequence[str] | None = None, *, start: datetime | float | str | None = None,
                   end: datetime | float | str | None = None, limit: int = 1000, newest: bool = False,
                   after_id: int | None = None) -> list[dict[str, Any]]:
        """Archived parameter values by name and earth-receive time range."""
        return self._rows("parameters", names, start, end, limit, newest, after_id)

    def packets(self, names: str | Sequence[str] | None = None, *, start: datetime | float | str | None = None,
                end: datetime | float | str | None = None, limit: int = 1000, newest: bool = False,
                after_id: int | None = None) -> list[dict[str, Any]]:
        """Archived packets (by dictionary name) and earth-receive time range."""
        return self._rows("packets", names, start, end, limit, newest, after_id)

    def events(self, names: str | Sequence[str] | None = None, *, start: datetime | float | str | None = None,
               end: datetime | float | str | None = None, limit: int = 1000, newest: bool = False,
               kind: str | None = None, after_id: int | None = None) -> list[dict[str, Any]]:
        """Archived events (onboard, link, alarm) by name, kind and time range."""
        return self._rows("events", names, start, end, limit, newest, after_id, kind=kind)

    def alarms(self, names: str | Sequence[str] | None = None, *, start: datetime | float | str | None = None,
               end: datetime | float | str | None = None, limit: int = 1000, newest: bool = False,
               active: bool = False) -> list[dict[str, Any]]:
        """Alarm transitions (or, with ``active``, the alarms standing now)."""
        return self._rows("alarms", names, start, end, limit, newest, None, active=active or None)

    # ------------------------------------------------------------------ live stream
    def subscribe(self, *prefixes: str, timeout_s: float | None = None) -> Iterator[Message]:
        """Live messages whose topic starts with one of ``prefixes`` (all when none); ends after ``timeout_s``
        without a message (never when None). Subscribed when called, not at the first message asked for, so
        what is published after this returns is kept for the iterator."""
        sub = self._subscriber()
        topics = [p.encode() for p in prefixes] or [b""]
        for t in topics:
            sub.setsockopt(zmq.SUBSCRIBE, t)
        return self._messages(sub, topics, timeout_s)

    def _messages(self, sub: zmq.Socket, topics: list[bytes], timeout_s: float | None) -> Iterator[Message]:
        try:
            while True:
                msg = self.next_message(timeout_s=timeout_s if timeout_s is not None else 3600.0)
                if msg is None:
                    if timeout_s is not None:
                        return
                    continue
                if any(msg.topic.encode().startswith(t) for t in topics):
                    yield msg
        finally:
            if not sub.closed:
                for t in topics:
                    sub.setsockopt(zmq.UNSUBSCRIBE, t)

    def next_message(self, *, timeout_s: float) -> Message | None:
        """The next live message on the current subscriptions, or None after ``timeout_s``."""
        sub = self._subscriber()
        if not sub.poll(0, zmq.POLLIN) and not self._readable(sub, timeout_s):  # a message waiting: no need to look
            return None
        parts = sub.recv_multipart()
        try:
            data = json.loads(parts[-1])
        except ValueError:
            data = {"raw": parts[-1].hex()}
        return Message(parts[0].decode("utf-8", "replace"), data if isinstance(data, dict) else {"value": data})

    def _readable(self, sub: zmq.Socket, timeout_s: float) -> bool:
        """Wait for a message on ``sub``; AuthenticationFailed as soon as its monitor shows the station refused us."""
        watch = self._handshakes[sub]
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(watch.monitor, zmq.POLLIN)
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            ready = dict(poller.poll(max(0, int((deadline - time.monotonic()) * 1000))))
            if sub in ready:
                return True
            timed_out = time.monotonic() >= deadline
            if (watch.monitor in ready or timed_out) and \
                    (refused := self._refusal(self.events_url, watch, timed_out=timed_out)):
                raise refused
            if timed_out:
                return False

    def until(self, check: Callable[[], Any], what: str, *, timeout_s: float = 20.0) -> Any:
        """Re-run ``check()`` after each live message (or 0.2 s of quiet) until it is truthy; its value.

        Raises TimeoutError naming ``what`` when ``timeout_s`` passes first.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            self.next_message(timeout_s=0.2)
        raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")

    # ------------------------------------------------------------------ verification
    def wait(self, command_id: int, stage: str = "completed", *, timeout_s: float = 30.0,
             on_stage: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Block until the command reaches ``stage``; the stages seen. CommandFailed / CommandTimeout otherwise."""
        if stage not in WAIT_STAGES:
            raise ValueError(f"stage is {stage!r}, allowed {', '.join(WAIT_STAGES)}")
        target = _ORDER.index(stage)
        if self._wait_sub is None:  # its own socket, so waiting never eats messages meant for subscribe()
            self._wait_sub = self._new_sub()
        sub = self._wait_sub
        topic = f"verification.{command_id}".encode()
        sub.setsockopt(zmq.SUBSCRIBE, topic)
        reported = 0
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                stages = self.stages(command_id)
                for s in stages[reported:]:
                    if on_stage is not None:
                        on_stage(s)
                reported = len(stages)
                # a verdict the station gave itself (lost, timed out) is settled by a report that came after it
                verdicts = [i for i, s in enumerate(stages) if s["of"] == "station" and s["stage"] in _VERDICTS]
                settled = stages[verdicts[-1] + 1:] if verdicts and len(stages) > verdicts[-1] + 1 else stages
                for s in settled:
                    if not s["ok"]:
                        raise CommandFailed(command_id, stages, s)
                if any(s["of"] in ("tc", "station") and _ORDER.index(s["stage"]) >= target for s in stages
                       if s["stage"] in _ORDER):
                    return stages
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CommandTimeout(command_id, stage, timeout_s, stages)
                # wake up on the live stream's news, or re-read the archive now and then in case it was dropped
                if sub.poll(int(min(left, 0.5) * 1000) + 1, zmq.POLLIN):
                    while sub.poll(0, zmq.POLLIN):
                        sub.recv_multipart()
        finally:
            if not sub.closed:
                sub.setsockopt(zmq.UNSUBSCRIBE, topic)
