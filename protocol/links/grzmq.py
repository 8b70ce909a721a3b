"""GNU Radio PDUs over ZeroMQ: a flowgraph's ``pub_msg_sink`` / ``sub_msg_source`` in place of either side.

``gr+zmq://HOST:PORT`` is the ZeroMQ PUB/SUB hop of :mod:`protocol.links.zmqlink` with each message a
GNU Radio PDU in PMT serialisation (:mod:`protocol.pmt`): the pair (metadata dictionary . u8vector).
gr-zeromq's defaults match ours: ``pub_msg_sink`` binds and ``sub_msg_source`` connects, so

* downlink: flowgraph ``... -> ccsds deframer -> pub_msg_sink(tcp://127.0.0.1:5600)`` and
  ``ttc station --down gr+zmq://127.0.0.1:5600?carries=frames`` (the deframer already synchronised,
  derandomised and RS-decoded the frames) or ``?carries=cadus`` (the default: whole CADUs, ASM first);
* uplink: ``ttc station --up gr+zmq://127.0.0.1:5601`` binds, and the flowgraph's
  ``sub_msg_source(tcp://127.0.0.1:5601) -> pdu_to_tagged_stream -> modulator`` takes our CLTUs.

The metadata a flowgraph attaches (gr-satellites' RS corrections, sync-word errors, its timestamps) comes
with each :class:`~protocol.links.ReceivedFrame` as ``meta`` and the station archives it with the frame.
A message that is not a PDU with a u8vector is refused and counted (``counters.rejected``, with the
reason of the last one in ``last_error``), never raised out of :meth:`GrZmqReceiver.recv`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ProtocolError
from ..pmt import decode_pdu, encode_pdu
from . import Carries, LinkScheme, LinkUrl, ReceivedFrame
from .zmqlink import ZmqReceiver, ZmqSender

__all__ = ["GrZmqSender", "GrZmqReceiver", "SCHEMES", "json_meta"]


def json_meta(meta: Mapping[Any, Any]) -> dict[str, Any]:
    """PDU metadata with string keys and JSON-ready values (numpy arrays as lists, pairs as [car, cdr])."""
    return {str(k): _plain(v) for k, v in meta.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, dict):
        return json_meta(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "car"):
        return [_plain(value.car), _plain(value.cdr)]
    return value


class GrZmqSender(ZmqSender):
    """Publishes each frame as a GNU Radio PDU (empty metadata unless given)."""

    scheme = "gr+zmq"

    def send(self, frame: bytes, *, meta: Mapping[str, Any] | None = None) -> None:
        """Publish one frame as a PDU; dropped (and counted) when the queue is full."""
        self._publish(encode_pdu(frame, meta))


class GrZmqReceiver(ZmqReceiver):
    """Receives GNU Radio PDUs; their octets are the frames, their metadata comes along."""

    scheme = "gr+zmq"
    last_error: str | None = None

    def recv(self, timeout_s: float) -> ReceivedFrame | None:
        """The next PDU's frame, or None after ``timeout_s`` (messages that are not PDUs are counted)."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            message = self._message(max(0.0, deadline - time.monotonic()))
            if message is None:
                return None
            try:
                data, meta = decode_pdu(message)
            except ProtocolError as e:
                self.counters.rejected += 1
                self.last_error = str(e)
                continue
            return ReceivedFrame(data, time.time_ns(), self.carries, json_meta(meta) if meta else None)


_CARRY = (Carries.CADUS, Carries.FRAMES, Carries.CLTUS)


def _sender(url: LinkUrl, default: Carries) -> GrZmqSender:
    url.host_port("gr+zmq://HOST:PORT")
    return GrZmqSender(url.text, bind=True if url.bind is None else url.bind, options=url.options,
                       carries=url.carries(default, _CARRY))


def _receiver(url: LinkUrl, default: Carries) -> GrZmqReceiver:
    url.host_port("gr+zmq://HOST:PORT")
    return GrZmqReceiver(url.text, bind=False if url.bind is None else url.bind, options=url.options,
                         carries=url.carries(default, _CARRY))


SCHEMES = (LinkScheme("gr+zmq", "GNU Radio PDUs (PMT pairs) over ZeroMQ, for gr-zeromq pub_msg_sink/sub_msg_source "
                                "(options: carries=cadus|frames, bind, hwm)", _sender, _receiver,
                      "gr+zmq://127.0.0.1:5600?carries=frames"),)
