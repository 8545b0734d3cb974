"""Kimi K2: its calls, its ids (the model's own `functions.NAME:IDX`), and its real chat templates."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.formats.format_checks import make_request, parse, stream_deltas
from tests.formats.generated_replies import REPLIES, TOOL_NAMES
from tests.formats.streaming_harness import chunk_text, parse_streaming
from toolwire.chat.conversation import template_messages
from toolwire.chat.parser_detection import detect_tool_parser
from toolwire.chat.prompt import render_prompt
from toolwire.chat.template_capabilities import tool_support
from toolwire.formats.ids import KimiHistoryIds
from toolwire.formats.registry import ToolParserManager, tool_call_family

TEMPLATES = Path(__file__).parent / "templates"
KIMI = ToolParserManager.get_tool_parser("kimi_k2")

# The shape of Kimi K2's calls in its tool-call guidance and in vLLM's kimi_k2 tests.
REPLY = (
    "I'll check both."
    "<|tool_calls_section_begin|>"
    '<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Beijing"}<|tool_call_end|>'
    '<|tool_call_begin|>functions.search:1<|tool_call_argument_begin|>{"q": "<|tool_call_end|> is a marker"}'
    "<|tool_call_end|>"
    "<|tool_calls_section_end|>"
)
CALLS = [("get_weather", '{"city": "Beijing"}'), ("search", '{"q": "<|tool_call_end|> is a marker"}')]


def ids_of(text: str, sizes="whole", seed: int = 0) -> tuple[list[str], list[str]]:
    """The call ids of the whole result, and those of the streamed deltas."""
    request = make_request(TOOL_NAMES)
    whole = KIMI().extract_tool_calls(text, request)
    streamed = parse_streaming(KIMI, text, request, chunk_text(text, sizes, random.Random(seed)))
    return [call.id for call in whole.tool_calls], [streamed.calls[i].id for i in sorted(streamed.calls)]


def test_calls_whole_and_streamed():
    assert parse("kimi_k2", REPLY) == ("I'll check both.", CALLS)


def test_ids_are_the_models_own_in_both_modes():
    for sizes in (1, 3, "random", "whole"):
        assert ids_of(REPLY, sizes) == (["functions.get_weather:0", "functions.search:1"],) * 2


def test_the_index_counts_on_across_the_conversation():
    text = ("<|tool_calls_section_begin|><|tool_call_begin|>functions.search:4<|tool_call_argument_begin|>{}"
            "<|tool_call_end|><|tool_calls_section_end|>")
    assert ids_of(text) == (["functions.search:4"],) * 2


def test_a_repeated_or_missing_index_gets_a_fresh_id_of_the_same_shape():
    call = '<|tool_call_begin|>functions.search{index}<|tool_call_argument_begin|>{{}}<|tool_call_end|>'
    text = ("<|tool_calls_section_begin|>" + call.format(index=":0") + call.format(index=":0")
            + call.format(index="") + "<|tool_calls_section_end|>")
    whole, streamed = ids_of(text, 1)
    assert whole == streamed and len(set(whole)) == 3 and whole[0] == "functions.search:0"
    assert all(i.startswith("functions.search:") for i in whole)


def test_whitespace_between_markers_and_a_missing_section_end():
    text = ('<|tool_calls_section_begin|>\n<|tool_call_begin|> functions.get_weather:0 <|tool_call_argument_begin|>'
            ' {"city": "Beijing"} <|tool_call_end|>\n')
    assert parse("kimi_k2", text) == ("", CALLS[:1])
    assert parse("kimi_k2", text[: text.index("<|tool_call_end|>") + 3]) == ("", CALLS[:1])


def test_a_partial_marker_is_held_back():
    deltas = stream_deltas("kimi_k2", ["Sure<|tool_calls_sec", "tion_begin|><|tool_call_begin|>functions.search:0",
                                       "<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>"])
    assert deltas[0].content == "Sure"
    assert all(d is None or not d.content for d in deltas[1:])


def test_broken_output_is_content():
    for text in [
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.nope:0<|tool_call_argument_begin|>{}"
        "<|tool_call_end|><|tool_calls_section_end|>",  # a tool that was not offered
        "<|tool_calls_section_begin|><|tool_call_begin|>get_weather:0<|tool_call_argument_begin|>{}",  # no functions.
        "<|tool_calls_section_begin|>plain words",
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.search:0",  # cut off before the arguments
    ]:
        assert parse("kimi_k2", text) == (text, []), text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply=REPLIES["kimi_k2"], seed=st.integers(0, 2**32 - 1))
def test_generated_replies_keep_the_written_ids_in_every_chunking(reply, seed):
    for sizes in (1, "random", "whole"):
        whole, streamed = ids_of(reply.text, sizes, seed)
        assert whole == streamed == reply.ids, reply.text


# ---------------------------------------------------------------- history ids


def test_foreign_history_ids_become_kimi_ids_that_pair_with_their_results():
    rewrite = KimiHistoryIds()
    assert rewrite("call_abc", "get_weather") == "functions.get_weather:0"
    assert rewrite("functions.search:1", "search") == "functions.search:1"  # the model's own: kept
    assert rewrite("call_def", "search") == "functions.search:2"
    assert rewrite("call_abc", None) == "functions.get_weather:0"
    assert rewrite("call_def", None) == "functions.search:2"
    assert rewrite("unknown", None) == "unknown"


def test_a_foreign_id_never_takes_an_index_an_own_id_holds():
    rewrite = KimiHistoryIds()
    rewrite("functions.search:0", "search")
    assert rewrite("call_y", "search") == "functions.search:1"
    rewrite = KimiHistoryIds()
    rewrite("functions.search:1", "search")  # the model skipped 0
    assert rewrite("call_z", "search") == "functions.search:2"  # 1 is taken


def test_conversation_rewrites_ids_across_messages():
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "b"},
        {"role": "tool", "tool_call_id": "call_1", "content": "a"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_3", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_3", "content": "c"},
    ]
    chat = template_messages(messages, history_call_id=tool_call_family("kimi_k2").history_call_id)
    calls = [call["id"] for m in chat if m.get("tool_calls") for call in m["tool_calls"]]
    results = [m["tool_call_id"] for m in chat if m["role"] == "tool"]
    assert calls == ["functions.get_weather:0", "functions.search:1", "functions.search:2"]
    assert results == ["functions.search:1", "functions.get_weather:0", "functions.search:2"]
    # each render starts counting afresh
    again = template_messages(messages, history_call_id=tool_call_family("kimi_k2").history_call_id)
    assert again == chat


# ---------------------------------------------------------------- the real templates

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
                                             "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                            "required": ["city"]}}}
CONVERSATION = [
    {"role": "user", "content": "Coat today in Beijing?"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_Xy7Qp2Lm9Rt4Vn8Kd3Wz6Hc5", "type": "function",
                                                           "function": {"name": "get_weather",
                                                                        "arguments": '{"city":"Beijing"}'}}]},
    {"role": "tool", "tool_call_id": "call_Xy7Qp2Lm9Rt4Vn8Kd3Wz6Hc5", "content": "22 degrees"},
]


def render(name: str) -> str:
    template = (TEMPLATES / name).read_text()
    family = detect_tool_parser(template).family
    return render_prompt(CONVERSATION, template, tools=[WEATHER], family=family)


def test_detection_picks_kimi_k2_from_both_templates():
    for name in ("moonshotai-Kimi-K2-Instruct.jinja", "moonshotai-Kimi-K2-Thinking.jinja"):
        assert detect_tool_parser((TEMPLATES / name).read_text()).name == "kimi_k2", name


def test_thinking_template_shows_tools_the_call_by_its_kimi_id_and_the_result():
    prompt = render("moonshotai-Kimi-K2-Thinking.jinja")
    assert prompt.startswith("<|im_system|>tool_declare<|im_middle|>[") and '"get_weather"' in prompt
    call = ('<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>'
            '{"city": "Beijing"}<|tool_call_end|><|tool_calls_section_end|>')
    assert call in prompt
    assert "## Return of functions.get_weather:0\n22 degrees" in prompt
    assert prompt.endswith("<|im_assistant|>assistant<|im_middle|>")
    # what the template shows is what the parser reads (and what render_calls writes)
    assert tool_call_family("kimi_k2").render_calls([("get_weather", {"city": "Beijing"})]) == call
    assert parse("kimi_k2", call) == ("", [("get_weather", '{"city": "Beijing"}')])


def test_instruct_template_shows_no_calls_so_they_are_written_in_kimis_format():
    template = (TEMPLATES / "moonshotai-Kimi-K2-Instruct.jinja").read_text()
    support = tool_support(template)
    assert support.renders_tools and not support.renders_tool_calls
    prompt = render("moonshotai-Kimi-K2-Instruct.jinja")
    assert ("<|im_assistant|>assistant<|im_middle|><|tool_calls_section_begin|><|tool_call_begin|>"
            "functions.get_weather:0<|tool_call_argument_begin|>") in prompt
    assert "<tool_response>\n22 degrees\n</tool_response>" in prompt
