"""Behaviour every declared format shares, checked on the generic machine."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.format_checks import make_request, parse, stream_deltas
from tests.formats.generated_replies import REPLIES
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.streaming import FormatStream

BUILTIN_NAMES = [
    "hermes", "qwen25", "qwen", "mistral", "llama3_json", "llama4_json", "llama3", "granite",
    "granite-20b-fc", "granite_20b_fc", "internlm", "jamba", "deepseekv3", "deepseek_v3",
    "deepseekv31", "deepseek_v31",
]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_every_name_is_registered_with_its_format(name):
    parser_class = ToolParserManager.get_tool_parser(name)
    assert issubclass(parser_class, FormatToolParser)
    assert isinstance(parser_class.family.format, ToolCallFormat)
    assert parser_class.reads_full_text is False  # test_streaming_reads_only_the_delta holds it to that


class Untouchable(str):
    """A stand-in for previous_text/current_text: any use of it fails the test."""

    def __getattribute__(self, name):
        raise AssertionError(f"the parser used the accumulated text ({name})")

    def __len__(self):
        raise AssertionError("the parser used the accumulated text (len)")

    def __add__(self, other):
        raise AssertionError("the parser used the accumulated text (+)")


@pytest.mark.parametrize("name", sorted(REPLIES))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_streaming_reads_only_the_delta(name, data):
    text = data.draw(REPLIES[name]).text
    parser = ToolParserManager.get_tool_parser(name)(None)
    request = make_request()
    for i in range(0, len(text), 3):
        parser.extract_tool_calls_streaming(Untouchable(), Untouchable(), text[i : i + 3], [], [], [], request)
    parser.finish_streaming(Untouchable(), request)


def test_long_arguments_are_not_kept_in_memory():
    class Null:
        def content(self, text): pass
        def start_call(self, *args): pass
        def arguments(self, index, fragment): pass

    stream = FormatStream(ToolParserManager.get_tool_parser("hermes").family.format, None, Null())
    stream.offered = type("Any", (), {"accepts": staticmethod(lambda name: True)})()
    stream.feed('<tool_call>{"name": "f", "arguments": {"data": "')
    for _ in range(20000):
        stream.feed("abcd")
        assert stream.log.end - stream.accounted <= 8
    assert len(stream.log._chunks) - stream.log._first < 10


def test_no_exception_escapes(monkeypatch):
    def explode(self, text):
        raise RuntimeError("boom")

    parser_class = ToolParserManager.get_tool_parser("hermes")
    request = make_request()
    monkeypatch.setattr(FormatStream, "feed", explode)
    info = parser_class(None).extract_tool_calls("Hi <tool_call>{}", request)
    assert info.content == "Hi <tool_call>{}" and not info.tool_calls

    parser = parser_class(None)
    assert parser.extract_tool_calls_streaming("", "Hi", "Hi", [], [], [], request).content == "Hi"
    assert parser.extract_tool_calls_streaming("Hi", "Hi!", "!", [], [], [], request).content == "!"
    assert parser.finish_streaming("Hi!", request) is None


def test_held_text_is_released_when_the_parser_fails_midway(monkeypatch):
    parser = ToolParserManager.get_tool_parser("hermes")(None)
    request = make_request()
    assert parser.extract_tool_calls_streaming("", "", "Hi <tool", [], [], [], request).content == "Hi "
    monkeypatch.setattr(FormatStream, "_run", lambda *args, **kwargs: 1 / 0)
    assert parser.extract_tool_calls_streaming("", "", "_x", [], [], [], request).content == "<tool_x"


def test_ids_are_openai_style_and_unique():
    text = "".join('<tool_call>{"name": "search", "arguments": {}}</tool_call>' for _ in range(30))
    info = ToolParserManager.get_tool_parser("hermes")(None).extract_tool_calls(text, make_request())
    ids = [c.id for c in info.tool_calls]
    assert len(set(ids)) == 30
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", i) for i in ids)


def test_stream_ids_match_call_indexes():
    chunks = ['<tool_call>{"name": "search", "arguments": {}}</tool_call>'] * 2
    deltas = [d for d in stream_deltas("hermes", chunks) if d]
    starts = [tc for d in deltas for tc in d.tool_calls if tc.id]
    assert [tc.index for tc in starts] == [0, 1] and starts[0].id != starts[1].id


def test_adjust_request_keeps_special_tokens_when_tools_are_offered():
    parser = ToolParserManager.get_tool_parser("mistral")(None)
    assert parser.adjust_request(make_request()).skip_special_tokens is False
    assert parser.adjust_request(make_request(tools=())).skip_special_tokens is True


def test_extract_tool_calls_is_independent_of_a_running_stream():
    parser = ToolParserManager.get_tool_parser("hermes")(None)
    request = make_request()
    parser.extract_tool_calls_streaming("", "", "<tool_call>{", [], [], [], request)
    info = parser.extract_tool_calls('<tool_call>{"name": "search"}</tool_call>', request)
    assert [(c.function.name, c.function.arguments) for c in info.tool_calls] == [("search", "{}")]


def test_a_new_format_needs_only_its_description():
    format_ = ToolCallFormat(name="demo", start=("<call>",), end=("</call>",), payloads=(Payload.JSON_ARRAY,))

    @ToolParserManager.register_module("demo-format-test")
    class DemoParser(FormatToolParser):
        family = DeclaredFamily(format_)

    text = 'a<call>[{"name": "search", "arguments": {"q": 1}}]</call>b'
    assert parse("demo-format-test", text) == ("ab", [("search", '{"q": 1}')])
    del ToolParserManager.tool_parsers["demo-format-test"]


def test_empty_output():
    assert parse("hermes", "") == ("", [])
    assert stream_deltas("hermes", []) == [None]
