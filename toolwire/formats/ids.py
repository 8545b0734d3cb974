"""Tool-call ids: OpenAI style (`call_` + 24 alphanumerics) or Mistral's exactly 9 alphanumerics."""

from __future__ import annotations

import hashlib
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
    """An id of the history as Mistral's chat template accepts it: kept when it is 9 alphanumerics
    already, else 9 alphanumerics made from its hash, so that distinct ids stay distinct (up to a
    one-in-10^16 chance) and a call and its result, which share an id, still share one."""
    if len(tool_call_id) == MISTRAL_ID_LENGTH and all(ch in ALPHANUMERICS for ch in tool_call_id):
        return tool_call_id
    digest = hashlib.sha256(tool_call_id.encode("utf-8", "surrogatepass")).digest()
    number = int.from_bytes(digest, "big")
    characters = []
    for _ in range(MISTRAL_ID_LENGTH):
        number, digit = divmod(number, len(ALPHANUMERICS))
        characters.append(ALPHANUMERICS[digit])
    return "".join(characters)


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
