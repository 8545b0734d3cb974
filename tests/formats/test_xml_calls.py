"""What every XML-style family (qwen3_coder, glm45, glm47, minimax_m2) guarantees, checked through each
family's own parser: values typed by the tool's schema, long string values streamed as they are
written, broken output returned as content, cut-off markers held back."""

from __future__ import annotations

import json
import re

import pytest

from tests.formats.streaming_harness import assert_stream_matches_whole, chunk_text, parse_streaming
from toolwire.formats.registry import ToolParserManager
from toolwire.protocol.chat import ChatCompletionRequest

FAMILIES = ["qwen3_coder", "glm45", "glm47", "minimax_m2"]
SCHEMA = {"type": "object", "properties": {
    "path": {"type": "string"}, "content": {"type": "string"}, "count": {"type": "integer"},
    "ratio": {"type": "number"}, "force": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
    "options": {"type": "object"}, "note": {"type": ["string", "null"]}}}
REQUEST = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=[
    {"type": "function", "function": {"name": "write_file", "parameters": SCHEMA}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
])


def parser(family: str):
    return ToolParserManager.get_tool_parser(family)


def written(family: str, arguments: dict, name: str = "write_file") -> str:
    """A call as the family's models write it (the family's rendering writes values as raw text)."""
    return parser(family).family.render_calls([(name, arguments)])


def both_ways(family: str, text: str):
    result = None
    for sizes in ("whole", 1, 3, "random"):
        result = assert_stream_matches_whole(parser(family), text, REQUEST, sizes)
    return result


@pytest.mark.parametrize("family", FAMILIES)
def test_values_are_typed_by_the_schema(family):
    text = written(family, {"path": "123", "count": "123", "ratio": "2.5", "force": "true", "tags": '["a", "b"]',
                            "options": "{'deep': True}", "note": "null", "extra": "[1, 2]"})
    content, calls = both_ways(family, text)
    assert content == ""
    assert json.loads(calls[0][1]) == {"path": "123", "count": 123, "ratio": 2.5, "force": True, "tags": ["a", "b"],
                                       "options": {"deep": True}, "note": None, "extra": [1, 2]}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_value_that_does_not_fit_its_type_is_kept_as_a_string(family):
    text = written(family, {"count": "abc", "ratio": "1e400", "force": "yes", "tags": "[1,", "options": "null"})
    _, calls = both_ways(family, text)
    assert json.loads(calls[0][1]) == {"count": "abc", "ratio": "1e400", "force": "yes", "tags": "[1,",
                                       "options": "null"}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_100kb_string_value_streams_before_its_end_tag(family):
    code = 'print("<tool_call> and </function> are text here")\n' * 2000  # ~100 KB
    text = written(family, {"path": "a.py", "content": code})
    end_of_value = text.rindex(code) + len(code)
    chunks = chunk_text(text, 16)
    p = parser(family)()
    sent_before_end, previous = [], ""
    for chunk in chunks:
        delta = p.extract_tool_calls_streaming(previous, previous + chunk, chunk, [], [], [], REQUEST)
        previous += chunk
        if delta is not None and len(previous) < end_of_value:
            sent_before_end += [c.function.arguments for c in delta.tool_calls if c.function.arguments]
    assert len(sent_before_end) > 1000, "the value must arrive in many deltas while it is written"
    assert "".join(sent_before_end).startswith('{"path": "a.py", "content": "print(\\"<tool_call>')
    streamed = parse_streaming(parser(family), text, REQUEST, chunks).as_tuples()
    whole = assert_stream_matches_whole(parser(family), text, REQUEST, "whole")
    assert streamed == whole and json.loads(whole[1][0][1]) == {"path": "a.py", "content": code}


@pytest.mark.parametrize("family", FAMILIES)
def test_several_calls_and_fresh_ids(family):
    text = "Let me do both.\n" + parser(family).family.render_calls(
        [("get_time", {}), ("write_file", {"path": "x", "count": 2})])
    content, calls = both_ways(family, text)
    assert content == "Let me do both.\n"
    assert calls == [("get_time", "{}"), ("write_file", '{"path": "x", "count": 2}')]
    ids = [c.id for c in parser(family)().extract_tool_calls(text, REQUEST).tool_calls]
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", i) for i in ids) and len(set(ids)) == 2


@pytest.mark.parametrize("family", FAMILIES)
def test_a_tool_that_was_not_offered_is_text(family):
    text = written(family, {"path": "x"}, name="rm_rf")
    assert both_ways(family, text) == (text, [])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_cut_off_start_marker_is_held_back_then_released(family):
    start = parser(family).family.syntax.block_start
    text = "Done. " + start[:-3]
    streamed = parse_streaming(parser(family), text, REQUEST, [text])
    assert streamed.content == "Done. " + start[:-3]  # released at the end of the output
    p = parser(family)()
    delta = p.extract_tool_calls_streaming("", text, text, [], [], [], REQUEST)
    assert delta.content == "Done. "  # held back while it may still become a marker


@pytest.mark.parametrize("family", FAMILIES)
def test_output_cut_off_inside_a_value_keeps_the_call(family):
    text = written(family, {"path": "notes.txt", "content": "first line\nsecond"})
    cut = text[: text.index("second") + len("sec")]
    content, calls = both_ways(family, cut)
    assert content == "" and json.loads(calls[0][1]) == {"path": "notes.txt", "content": "first line\nsec"}


@pytest.mark.parametrize("family", FAMILIES)
def test_broken_output_is_content_never_an_exception(family):
    for text in ["<tool_call>\n{\"name\": \"write_file\"}\n</tool_call>", "<minimax:tool_call><invoke",
                 "<tool_call>write_file<arg_key>path", "<tool_call>\n<function=write_file>\n<parameter=path",
                 "<tool_call>\n<function=write_file>\noops</tool_call> after", "<<<>>></></tool_call>"]:
        both_ways(family, text)
