"""Runs a tool parser over a reply whole and in chunks, and assembles the deltas as a client would."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from toolwire.plugins import ChatCompletionRequest, DeltaMessage, ToolParser


@dataclass
class AssembledCall:
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class AssembledReply:
    content: str = ""
    calls: dict[int, AssembledCall] = field(default_factory=dict)

    def add(self, delta: DeltaMessage | None) -> None:
        if delta is None:
            return
        self.content += delta.content or ""
        for call_delta in delta.tool_calls:
            call = self.calls.get(call_delta.index)
            if call is None:
                # The first delta of a call must carry its id, type and whole name.
                assert call_delta.id and call_delta.type == "function", call_delta
                assert call_delta.function is not None and call_delta.function.name, call_delta
                call = self.calls[call_delta.index] = AssembledCall(id=call_delta.id)
            else:
                assert call_delta.id is None or call_delta.id == call.id, call_delta
            fn = call_delta.function
            if fn is not None:
                if fn.name:
                    assert call.name in (None, fn.name), "a call's name must arrive once, whole"
                    call.name = fn.name
                call.arguments += fn.arguments or ""

    def as_tuples(self) -> tuple[str, list[tuple[str, str]]]:
        ordered = [self.calls[i] for i in sorted(self.calls)]
        assert sorted(self.calls) == list(range(len(ordered))), "call indexes must be 0, 1, 2, ..."
        return self.content, [(c.name, c.arguments) for c in ordered]


def chunk_text(text: str, sizes: str | int, rng: random.Random | None = None) -> list[str]:
    """Split text into chunks: a fixed size, 'random' 1-16 chars, or 'whole'."""
    if sizes == "whole" or not text:
        return [text]
    rng = rng or random.Random(0)
    chunks, i = [], 0
    while i < len(text):
        step = sizes if isinstance(sizes, int) else rng.randint(1, 16)
        chunks.append(text[i : i + step])
        i += step
    return chunks


def parse_streaming(
    parser_class: type[ToolParser], text: str, request: ChatCompletionRequest, chunks: list[str], tokenizer=None
) -> AssembledReply:
    parser = parser_class(tokenizer)
    reply, previous = AssembledReply(), ""
    for chunk in chunks:
        current = previous + chunk
        reply.add(parser.extract_tool_calls_streaming(previous, current, chunk, [], [], [], request))
        previous = current
    reply.add(parser.finish_streaming(previous, request))
    return reply


def parse_whole(
    parser_class: type[ToolParser], text: str, request: ChatCompletionRequest, tokenizer=None
) -> tuple[str, list[tuple[str, str]]]:
    info = parser_class(tokenizer).extract_tool_calls(text, request)
    assert info.tools_called == bool(info.tool_calls)
    ids = [c.id for c in info.tool_calls]
    assert len(set(ids)) == len(ids), "tool call ids must be unique within a response"
    return info.content or "", [(c.function.name, c.function.arguments) for c in info.tool_calls]


def assert_stream_matches_whole(
    parser_class: type[ToolParser], text: str, request: ChatCompletionRequest, sizes, rng=None
) -> tuple[str, list[tuple[str, str]]]:
    whole = parse_whole(parser_class, text, request)
    streamed = parse_streaming(parser_class, text, request, chunk_text(text, sizes, rng)).as_tuples()
    assert streamed == whole, f"chunks={sizes}\ntext={text!r}\nstreamed={streamed!r}\nwhole={whole!r}"
    return whole
