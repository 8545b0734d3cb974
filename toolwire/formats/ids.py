"""Tool-call ids: OpenAI style (`call_` + 24 alphanumerics), Mistral's exactly 9 alphanumerics, or
Kimi K2's `functions.NAME:IDX` (IDX counting the conversation's calls from 0), which the model writes
itself."""

from __future__ import annotations

import hashlib
import re
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


def kimi_tool_call_id(name: str, index: int) -> str:
    return f"functions.{name}:{index}"


KIMI_ID = re.compile(r"functions\.[\w.\-]+:[0-9]+")


def mistral_history_id(tool_call_id: str, function_name: str | None = None) -> str:
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


class KimiHistoryIds:
    """Rewrites one conversation's tool-call ids as Kimi K2's template shows them, `functions.NAME:IDX`.

    Ids of that shape (the model's own) are kept; any other is rewritten with the call's name and
    its place among the conversation's calls (the index Kimi counts), skipping indexes already
    taken. A result's id becomes its call's; a result whose call is unknown keeps its id. One
    instance per conversation (`__call__` is `conversation.template_messages`' `history_call_id`).
    """

    def __init__(self) -> None:
        self._calls = 0
        self._taken: set[str] = set()
        self._rewritten: dict[str, str] = {}

    def __call__(self, tool_call_id: str, function_name: str | None = None) -> str:
        if function_name is None:  # a tool result
            return self._rewritten.get(tool_call_id, tool_call_id)
        index, self._calls = self._calls, self._calls + 1
        if KIMI_ID.fullmatch(tool_call_id):
            new_id = tool_call_id
        elif tool_call_id in self._rewritten:
            new_id = self._rewritten[tool_call_id]
        else:
            while (new_id := kimi_tool_call_id(function_name, index)) in self._taken:
                index += 1
        self._taken.add(new_id)
        self._rewritten[tool_call_id] = new_id
        return new_id


class ToolCallIds:
    """Hands out ids for one response, never the same one twice."""

    def __init__(self, style: IdStyle = IdStyle.OPENAI):
        self.style = style
        self._make = mistral_tool_call_id if style is IdStyle.MISTRAL else openai_tool_call_id
        self._given: set[str] = set()
        self._kimi_index = 0

    def next(self, name: str = "") -> str:
        """A fresh id; Kimi's names the call and counts the response's calls."""
        while True:
            if self.style is IdStyle.KIMI:
                new_id, self._kimi_index = kimi_tool_call_id(name, self._kimi_index), self._kimi_index + 1
            else:
                new_id = self._make()
            if new_id not in self._given:
                self._given.add(new_id)
                return new_id

    def claim(self, written: str, name: str) -> str:
        """The id the model wrote, unless this response already has it (then a fresh one)."""
        if written and written not in self._given:
            self._given.add(written)
            return written
        return self.next(name)
