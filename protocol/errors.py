"""The one exception family of the protocol stack.

Every error a decoder or encoder in ``protocol/`` raises is a
:class:`ProtocolError`. Like h11, errors say whose fault it was:

* :class:`LocalProtocolError` -- we were asked to *build* something invalid
  (an APID out of range, a payload too long). Raised by encoders.
* :class:`RemoteProtocolError` -- bytes from the other end are invalid.
  Raised by decoders; the message names the layer, the field, the byte
  offset, the bad value and the allowed range.

Decoders never let another exception escape: a ``construct`` error is
re-raised as a :class:`RemoteProtocolError` with ``from``.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from typing import Any, TypeVar

import construct

__all__ = [
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "TruncatedError",
    "ChecksumError",
    "UncorrectableError",
    "construct_errors",
    "check_range",
    "check_enum",
    "check_length",
]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return f"{value} (0x{value:X})" if value > 9 else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        text = raw[:16].hex(" ").upper()
        return f"{text}{' ...' if len(raw) > 16 else ''} ({len(raw)} bytes)"
    return repr(value)


class ProtocolError(Exception):
    """Root of every error raised by the protocol stack."""

    layer: str
    field: str
    value: Any
    allowed: str

    def __init__(self, layer: str, field: str, value: Any, allowed: str, *, detail: str = "") -> None:
        self.layer = layer
        self.field = field
        self.value = value
        self.allowed = allowed
        self.detail = detail
        super().__init__(self._message())

    def _where(self) -> str:
        return ""

    def _message(self) -> str:
        msg = f"{self.layer}: {self.field}{self._where()} is {_show(self.value)}, allowed {self.allowed}"
        return f"{msg} ({self.detail})" if self.detail else msg


class LocalProtocolError(ProtocolError, ValueError):
    """We were asked to build something the standard does not allow."""


class RemoteProtocolError(ProtocolError):
    """Received bytes violate the standard; names field, byte offset, value and allowed range."""

    def __init__(
        self,
        layer: str,
        field: str,
        value: Any,
        allowed: str,
        *,
        offset: int,
        detail: str = "",
    ) -> None:
        self.offset = offset
        super().__init__(layer, field, value, allowed, detail=detail)

    def _where(self) -> str:
        return f" at byte {self.offset}"


class TruncatedError(RemoteProtocolError):
    """The input ends before the structure does (value is the length present)."""


class ChecksumError(RemoteProtocolError):
    """A CRC / frame error control field does not match (value is the received CRC)."""

    def __init__(
        self, layer: str, field: str, received: int, computed: int, *, offset: int
    ) -> None:
        self.received = received
        self.computed = computed
        super().__init__(layer, field, received, f"0x{computed:04X} (computed)", offset=offset)


class UncorrectableError(RemoteProtocolError):
    """A forward-error-correction codeword has more errors than the code can correct."""


def check_range(layer: str, name: str, value: object, lo: int, hi: int) -> None:
    """Raise LocalProtocolError unless ``value`` is an int (not a bool) in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        allowed = f"{lo}..{hi}" + (f" (0x{lo:X}..0x{hi:X})" if hi >= 256 else "")
        raise LocalProtocolError(layer, name, value, allowed)


def check_length(layer: str, field: str, length: int, expected: int, *, offset: int, allowed: str = "") -> None:
    """Raise unless the input is exactly ``expected`` octets: TruncatedError if shorter, RemoteProtocolError
    (naming the trailing octets) if longer."""
    if length == expected:
        return
    allowed = allowed or f"{expected} octets"
    if length < expected:
        raise TruncatedError(layer, field, length, allowed, offset=offset)
    raise RemoteProtocolError(layer, field, length, allowed, offset=offset,
                              detail=f"{length - expected} trailing octets")


E = TypeVar("E", bound=enum.Enum)


def check_enum(layer: str, name: str, enum_cls: type[E], value: object) -> E:
    """``value`` as a member of ``enum_cls``; LocalProtocolError listing the members otherwise."""
    try:
        return enum_cls(value)
    except ValueError as e:
        members = ", ".join(f"{m.name} ({m.value})" for m in enum_cls)
        raise LocalProtocolError(layer, name, value, members) from e


@contextlib.contextmanager
def construct_errors(layer: str, *, offset: int = 0) -> Iterator[None]:
    """Re-raise any construct error inside the block as a RemoteProtocolError of ``layer``."""
    try:
        yield
    except construct.StreamError as e:
        raise TruncatedError(layer, _path(e), "short input", "enough bytes for the structure",
                             offset=offset, detail=str(e)) from e
    except construct.ConstructError as e:
        raise RemoteProtocolError(layer, _path(e), "invalid", "a value the layout accepts",
                                  offset=offset, detail=str(e)) from e


def _path(e: construct.ConstructError) -> str:
    path = getattr(e, "path", None) or ""
    # construct paths look like "(parsing) -> header -> apid"
    parts = [p.strip() for p in path.split("->") if p.strip() and not p.strip().startswith("(")]
    return ".".join(parts) or "structure"
