"""Helpers for the per-format example tests: parse a reply whole and under many chunkings."""

from __future__ import annotations

import random

from tests.formats.streaming_harness import assert_stream_matches_whole
from toolwire.formats.registry import ToolParserManager
from toolwire.plugins import ChatCompletionRequest, DeltaMessage

DEFAULT_TOOLS = ("get_weather", "search")


def make_request(tools=DEFAULT_TOOLS) -> ChatCompletionRequest:
    offered = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in tools]
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=offered or None)


def parse(parser_name: str, text: str, tools=DEFAULT_TOOLS) -> tuple[str, list[tuple[str, str]]]:
    """(content, [(name, arguments)]) of the whole text, after checking that every chunking agrees."""
    parser_class = ToolParserManager.get_tool_parser(parser_name)
    request = make_request(tools)
    whole = assert_stream_matches_whole(parser_class, text, request, "whole")
    for sizes in (1, 2, 3, 5):
        assert_stream_matches_whole(parser_class, text, request, sizes)
    for seed in range(4):
        assert_stream_matches_whole(parser_class, text, request, "random", random.Random(seed))
    return whole


def stream_deltas(parser_name: str, chunks: list[str], tools=DEFAULT_TOOLS) -> list[DeltaMessage | None]:
    """The deltas a server would get for these chunks, the last one from finish_streaming."""
    parser = ToolParserManager.get_tool_parser(parser_name)(None)
    request = make_request(tools)
    deltas, previous = [], ""
    for chunk in chunks:
        current = previous + chunk
        deltas.append(parser.extract_tool_calls_streaming(previous, current, chunk, [], [], [], request))
        previous = current
    deltas.append(parser.finish_streaming(previous, request))
    return deltas
