"""Assemble a streamed chat completion into the message it describes.

OpenAI streams a reply as chunks whose ``choices[i].delta`` carry pieces of one message: ``content``
text, and ``tool_calls`` entries keyed by ``index``. The first entry for an index brings the call's
``id``, ``type`` and (whole) function ``name``; later entries for the same index bring ``arguments``
fragments, to be joined in order. Entries for different indexes may interleave.

    assembler = StreamAssembler()
    for chunk in client.chat.completions.create(..., stream=True):
        for event in assembler.feed(chunk):
            if isinstance(event, ContentDelta):
                print(event.text, end="", flush=True)
    message = assembler.message()        # {"role": "assistant", "content": ..., "tool_calls": [...]}
    completion = assembler.completion()  # the same shape as the non-streamed response, as a dict

Chunks may be the OpenAI SDK's ``ChatCompletionChunk`` objects or plain dicts (decoded SSE data).
Server quirks that are absorbed here rather than left to every caller:

- a tool-call entry without ``index`` (some servers omit it) belongs to the call with the same
  ``id``, or starts a new call when it brings a new ``id``, or else continues the latest call;
- a ``name`` repeated whole in later entries is not appended twice (a name streamed in pieces is
  joined, as the spec allows);
- reasoning text arrives as ``reasoning_content`` (vLLM, DeepSeek) or ``reasoning``; both are kept
  apart from the content;
- a final chunk with no choices and a ``usage`` object (``stream_options.include_usage``) is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = [
    "StreamAssembler", "ChoiceBuffer", "ToolCallBuffer", "assemble_stream",
    "StreamEvent", "ContentDelta", "ReasoningDelta", "ToolCallStarted", "ToolCallArgumentsDelta",
    "ChoiceFinished",
]


@dataclass(frozen=True)
class ContentDelta:
    text: str
    choice: int = 0


@dataclass(frozen=True)
class ReasoningDelta:
    text: str
    choice: int = 0


@dataclass(frozen=True)
class ToolCallStarted:
    """A call's name is known (its arguments may still be streaming)."""

    index: int
    id: str
    name: str
    choice: int = 0


@dataclass(frozen=True)
class ToolCallArgumentsDelta:
    index: int
    fragment: str
    choice: int = 0


@dataclass(frozen=True)
class ChoiceFinished:
    finish_reason: str
    choice: int = 0


StreamEvent = Union[ContentDelta, ReasoningDelta, ToolCallStarted, ToolCallArgumentsDelta, ChoiceFinished]


@dataclass
class ToolCallBuffer:
    """One tool call as assembled so far."""

    index: int
    id: str = ""
    type: str = "function"
    name: str = ""
    arguments: str = ""
    announced: bool = False  # has ToolCallStarted been emitted?

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class ChoiceBuffer:
    """One choice's message as assembled so far."""

    index: int
    role: str = "assistant"
    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    calls: dict[int, ToolCallBuffer] = field(default_factory=dict)
    finish_reason: str | None = None

    @property
    def tool_calls(self) -> list[ToolCallBuffer]:
        return [self.calls[i] for i in sorted(self.calls)]

    def message(self) -> dict[str, Any]:
        """The assembled message in the response shape (``tool_calls`` only when there are some)."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.refusal is not None:
            message["refusal"] = self.refusal
        if self.reasoning is not None:
            message["reasoning_content"] = self.reasoning
        if self.calls:
            message["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        return message


class StreamAssembler:
    """Feed it chunks in order; read the assembled message(s) at any point."""

    def __init__(self) -> None:
        self.choices: dict[int, ChoiceBuffer] = {}
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None
        self.system_fingerprint: str | None = None
        self.usage: Any = None

    def feed(self, chunk: Any) -> list[StreamEvent]:
        """Add one chunk; return what it brought, as events (in the order the chunk has them)."""
        events: list[StreamEvent] = []
        for key in ("id", "model", "created", "system_fingerprint"):
            value = _get(chunk, key)
            if value is not None and getattr(self, key) is None:
                setattr(self, key, value)
        usage = _get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        for choice in _get(chunk, "choices") or ():
            index = _get(choice, "index") or 0
            buffer = self.choices.setdefault(index, ChoiceBuffer(index))
            delta = _get(choice, "delta")
            if delta is not None:
                self._feed_delta(buffer, delta, events)
            reason = _get(choice, "finish_reason")
            if reason:
                buffer.finish_reason = reason
                events.append(ChoiceFinished(reason, index))
        return events

    def _feed_delta(self, buffer: ChoiceBuffer, delta: Any, events: list[StreamEvent]) -> None:
        role = _get(delta, "role")
        if role:
            buffer.role = role
        for key in ("reasoning_content", "reasoning"):
            text = _get(delta, key)
            if isinstance(text, str) and text:
                buffer.reasoning = (buffer.reasoning or "") + text
                events.append(ReasoningDelta(text, buffer.index))
        text = _get(delta, "content")
        if isinstance(text, str) and text:
            buffer.content = (buffer.content or "") + text
            events.append(ContentDelta(text, buffer.index))
        refusal = _get(delta, "refusal")
        if isinstance(refusal, str) and refusal:
            buffer.refusal = (buffer.refusal or "") + refusal
        for entry in _get(delta, "tool_calls") or ():
            self._feed_tool_call(buffer, entry, events)

    def _feed_tool_call(self, buffer: ChoiceBuffer, entry: Any, events: list[StreamEvent]) -> None:
        call_id = _get(entry, "id") or ""
        index = _get(entry, "index")
        if index is None:
            index = _index_without_index(buffer, call_id)
        call = buffer.calls.get(index)
        if call is None:
            call = buffer.calls[index] = ToolCallBuffer(index)
        if call_id and not call.id:
            call.id = call_id
        kind = _get(entry, "type")
        if kind:
            call.type = kind
        function = _get(entry, "function")
        name = _get(function, "name") if function is not None else None
        if name and name != call.name:
            call.name += name
        if call.name and not call.announced:
            call.announced = True
            events.append(ToolCallStarted(index, call.id, call.name, buffer.index))
        fragment = _get(function, "arguments") if function is not None else None
        if fragment:
            call.arguments += fragment
            events.append(ToolCallArgumentsDelta(index, fragment, buffer.index))

    # --- reading ---------------------------------------------------------------------------------

    def choice(self, index: int = 0) -> ChoiceBuffer:
        """The buffer of choice ``index`` (an empty one when the stream had none)."""
        return self.choices.get(index) or ChoiceBuffer(index)

    def message(self, index: int = 0) -> dict[str, Any]:
        return self.choice(index).message()

    def completion(self) -> dict[str, Any]:
        """The stream as one ``chat.completion`` response dict (what ``stream=False`` returns)."""
        usage = self.usage
        if usage is not None and hasattr(usage, "model_dump"):
            usage = usage.model_dump(exclude_none=True)
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": index,
                    "message": self.choices[index].message(),
                    "finish_reason": self.choices[index].finish_reason,
                }
                for index in sorted(self.choices)
            ],
            "usage": usage,
        }


def assemble_stream(chunks: Iterable[Any]) -> dict[str, Any]:
    """Feed every chunk to a fresh ``StreamAssembler`` and return ``completion()``."""
    assembler = StreamAssembler()
    for chunk in chunks:
        assembler.feed(chunk)
    return assembler.completion()


def _index_without_index(buffer: ChoiceBuffer, call_id: str) -> int:
    for index, call in buffer.calls.items():
        if call_id and call.id == call_id:
            return index
    if not buffer.calls or call_id:
        return max(buffer.calls, default=-1) + 1
    return max(buffer.calls)


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)
