"""Which tool names a parser may accept: those the request offered, or any name when it offered none."""

from __future__ import annotations

from toolwire.protocol.chat import ChatCompletionRequest


class OfferedTools:
    def __init__(self, request: ChatCompletionRequest | None):
        tools = request.tools if request is not None else None
        self.names: frozenset[str] | None = frozenset(t.function.name for t in tools) if tools else None

    def accepts(self, name: str) -> bool:
        if not name:
            return False
        return self.names is None or name in self.names
