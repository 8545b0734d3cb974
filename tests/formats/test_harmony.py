"""gpt-oss's harmony format: the `openai` tool parser and the `gpt_oss` reasoning parser, on real
outputs and on generated ones, alone and together in the server's output pipeline, streamed in any
chunking and whole."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.formats.generated_harmony import harmony_replies
from tests.formats.generated_replies import TOOL_NAMES
from tests.formats.streaming_harness import assert_stream_matches_whole, chunk_text
from toolwire.chat.output import ChoiceAccumulator, ChoiceOutputParser
from toolwire.formats.registry import ReasoningParserManager, ToolParserManager, tool_call_family
from toolwire.plugins import ChatCompletionRequest

TOOLS = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
         for name in ("get_weather", "get_time")]


def request(tools=TOOLS) -> ChatCompletionRequest:
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=tools)


def parse(text: str, tools=TOOLS) -> tuple[str, list[tuple[str, dict]]]:
    """The tool parser alone, whole; streamed in 1-character and random chunks gives the same."""
    parser = ToolParserManager.get_tool_parser("openai")
    for sizes in (1, "random"):
        content, calls = assert_stream_matches_whole(parser, text, request(tools), sizes, random.Random(7))
    return content, [(name, json.loads(arguments)) for name, arguments in calls]


def pipeline(text: str, chunks: list[str], tools=TOOLS):
    """The server's output pipeline (gpt_oss reasoning parser, then the openai tool parser)."""
    choice = ChoiceOutputParser(request(tools), reasoning_parser=ReasoningParserManager.get("gpt_oss")(),
                                tool_parser=ToolParserManager.get("openai")())
    accumulator = ChoiceAccumulator()
    for chunk in chunks:
        accumulator.add(choice.feed(chunk))
    accumulator.add(choice.finish())
    result = accumulator.result()
    return result.reasoning_content, result.content, [(c.function.name, c.function.arguments) for c in result.tool_calls]


# Outputs as gpt-oss writes them (the first `<|start|>assistant` is in the prompt).
CALL_AFTER_ANALYSIS = (
    "<|channel|>analysis<|message|>The user asks for the weather in Tokyo. Use get_weather.<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
    '{"location":"Tokyo","unit":"celsius"}<|call|>'
)
FINAL_AFTER_ANALYSIS = (
    "<|channel|>analysis<|message|>Simple arithmetic: 2+2=4.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>"
)


def test_call_after_analysis():
    content, calls = parse(CALL_AFTER_ANALYSIS)
    assert calls == [("get_weather", {"location": "Tokyo", "unit": "celsius"})]
    assert content == "The user asks for the weather in Tokyo. Use get_weather."  # no reasoning parser here


def test_final_answer_is_content_without_markers():
    assert parse(FINAL_AFTER_ANALYSIS) == ("Simple arithmetic: 2+2=4.2 + 2 = 4.", [])


@pytest.mark.parametrize("text", [
    ' to=functions.get_time<|channel|>commentary json<|message|>{"zone": "UTC"}<|call|>',  # as the template writes calls
    '<|channel|>commentary to=functions.get_time json<|message|>{"zone": "UTC"}<|call|>',
    '<|channel|>commentary to=functions.get_time<|message|>{"zone": "UTC"}<|call|>',
    '<|channel|>analysis to=functions.get_time <|constrain|>json<|message|>{"zone": "UTC"}<|call|>',
    '<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{"zone": "UTC"}',  # stopped on <|call|>
    '<|start|>assistant<|channel|>commentary to=functions.get_time <|constrain|>json<|message|> {"zone": "UTC"} <|call|>',
])
def test_the_ways_a_call_is_written(text):
    assert parse(text) == ("", [("get_time", {"zone": "UTC"})])


def test_several_calls_and_a_preamble():
    text = ("<|channel|>commentary<|message|>Checking both.<|end|>"
            '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>'
            '<|start|>assistant to=functions.get_time<|channel|>commentary json<|message|>{"zone": "CET"}<|call|>')
    assert parse(text) == ("Checking both.", [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "CET"})])


def test_markers_inside_argument_strings_are_text():
    arguments = {"code": 'print("<|call|><|end|><|start|>assistant<|channel|>final<|message|>x")'}
    text = f"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{json.dumps(arguments)}<|call|>"
    assert parse(text) == ("", [("get_weather", arguments)])


