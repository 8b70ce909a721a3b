"""Service 17, test: the are-you-alive connection test (ECSS-E-ST-70-41C §6.17.2, §8.17.2.1,
§8.17.2.2): TC[17,1] and its TM[17,2] report, neither with application / source data.
"""

from __future__ import annotations

from dataclasses import dataclass

from .body import EmptyBody, register_body
from .packet import MessageType

__all__ = ["AreYouAlive", "AreYouAliveReport"]


@register_body
@dataclass(frozen=True, slots=True)
class AreYouAlive(EmptyBody):
    """TC[17,1] perform an are-you-alive connection test."""

    KEY = MessageType.ARE_YOU_ALIVE


@register_body
@dataclass(frozen=True, slots=True)
class AreYouAliveReport(EmptyBody):
    """TM[17,2] are-you-alive connection test report."""

    KEY = MessageType.ARE_YOU_ALIVE_REPORT
