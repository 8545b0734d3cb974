"""For every declared format: the whole-text result equals the generated truth, and streaming under
any chunking (1 character, random 1-16, whole) equals the whole-text result."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.formats.generated_replies import REPLIES, TOOL_NAMES, GeneratedReply
from tests.formats.streaming_harness import assert_stream_matches_whole, parse_whole
from toolwire.formats.registry import ToolParserManager
from toolwire.plugins import ChatCompletionRequest


def request(offer_tools: bool) -> ChatCompletionRequest:
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in TOOL_NAMES]
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=tools if offer_tools else None)


@pytest.mark.parametrize("format_name", sorted(REPLIES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_stream_equals_whole_equals_truth(format_name: str, data) -> None:
    reply: GeneratedReply = data.draw(REPLIES[format_name], label="reply")
    parser_class = ToolParserManager.get_tool_parser(format_name)
    req = request(offer_tools=data.draw(st.booleans(), label="offer_tools"))

    content, calls = parse_whole(parser_class, reply.text, req)
    assert (content, calls) == (reply.content, reply.calls), reply.text
    for name, arguments in calls:
        assert isinstance(json.loads(arguments), dict)

    seed = data.draw(st.integers(0, 2**32 - 1), label="chunking seed")
    for sizes in (1, "random", "whole"):
        assert_stream_matches_whole(parser_class, reply.text, req, sizes, random.Random(seed))


@pytest.mark.parametrize("format_name", sorted(REPLIES))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_prefix_streams_like_whole(format_name: str, data) -> None:
    """A reply cut anywhere (max_tokens) still streams exactly as it parses whole, and its
    arguments are still valid JSON objects."""
    reply: GeneratedReply = data.draw(REPLIES[format_name], label="reply")
    cut = data.draw(st.integers(0, len(reply.text)), label="cut")
    text = reply.text[:cut]
    parser_class = ToolParserManager.get_tool_parser(format_name)
    req = request(offer_tools=True)
    _, calls = assert_stream_matches_whole(parser_class, text, req, "random", random.Random(cut))
    assert_stream_matches_whole(parser_class, text, req, 1)
    for name, arguments in calls:
        assert name in TOOL_NAMES
        assert isinstance(json.loads(arguments), dict)


@pytest.mark.parametrize("format_name", sorted(REPLIES))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_reply_streams_like_whole(format_name: str, data) -> None:
    """Garbage inserted anywhere breaks calls in every possible place: streaming still equals whole,
    every call is an offered tool with a JSON object for arguments, and no text is invented."""
    reply: GeneratedReply = data.draw(REPLIES[format_name], label="reply")
    at = data.draw(st.integers(0, len(reply.text)), label="at")
    garbage = data.draw(st.sampled_from(["x", "}", "]", '"', "\\", ",", ":", "{", "1.", "\\u12", "<", "\n"]))
    text = reply.text[:at] + garbage + reply.text[at:]
    parser_class = ToolParserManager.get_tool_parser(format_name)
    req = request(offer_tools=True)
    content, calls = assert_stream_matches_whole(parser_class, text, req, "random", random.Random(at))
    assert_stream_matches_whole(parser_class, text, req, 1)
    for name, arguments in calls:
        assert name in TOOL_NAMES
        assert isinstance(json.loads(arguments), dict)
    assert len(content) <= len(text)
