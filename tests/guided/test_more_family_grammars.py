"""kimi_k2, xlam and llama4_json under their grammars: random decoding under the required / named /
single-call grammar yields calls the family's own parser reads back (offered tools, schema-valid
arguments, nothing else), and tool_choice auto opens calls at the family's trigger or bare payload."""

from __future__ import annotations

import pytest

from tests.guided.helpers import drive, openai_tools, parse_calls
from tests.guided.test_formats import SEEDS, TOOLS, assert_forced_calls_parse_back, check
from toolwire.formats.registry import ToolParserManager
from toolwire.guided import ToolCallsSpec
from toolwire.protocol.chat import ChatCompletionRequest

FAMILIES = ["kimi_k2", "xlam", "llama4_json"]


@pytest.mark.parametrize("parser", FAMILIES)
@pytest.mark.parametrize("mode", ["required", "named", "single"])
def test_forced_calls_parse_back(guided, vocab, parser, mode):
    assert_forced_calls_parse_back(guided, vocab, parser, mode)


def test_kimi_ids_written_under_the_grammar_are_the_calls_ids(guided, vocab):
    compiled = guided.compile(ToolCallsSpec(format="kimi_k2", tools=TOOLS, mode="required"))
    request = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=openai_tools(TOOLS))
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed)
        result = ToolParserManager.get_tool_parser("kimi_k2")().extract_tool_calls(text, request)
        for call in result.tool_calls:
            assert call.id.startswith(f"functions.{call.function.name}:"), call.id
            assert call.id in text


@pytest.mark.parametrize("parallel", [True, False])
def test_kimi_auto_calls_after_the_section_marker(guided, vocab, tokenizer, parallel):
    compiled = guided.compile(ToolCallsSpec(format="kimi_k2", tools=TOOLS, mode="auto", parallel=parallel))
    lead_in = "Checking the forecast. "
    prefix = tokenizer.encode(lead_in + "<|tool_calls_section_begin|>", add_special_tokens=False)
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed, prefix_ids=prefix)
        calls, content = parse_calls("kimi_k2", text, TOOLS)
        check(calls, exactly_one=not parallel)
        assert content is not None and content.startswith(lead_in.strip()), content


@pytest.mark.parametrize("parser,opening", [("xlam", "["), ("llama4_json", "{")])
def test_auto_reply_that_opens_with_a_bare_payload_is_calls(guided, vocab, tokenizer, parser, opening):
    compiled = guided.compile(ToolCallsSpec(format=parser, tools=TOOLS, mode="auto"))
    prefix = tokenizer.encode(" " + opening, add_special_tokens=False)
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed, prefix_ids=prefix)
        calls, content = parse_calls(parser, text, TOOLS)
        check(calls)
        assert not (content or "").strip(), (content, text)


@pytest.mark.parametrize("parser", ["xlam", "llama4_json"])
@pytest.mark.parametrize("text", ["<b>Bold</b> claim, {not a call}.", "Sure: [1, 2]", "  plain"])
def test_bare_payload_families_leave_other_replies_free(guided, vocab, tokenizer, parser, text):
    constraint = guided.compile(ToolCallsSpec(format=parser, tools=TOOLS, mode="auto"))()
    for token in tokenizer.encode(text, add_special_tokens=False):
        assert constraint.accept_token(token), (parser, text)
    assert constraint.accept_token(vocab.stop_token_ids[0])
