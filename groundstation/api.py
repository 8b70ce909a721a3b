"""The station API's messages: request validation, replies and live-stream topics (no sockets here).

Requests arrive on a ZeroMQ ROUTER as one JSON object per message (the last
frame of a multipart message; REQ and DEALER clients both work). Every request
is checked against :data:`OPS` before the station acts on it; whatever does
not fit becomes an :class:`ApiError` with a code and a message that names the
field, the value and what is allowed. The station answers it as a JSON error
and counts it. The schema is documented in ``docs/station-api.md``.

Live stream: a PUB socket sends two-frame messages ``[topic, json]``; topics
are ``parameter.NAME``, ``event.NAME``, ``alarm.NAME``, ``verification.ID``
and ``counters``. A subscriber picks by prefix (``parameter.`` for all
parameters, ``parameter.BATTERY_SOC`` for one).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["ApiError", "Request", "OPS", "TOPICS", "STAGES", "parse_request", "reply_ok", "reply_error",
           "parse_time_ns", "MAX_REQUEST_OCTETS", "MAX_LIMIT"]

MAX_REQUEST_OCTETS = 64 * 1024
MAX_LIMIT = 10_000
TOPICS = ("parameter", "event", "alarm", "verification", "counters", "freshness", "cop1")
#: Verification stages in the order a command goes through them.
STAGES = ("queued", "sent", "accepted", "started", "progress", "completed")


class ApiError(Exception):
    """A request the station refuses: ``code`` for programs, message for people."""

    def __init__(self, code: str, message: str, *, req_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.req_id = req_id  # the request's id when it could be read, so the reply reaches its client


@dataclass(frozen=True, slots=True)
class Request:
    """A validated request: its correlation ``id`` (echoed back), ``op`` and checked parameters."""

    id: Any
    op: str
    params: dict[str, Any]


def _name_list(v: Any) -> list[str]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v or len(v) > 200 or not all(isinstance(x, str) and 0 < len(x) <= 64
                                                                    for x in v):
        raise TypeError("a name or a list of 1..200 names")
    return [x.upper() for x in v]


def _int(lo: int, hi: int):  # type: ignore[no-untyped-def]
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise TypeError(f"an integer in {lo}..{hi}")
        return v
    return check


def _factor(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1e6:
        raise TypeError("a number in (0, 1e6]")
    return float(v)


def _str(max_len: int):  # type: ignore[no-untyped-def]
    def check(v: Any) -> str:
        if not isinstance(v, str) or not 0 < len(v) <= max_len:
            raise TypeError(f"a string of 1..{max_len} characters")
        return v
    return check


def _args(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict) or len(v) > 64:
        raise TypeError("an object of ARGUMENT: value (at most 64)")
    for k, x in v.items():
        if not isinstance(k, str) or not 0 < len(k) <= 64:
            raise TypeError("argument names of 1..64 characters")
        if isinstance(x, bool) or not isinstance(x, (int, float, str)) or (isinstance(x, str) and len(x) > 64):
            raise TypeError(f"argument {k}: a number or a string of at most 64 characters")
    return dict(v)


def _time(v: Any) -> int:
    return parse_time_ns(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError("true or false")
    return v


def _number(v: Any) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 1e9:
        raise TypeError("a number")
    return v


def _kind(v: Any) -> str:
    if v not in ("onboard", "link", "alarm", "station", "detection"):
        raise TypeError("onboard, link, alarm, station or detection")
    return str(v)


_RANGE = {"from": _time, "to": _time, "after_id": _int(0, 2**62), "limit": _int(1, MAX_LIMIT)}

#: op -> {parameter: checker}; required parameters listed in _REQUIRED.
OPS: dict[str, dict[str, Any]] = {
    "ping": {},
    "counters": {},
    "latest": {"stale_factor": _factor, "expire_factor": _factor},
    "send": {"name": _str(64), "args": _args, "at": _time, "source": _str(64), "confirm": _bool, "bypass": _bool},
    "cop1": {"directive": _str(32), "value": _number},
    "parameters": {"names": _name_list, **_RANGE, "newest": _bool},
    "packets": {"names": _name_list, **_RANGE, "newest": _bool},
    "events": {"names": _name_list, **_RANGE, "kind": _kind, "newest": _bool},
    "alarms": {"names": _name_list, **_RANGE, "active": _bool, "newest": _bool},
    "history": {"command_id": _int(1, 2**62), **_RANGE},
}
_REQUIRED = {"send": ("name",)}


def parse_time_ns(value: Any) -> int:
    """UTC nanoseconds since 1970 from an ISO-8601 text (naive = UTC) or a number of UNIX seconds."""
    if isinstance(value, bool):
        raise TypeError("an ISO-8601 UTC time or UNIX seconds")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value < 2**33:
            raise TypeError("UNIX seconds in 0..2**33")
        return int(round(value * 1e9))
    if isinstance(value, str) and len(value) <= 40:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as e:
            raise TypeError("an ISO-8601 UTC time such as 2030-01-02T03:04:05Z") from e
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
    raise TypeError("an ISO-8601 UTC time or UNIX seconds")


def parse_request(raw: bytes) -> Request:
    """A validated request from one message; ApiError says what is wrong."""
    if len(raw) > MAX_REQUEST_OCTETS:
        raise ApiError("too_large", f"request is {len(raw)} octets, allowed at most {MAX_REQUEST_OCTETS}")
    try:
        msg = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ApiError("bad_json", f"request is not UTF-8 JSON ({e})") from e
    if not isinstance(msg, dict):
        raise ApiError("bad_request", f"request is a JSON {type(msg).__name__}, allowed a JSON object")
    req_id = msg.get("id")
    if req_id is not None and (isinstance(req_id, bool) or not isinstance(req_id, (int, str))
                               or (isinstance(req_id, str) and len(req_id) > 64)):
        raise ApiError("bad_request", "field id must be an integer or a string of at most 64 characters")
    try:
        return _parse_fields(msg, req_id)
    except ApiError as e:
        raise ApiError(e.code, e.message, req_id=req_id) from None


def _parse_fields(msg: dict[str, Any], req_id: Any) -> Request:
    op = msg.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise ApiError("unknown_op", f"field op is {_short(op)}, allowed {', '.join(OPS)}")
    schema = OPS[op]
    params: dict[str, Any] = {}
    for key, value in msg.items():
        if key in ("id", "op"):
            continue
        check = schema.get(key)
        if check is None:
            allowed = ", ".join(schema) or "none"
            raise ApiError("bad_request", f"{op}: unknown field {key!r}, allowed {allowed}")
        if value is None:
            continue
        try:
            params[key] = check(value)
        except TypeError as e:
            raise ApiError("bad_request", f"{op}: field {key} is {_short(value)}, allowed {e}") from e
    for key in _REQUIRED.get(op, ()):
        if key not in params:
            raise ApiError("bad_request", f"{op}: field {key} is missing")
    return Request(req_id, op, params)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def reply_ok(req_id: Any, result: Any) -> bytes:
    """The JSON reply to a request that succeeded."""
    return json.dumps({"id": req_id, "ok": True, "result": result}, default=_json_default).encode()


def reply_error(req_id: Any, code: str, message: str) -> bytes:
    """The JSON reply to a request that was refused."""
    return json.dumps({"id": req_id, "ok": False, "error": {"code": code, "message": message}}).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
