"""A chat run's events -> Anthropic Messages stream events, and the whole message built from them.

`MessageEvents` turns each ChoiceEvent into the stream's events (`message_start`,
`content_block_start` / `_delta` / `_stop`, `message_delta`, `message_stop`). A non-streamed reply
is those same events folded by `MessageAssembler` (as the Anthropic SDK folds a stream), so the two
modes cannot disagree.

Blocks follow the order of the deltas: reasoning -> a `thinking` block, content -> a `text` block,
each tool call -> a `tool_use` block (its id `toolu_` + the chat call id's suffix). A block of
another kind (or a new call) closes the open one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from toolwire.chat.choice_stream import ChoiceEvent
from toolwire.protocol.tool_calls import DeltaToolCall

logger = logging.getLogger("toolwire.api.messages")

_DELTA_FIELDS = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking"),
                 "tool_use": ("input_json_delta", "partial_json")}


def tool_use_id(call_id: str) -> str:
    return call_id if call_id.startswith("toolu_") else "toolu_" + call_id.removeprefix("call_")


def stop_reason(event: ChoiceEvent | None, stop_sequences: list[str]) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence) from the chat finish: which stop string matched is the engine's
    stop_reason; a stop string the server added itself (a parser's) is a plain end_turn."""
    finish = event.finish_reason if event else None
    if finish == "tool_calls":
        return "tool_use", None
    if finish == "length":
        return "max_tokens", None
    if finish == "stop" and isinstance(event.stop_reason, str) and event.stop_reason in stop_sequences:
        return "stop_sequence", event.stop_reason
    return "end_turn", None


class MessageEvents:
    """One reply's stream events, produced as its chat events arrive."""

    def __init__(self, message_id: str, model: str, stop_sequences: list[str]):
        self.message_id, self.model, self.stop_sequences = message_id, model, stop_sequences
        self.started = False
        self.blocks = 0
        self.open_kind: str | None = None
        self.open_call: int | None = None  # the chat call index of the open tool_use block
        self.finish: ChoiceEvent | None = None

    def start(self, usage: dict[str, int]) -> list[dict]:
        """message_start, once: sent when the first event arrives (the prompt is then processed, so
        its cached part is known)."""
        if self.started:
            return []
        self.started = True
        return [{"type": "message_start", "message": {
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 0}}}]

    def add(self, event: ChoiceEvent) -> list[dict]:
        out: list[dict] = []
        delta = event.delta
        if delta is not None:
            if delta.reasoning_content:
                out += self._text("thinking", delta.reasoning_content)
            if delta.content:
                out += self._text("text", delta.content)
            for call in delta.tool_calls or ():
                out += self._call(call)
        if event.finish_reason is not None:
            self.finish = event
        return out

    def end(self, usage: dict[str, int]) -> list[dict]:
        reason, sequence = stop_reason(self.finish, self.stop_sequences)
        return self._close() + [
            {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence}, "usage": usage},
            {"type": "message_stop"},
        ]

    def _text(self, kind: str, text: str) -> list[dict]:
        out = [] if self.open_kind == kind else self._close() + self._open(
            {"type": "text", "text": ""} if kind == "text" else {"type": "thinking", "thinking": "", "signature": ""})
        return out + [self._delta(text)]

    def _call(self, call: DeltaToolCall) -> list[dict]:
        out: list[dict] = []
        function = call.function
        if call.id or (function and function.name):
            out += self._close() + self._open({"type": "tool_use", "id": tool_use_id(call.id or ""),
                                               "name": function.name if function else "", "input": {}})
            self.open_call = call.index
        if function and function.arguments:
            if self.open_kind == "tool_use" and self.open_call == call.index:
                out.append(self._delta(function.arguments))
            else:  # the parsers send a call's arguments right after its name; this would be a bug
                logger.warning("arguments for tool call %d arrived after its block closed; dropped", call.index)
        return out

    def _open(self, block: dict) -> list[dict]:
        self.open_kind = block["type"]
        return [{"type": "content_block_start", "index": self.blocks, "content_block": block}]

    def _delta(self, text: str) -> dict:
        kind, field = _DELTA_FIELDS[self.open_kind]
        return {"type": "content_block_delta", "index": self.blocks, "delta": {"type": kind, field: text}}

    def _close(self) -> list[dict]:
        if self.open_kind is None:
            return []
        self.open_kind, self.open_call = None, None
        self.blocks += 1
        return [{"type": "content_block_stop", "index": self.blocks - 1}]


class MessageAssembler:
    """Folds stream events into the whole message, as a client does."""

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self._json: dict[int, list[str]] = {}

    def add(self, event: dict) -> None:
        kind = event["type"]
        if kind == "message_start":
            self.message = json.loads(json.dumps(event["message"]))
        elif kind == "content_block_start":
            self.message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            block, delta = self.message["content"][event["index"]], event["delta"]
            if delta["type"] == "input_json_delta":
                self._json.setdefault(event["index"], []).append(delta["partial_json"])
            else:
                field = _DELTA_FIELDS[block["type"]][1]
                block[field] += delta[field]
        elif kind == "content_block_stop":
            block = self.message["content"][event["index"]]
            if block["type"] == "tool_use":
                block["input"] = _arguments(self._json.pop(event["index"], []), block["name"])
        elif kind == "message_delta":
            self.message.update(event["delta"])
            self.message["usage"].update(event["usage"])


def _arguments(fragments: list[str], name: str) -> dict:
    text = "".join(fragments)
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        logger.warning("tool call %s has arguments that are not a JSON object: %.200s", name, text)
        return {}
    return value
