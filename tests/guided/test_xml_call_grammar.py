"""The XML-style families' grammars: random decoding under them yields calls their own parser reads
back, naming offered tools, with arguments valid against the schema; and each value is held to its type."""

from __future__ import annotations

import pytest

from tests.guided.helpers import drive, parse_calls
from tests.guided.test_formats import TOOLS as JSON_TOOLS
from tests.guided.test_formats import assert_forced_calls_parse_back
from tests.guided.test_formats import check as formats_check
from toolwire.formats.registry import tool_call_family
from toolwire.guided import Tool, ToolCallsSpec

FAMILIES = ["qwen3_coder", "glm45", "glm47", "minimax_m2"]
SEEDS = range(3)

# The JSON formats' tools, with each top-level string held to a pattern: a random walk ends a JSON
# string at its next quote, but a string written as raw text ends only at its multi-token end tag,
# which a random walk does not find; a pattern ends it. Values inside JSON (travellers) are as before.
_WORD = {"type": "string", "pattern": "[A-Z][a-z]{1,8}"}
TOOLS = (
    Tool("get_weather", {**JSON_TOOLS[0].parameters, "properties": {**JSON_TOOLS[0].parameters["properties"],
                                                                    "city": _WORD}}),
    Tool("book_trip", {**JSON_TOOLS[1].parameters, "properties": {**JSON_TOOLS[1].parameters["properties"],
                                                                  "notes": {"anyOf": [_WORD, {"type": "null"}]}}},
         strict=True),
    Tool("ping", {"type": "object", "properties": {}}),
)


def check(calls, *, named=None, exactly_one=False):
    formats_check(calls, named=named, exactly_one=exactly_one, offered=TOOLS)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", ["required", "named", "single"])
def test_forced_calls_parse_back(guided, vocab, family, mode):
    assert_forced_calls_parse_back(guided, vocab, family, mode, tools=TOOLS, seeds=SEEDS)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("parallel", [True, False])
def test_auto_calls_after_the_start_marker(guided, vocab, tokenizer, family, parallel):
    spec = ToolCallsSpec(format=family, tools=TOOLS, mode="auto", parallel=parallel)
    compiled = guided.compile(spec)
    lead_in = "Checking the forecast. "
    trigger = guided_trigger(family)
    prefix = tokenizer.encode(lead_in + trigger, add_special_tokens=False)
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed, prefix_ids=prefix)
        calls, content = parse_calls(family, text, TOOLS)
        check(calls, exactly_one=not parallel)
        assert content is not None and content.startswith(lead_in.strip()), content


def guided_trigger(family: str) -> str:
    return tool_call_family(family).calls_grammar([("f", {"type": "object"})], parallel=True).trigger


TYPED = Tool("set_timer", {"type": "object", "properties": {
    "label": {"type": "string"}, "minutes": {"type": "integer"}, "loud": {"type": "boolean"}},
    "required": ["label", "minutes"]})


def accepts(guided, tokenizer, vocab, family: str, arguments: dict) -> bool:
    """Whether the required-call grammar lets the model write this call as the family writes it."""
    text = tool_call_family(family).render_calls([("set_timer", arguments)])
    constraint = guided.compile(ToolCallsSpec(format=family, tools=(TYPED,), mode="required"))()
    for token_id in tokenizer.encode(text, add_special_tokens=False):
        if not constraint.accept_token(token_id):
            return False
    return constraint.accept_token(vocab.stop_token_ids[0]) and constraint.is_terminated()


@pytest.mark.parametrize("family", FAMILIES)
def test_each_value_is_held_to_its_type(guided, tokenizer, vocab, family):
    assert accepts(guided, tokenizer, vocab, family, {"label": "123", "minutes": 5, "loud": True})
    assert accepts(guided, tokenizer, vocab, family, {"label": "</tool_call> 5", "minutes": 5})
    assert not accepts(guided, tokenizer, vocab, family, {"label": "tea", "minutes": "five"})
    assert not accepts(guided, tokenizer, vocab, family, {"label": "tea", "minutes": 2.5})
    assert not accepts(guided, tokenizer, vocab, family, {"label": "tea", "minutes": 5, "loud": "yes"})
    # only the schema's parameters, and the required ones present
    assert not accepts(guided, tokenizer, vocab, family, {"label": "tea", "minutes": 5, "volume": 3})
    assert not accepts(guided, tokenizer, vocab, family, {"label": "tea"})
