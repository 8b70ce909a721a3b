"""The payload's one error family: a request or input it cannot honour, naming the field, value and range."""

from __future__ import annotations

from typing import Any

__all__ = ["PayloadError"]


class PayloadError(ValueError):
    """Names the field, its value and what is allowed (``where`` opens the message: a file, a config)."""

    def __init__(self, field_name: str, value: Any, allowed: str, *, where: str = "") -> None:
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{where}{field_name} is {self._show(value)}, allowed {allowed}")

    @staticmethod
    def _show(value: Any) -> str:
        return str(value)
