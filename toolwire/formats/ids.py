"""Tool-call ids: OpenAI style (`call_` + 24 alphanumerics) or Mistral's exactly 9 alphanumerics."""

from __future__ import annotations

import secrets
import string

from toolwire.formats.spec import IdStyle

ALPHANUMERICS = string.ascii_letters + string.digits
MISTRAL_ID_LENGTH = 9


def random_alphanumerics(length: int) -> str:
    return "".join(secrets.choice(ALPHANUMERICS) for _ in range(length))


def openai_tool_call_id() -> str:
    return "call_" + random_alphanumerics(24)


def mistral_tool_call_id() -> str:
    return random_alphanumerics(MISTRAL_ID_LENGTH)


def mistral_history_id(tool_call_id: str) -> str:
    """A foreign id shortened for Mistral's chat template: its last 9 alphanumerics, zero-padded."""
    kept = "".join(ch for ch in tool_call_id if ch in ALPHANUMERICS)[-MISTRAL_ID_LENGTH:]
    return kept.rjust(MISTRAL_ID_LENGTH, "0")


class ToolCallIds:
    """Hands out ids for one response, never the same one twice."""

    def __init__(self, style: IdStyle = IdStyle.OPENAI):
        self._make = mistral_tool_call_id if style is IdStyle.MISTRAL else openai_tool_call_id
        self._given: set[str] = set()

    def next(self) -> str:
        while True:
            new_id = self._make()
            if new_id not in self._given:
                self._given.add(new_id)
                return new_id
