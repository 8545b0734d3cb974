"""A chat run's deltas -> Responses output items, and the stream events that build them.

`ResponseAssembler` is the one path of both modes: a streamed response sends the events it returns,
a whole one only keeps `response`, so the two cannot disagree. Items follow each other as the model
wrote them: reasoning, message text and each tool call are separate items, and opening one closes
the ones before it (its `output_item.done`), as OpenAI streams them.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from toolwire.protocol.base import random_id
from toolwire.protocol.tool_calls import DeltaMessage, DeltaToolCall

logger = logging.getLogger("toolwire.api.responses")

_TEXT_KINDS = {
    # kind: (id prefix, content part type, delta event, done event)
    "reasoning": ("rs_", "reasoning_text", "response.reasoning_text.delta", "response.reasoning_text.done"),
    "message": ("msg_", "output_text", "response.output_text.delta", "response.output_text.done"),
}


@dataclass
class _OpenItem:
    index: int  # output_index
    item: dict[str, Any]
    parts: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.item["type"]

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ResponseAssembler:
    def __init__(self, skeleton: dict[str, Any]):
        self.response: dict[str, Any] = dict(skeleton, status="in_progress", output=[], usage=None,
                                             incomplete_details=None, error=None)
        self._sequence = 0
        self._open: list[_OpenItem] = []
        self._calls: dict[int, _OpenItem] = {}  # the chat delta's call index -> its item
        self._reasoning: list[str] = []

    @property
    def reasoning_text(self) -> str:
        return "".join(self._reasoning)

    def start(self) -> list[dict]:
        return [self._event("response.created", response=copy.deepcopy(self.response)),
                self._event("response.in_progress", response=copy.deepcopy(self.response))]

    def add(self, delta: DeltaMessage | None) -> list[dict]:
        if delta is None:
            return []
        events: list[dict] = []
        if delta.reasoning_content:
            self._reasoning.append(delta.reasoning_content)
            events += self._text("reasoning", delta.reasoning_content)
        if delta.content:
            events += self._text("message", delta.content)
        for call in delta.tool_calls or ():
            events += self._call(call)
        return events

    def finish(self, finish_reason: str | None, usage: dict[str, Any]) -> list[dict]:
        """Closes what is open and completes the response (`incomplete` when max_output_tokens ran out)."""
        truncated = finish_reason == "length"
        events: list[dict] = []
        if not self.response["output"]:  # nothing written: one empty message, as chat gives content ""
            events += self._open_text("message")
        events += self._close_all("incomplete" if truncated else "completed")
        self.response.update(status="incomplete" if truncated else "completed", usage=usage,
                             incomplete_details={"reason": "max_output_tokens"} if truncated else None)
        kind = "response.incomplete" if truncated else "response.completed"
        return events + [self._event(kind, response=self.response)]

    # ------------------------------------------------------------------ items

    def _text(self, kind: str, text: str) -> list[dict]:
        events: list[dict] = []
        current = self._open[-1] if self._open else None
        if current is None or current.kind != kind:
            events += self._close_all("completed")
            events += self._open_text(kind)
            current = self._open[-1]
        current.parts.append(text)
        delta_event = _TEXT_KINDS[kind][2]
        extra = {"logprobs": []} if kind == "message" else {}
        return events + [self._event(delta_event, item_id=current.item["id"], output_index=current.index,
                                     content_index=0, delta=text, **extra)]

    def _open_text(self, kind: str) -> list[dict]:
        prefix, part_type, _, _ = _TEXT_KINDS[kind]
        if kind == "message":
            item = {"type": "message", "id": random_id(prefix), "role": "assistant", "status": "in_progress",
                    "content": []}
        else:
            item = {"type": "reasoning", "id": random_id(prefix), "summary": [], "content": [],
                    "status": "in_progress"}
        opened = self._add_item(item)
        return [self._event("response.output_item.added", output_index=opened.index, item=copy.deepcopy(item)),
                self._event("response.content_part.added", item_id=item["id"], output_index=opened.index,
                            content_index=0, part=_part(part_type, ""))]

    def _call(self, call: DeltaToolCall) -> list[dict]:
        events: list[dict] = []
        arguments = call.function.arguments if call.function is not None else None
        opened = self._calls.get(call.index)
        if opened is None:
            events += self._close_all("completed")
            item = {"type": "function_call", "id": random_id("fc_"), "call_id": call.id or random_id("call_"),
                    "name": (call.function.name if call.function else None) or "", "arguments": "",
                    "status": "in_progress"}
            opened = self._calls[call.index] = self._add_item(item)
            events.append(self._event("response.output_item.added", output_index=opened.index,
                                      item=copy.deepcopy(item)))
        elif opened not in self._open:
            # Parsers finish one call before starting the next; should one not, the late text is dropped.
            logger.warning("arguments for tool call %d after it was closed are dropped", call.index)
            return events
        if arguments:
            opened.parts.append(arguments)
            events.append(self._event("response.function_call_arguments.delta", item_id=opened.item["id"],
                                      output_index=opened.index, delta=arguments))
        return events

    def _add_item(self, item: dict) -> _OpenItem:
        opened = _OpenItem(len(self.response["output"]), item)
        self.response["output"].append(item)
        self._open.append(opened)
        return opened

    def _close_all(self, status: str) -> list[dict]:
        events: list[dict] = []
        for opened in self._open:
            item, text = opened.item, opened.text
            item["status"] = status
            common = {"item_id": item["id"], "output_index": opened.index}
            if opened.kind == "function_call":
                item["arguments"] = text
                events.append(self._event("response.function_call_arguments.done", **common,
                                          name=item["name"], arguments=text))
            else:
                _, part_type, _, done_event = _TEXT_KINDS[opened.kind]
                part = _part(part_type, text)
                item["content"] = [part]
                extra = {"logprobs": []} if opened.kind == "message" else {}
                events.append(self._event(done_event, **common, content_index=0, text=text, **extra))
                events.append(self._event("response.content_part.done", **common, content_index=0,
                                          part=copy.deepcopy(part)))
            events.append(self._event("response.output_item.done", output_index=opened.index,
                                      item=copy.deepcopy(item)))
        self._open = []
        return events

    def _event(self, kind: str, **fields: Any) -> dict:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event


def _part(part_type: str, text: str) -> dict:
    part = {"type": part_type, "text": text}
    if part_type == "output_text":
        part["annotations"] = []
    return part
