"""Service 8, function management (ECSS-E-ST-70-41C §6.8, request §8.8.2.1): TC[8,1] perform a function.

Mission choices: function ID 16 bit; the arguments run to the end of the request and their layout per
function is the mission dictionary's.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c

from .body import LayoutBody, register_body
from .packet import MessageType

__all__ = ["PerformFunctionLayout", "PerformFunction"]

#: TC[8,1]: function ID then the function's arguments (their layout is the function's).
PerformFunctionLayout = c.Struct("function_id" / c.Int16ub, "arguments" / c.GreedyBytes)


@register_body
@dataclass(frozen=True, slots=True)
class PerformFunction(LayoutBody):
    """TC[8,1] perform a function: function ID and raw argument octets."""

    KEY = MessageType.PERFORM_FUNCTION
    LAYOUT = PerformFunctionLayout
    function_id: int
    arguments: bytes = b""
