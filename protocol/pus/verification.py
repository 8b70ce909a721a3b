"""Service 1, request verification (ECSS-E-ST-70-41C §6.1, reports §8.1.2): TM[1,1]..TM[1,8].

Every report quotes the request ID of the TC (:class:`protocol.pus.RequestId`, 4 octets); failure
reports add a failure notice, the progress reports a step ID. Mission choices: step ID and failure
code 16 bit; the failure codes are :class:`protocol.pus.FailureCode` (an unknown code is rejected);
the failure notice's data runs to the end of the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c

from ..errors import LocalProtocolError
from .body import Enumerated, LayoutBody, register_body
from .packet import LAYER, FailureCode, MessageType, RequestId, RequestIdField

__all__ = [
    "FailureNoticeLayout", "VerificationSuccessLayout", "VerificationFailureLayout", "ProgressSuccessLayout",
    "ProgressFailureLayout",
    "FailureNotice", "AcceptanceSuccess", "AcceptanceFailure", "StartSuccess", "StartFailure",
    "ProgressSuccess", "ProgressFailure", "CompletionSuccess", "CompletionFailure",
]

#: Failure notice (§8.1.2.2): failure code (16 bit), then the failure data to the end of the report.
FailureNoticeLayout = c.Struct(
    "code" / Enumerated(FailureCode, c.Int16ub, field="failure code"),
    "data" / c.GreedyBytes,
)
#: TM[1,1] / [1,3] / [1,7]: request ID.
VerificationSuccessLayout = c.Struct("request_id" / RequestIdField, c.Terminated)
#: TM[1,2] / [1,4] / [1,8]: request ID, failure notice.
VerificationFailureLayout = c.Struct("request_id" / RequestIdField, "failure" / FailureNoticeLayout)
#: TM[1,5]: request ID, step ID.
ProgressSuccessLayout = c.Struct("request_id" / RequestIdField, "step_id" / c.Int16ub, c.Terminated)
#: TM[1,6]: request ID, step ID, failure notice.
ProgressFailureLayout = c.Struct("request_id" / RequestIdField, "step_id" / c.Int16ub,
                                 "failure" / FailureNoticeLayout)


@dataclass(frozen=True, slots=True)
class FailureNotice:
    """Why a verification stage failed: a failure code and optional data."""

    code: FailureCode
    data: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.code, FailureCode):
            try:
                object.__setattr__(self, "code", FailureCode(self.code))
            except ValueError as e:
                raise LocalProtocolError(LAYER, "failure code", self.code, "a FailureCode") from e
        object.__setattr__(self, "data", bytes(self.data))


@dataclass(frozen=True, slots=True)
class _SuccessReport(LayoutBody):
    LAYOUT = VerificationSuccessLayout
    request_id: RequestId


@dataclass(frozen=True, slots=True)
class _FailureReport(LayoutBody):
    LAYOUT = VerificationFailureLayout
    request_id: RequestId
    failure: FailureNotice


@register_body
@dataclass(frozen=True, slots=True)
class AcceptanceSuccess(_SuccessReport):
    """TM[1,1] successful acceptance verification report."""

    KEY = MessageType.ACCEPTANCE_SUCCESS


@register_body
@dataclass(frozen=True, slots=True)
class AcceptanceFailure(_FailureReport):
    """TM[1,2] failed acceptance verification report."""

    KEY = MessageType.ACCEPTANCE_FAILURE


@register_body
@dataclass(frozen=True, slots=True)
class StartSuccess(_SuccessReport):
    """TM[1,3] successful start of execution verification report."""

    KEY = MessageType.START_SUCCESS


@register_body
@dataclass(frozen=True, slots=True)
class StartFailure(_FailureReport):
    """TM[1,4] failed start of execution verification report."""

    KEY = MessageType.START_FAILURE


@register_body
@dataclass(frozen=True, slots=True)
class ProgressSuccess(LayoutBody):
    """TM[1,5] successful progress of execution verification report."""

    KEY = MessageType.PROGRESS_SUCCESS
    LAYOUT = ProgressSuccessLayout
    request_id: RequestId
    step_id: int


@register_body
@dataclass(frozen=True, slots=True)
class ProgressFailure(LayoutBody):
    """TM[1,6] failed progress of execution verification report."""

    KEY = MessageType.PROGRESS_FAILURE
    LAYOUT = ProgressFailureLayout
    request_id: RequestId
    step_id: int
    failure: FailureNotice


@register_body
@dataclass(frozen=True, slots=True)
class CompletionSuccess(_SuccessReport):
    """TM[1,7] successful completion of execution verification report."""

    KEY = MessageType.COMPLETION_SUCCESS


@register_body
@dataclass(frozen=True, slots=True)
class CompletionFailure(_FailureReport):
    """TM[1,8] failed completion of execution verification report."""

    KEY = MessageType.COMPLETION_FAILURE