def test_what_is_not_a_call_stays_content_verbatim():
    browser = '<|channel|>analysis to=browser.search <|constrain|>json<|message|>{"query": "news"}<|call|>'
    assert parse(browser) == (browser, [])
    not_offered = '<|channel|>commentary to=functions.delete_all <|constrain|>json<|message|>{}<|call|>'
    assert parse(not_offered) == (not_offered, [])
    not_an_object = "<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>UTC<|call|>"
    assert parse(not_an_object) == (not_an_object, [])
    assert parse(not_offered, tools=None)[1] == [("delete_all", {})]  # no tools offered: any name


def test_broken_arguments_are_closed_at_their_last_safe_point():
    text = '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Par<|call|>'
    assert parse(text) == ("", [("get_weather", {"city": "Par<|call|>"})])
    text = '<|channel|>commentary to=functions.get_weather <|message|>{"city": "Paris", 3}<|call|>'
    assert parse(text) == ("3}", [("get_weather", {"city": "Paris"})])


def test_plain_text_and_broken_headers_are_content():
    assert parse("Hello, no harmony here.") == ("Hello, no harmony here.", [])
    assert parse("<|channel|>final oops<|end|>still text") == ("<|channel|>final oops<|end|>still text", [])
    long_text = "<|channel|>" + "x" * 300
    assert parse(long_text) == (long_text, [])
    assert parse("<|channel|>fin") == ("<|channel|>fin", [])


def test_a_long_argument_streams_in_many_fragments():
    value = "x" * 20_000
    text = f'<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{{"city": "{value}"}}<|call|>'
    parser = ToolParserManager.get_tool_parser("openai")()
    fragments = []
    for chunk in chunk_text(text, 16):
        delta = parser.extract_tool_calls_streaming("", "", chunk, [], [], [], request())
        fragments.extend(c.function.arguments for c in (delta.tool_calls if delta else []) if c.function.arguments)
    assert len(fragments) > 1000
    assert json.loads("".join(fragments)) == {"city": value}


# ---------------------------------------------------------------- with the reasoning parser


def test_the_reasoning_parser_splits_channels_and_keeps_calls_for_the_tool_parser():
    parser = ReasoningParserManager.get("openai_gptoss")()
    reasoning, content = parser.extract_reasoning_content(CALL_AFTER_ANALYSIS, request())
    assert reasoning == "The user asks for the weather in Tokyo. Use get_weather."
    assert content.startswith("<|start|>assistant<|channel|>commentary to=functions.get_weather")
    assert parser.extract_reasoning_content(FINAL_AFTER_ANALYSIS, request()) == ("Simple arithmetic: 2+2=4.", "2 + 2 = 4.")


@pytest.mark.parametrize("sizes", [1, 3, "whole"])
def test_pipeline_real_outputs(sizes):
    assert pipeline(CALL_AFTER_ANALYSIS, chunk_text(CALL_AFTER_ANALYSIS, sizes)) == (
        "The user asks for the weather in Tokyo. Use get_weather.", None,
        [("get_weather", '{"location":"Tokyo","unit":"celsius"}')])
    assert pipeline(FINAL_AFTER_ANALYSIS, chunk_text(FINAL_AFTER_ANALYSIS, sizes)) == (
        "Simple arithmetic: 2+2=4.", "2 + 2 = 4.", [])


def test_pipeline_reasoning_after_a_preamble_is_reasoning():
    text = ("<|channel|>analysis<|message|>First.<|end|><|start|>assistant<|channel|>commentary<|message|>On it.<|end|>"
            "<|start|>assistant<|channel|>analysis<|message|>Second.<|end|>"
            '<|start|>assistant<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{}<|call|>')
    for sizes in (1, 7, "whole"):
        assert pipeline(text, chunk_text(text, sizes)) == ("First.Second.", "On it.", [("get_time", "{}")])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pipeline_streamed_equals_whole_equals_truth(data):
    reply = data.draw(harmony_replies(), label="reply")
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in TOOL_NAMES]
    whole = pipeline(reply.text, [reply.text], tools)
    assert whole == (reply.reasoning or None, reply.final_content or None, reply.calls), reply.text
    seed = data.draw(st.integers(0, 2**32 - 1), label="chunking seed")
    for sizes in (1, "random"):
        assert pipeline(reply.text, chunk_text(reply.text, sizes, random.Random(seed)), tools) == whole


def test_names_and_family():
    assert ToolParserManager.get("gpt-oss") is ToolParserManager.get("openai")
    assert {ReasoningParserManager.get(name) for name in ("openai_gptoss", "gpt_oss", "gpt-oss")} == {
        ReasoningParserManager.get("gpt_oss")}
    assert tool_call_family("openai").name == "openai"
