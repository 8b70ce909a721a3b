"""ECSS Packet Utilisation Standard, PUS-C (ECSS-E-ST-70-41C), over CCSDS space packets.

One module per service, each citing its sections of ECSS-E-ST-70-41C:

* :mod:`.packet` -- :class:`PusTc` / :class:`PusTm` (secondary headers §7.4.3.1 / §7.4.3.2, PEC
  Annex B), :class:`MessageType`, :class:`Service`, :class:`AckFlags`, :class:`FailureCode`,
  :class:`RequestId` (§6.1) and the header constants.
* :mod:`.body` -- the body base, :class:`BodyOptions`, the registry (:func:`decode_body`,
  :func:`body_class`, :func:`registered_types`), the generic layout-backed :class:`LayoutBody`, and
  :func:`body_fields` (a body flattened for the mission dictionary, with its naming rules).
* :mod:`.verification` (service 1), :mod:`.housekeeping` (3), :mod:`.events` (5), :mod:`.functions` (8),
  :mod:`.timing` (9), :mod:`.scheduling` (11), :mod:`.largepacket` (13), :mod:`.storage` (15),
  :mod:`.connection` (17),
  :mod:`.parameters` (20): one frozen dataclass per message type, declared on a construct layout.

Every name is importable from ``protocol.pus`` itself. Choices PUS-C leaves to the mission (each
module says its own): PUS version 2 only; TC secondary header 5 octets, TM secondary header 7 octets +
time (no spare); PEC on every packet; TM time CUC 4+2 without P-field by default
(:data:`DEFAULT_TM_TIME`); step ID, failure code, SID, parameter ID, event definition ID, function ID,
transaction ID, part sequence number and repetition counts N 16 bit; collection interval 32 bit; time
report rate exponent 8 bit; parameter value widths from the mission dictionary (:class:`BodyOptions`).
"""

from __future__ import annotations

from . import (
    body,
    connection,
    events,
    functions,
    housekeeping,
    largepacket,
    packet,
    parameters,
    scheduling,
    storage,
    timing,
    verification,
)
from .body import *  # noqa: F403
from .connection import *  # noqa: F403
from .events import *  # noqa: F403
from .functions import *  # noqa: F403
from .housekeeping import *  # noqa: F403
from .largepacket import *  # noqa: F403
from .packet import *  # noqa: F403
from .parameters import *  # noqa: F403
from .scheduling import *  # noqa: F403
from .storage import *  # noqa: F403
from .timing import *  # noqa: F403
from .verification import *  # noqa: F403

__all__ = [
    *packet.__all__, *body.__all__, *verification.__all__, *housekeeping.__all__, *events.__all__,
    *functions.__all__, *timing.__all__, *scheduling.__all__, *largepacket.__all__, *storage.__all__,
    *connection.__all__,
    *parameters.__all__,
]
