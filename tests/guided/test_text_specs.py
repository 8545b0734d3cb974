"""response_format (json_object, json_schema) and vLLM's guided_regex / guided_choice / guided_grammar:
random decoding under each yields text of that shape."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from tests.guided.helpers import allowed_ids, drive
from toolwire.guided import ChoiceSpec, GrammarSpec, GuidedDecodingError, JsonSpec, Reasoning, RegexSpec

SEEDS = range(4)

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "email": {"type": "string", "pattern": "^[a-z]{1,8}@example\\.com$"},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3},
        "address": {"type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                    "required": ["zip"], "additionalProperties": False},
    },
    "required": ["name", "age", "email"],
    "additionalProperties": False,
}


def test_json_object_is_any_object(guided, vocab):
    compiled = guided.compile(JsonSpec(None))
    for seed in SEEDS:
        value = json.loads(drive(compiled(), vocab, seed))
        assert isinstance(value, dict)


def test_json_schema(guided, vocab):
    compiled = guided.compile(JsonSpec(PERSON))
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed)
        jsonschema.validate(json.loads(text), PERSON)


def test_regex(guided, vocab):
    pattern = r"(yes|no), [0-9]{2,4} (apples|pears)\."
    compiled = guided.compile(RegexSpec(pattern))
    for seed in SEEDS:
        assert re.fullmatch(pattern, drive(compiled(), vocab, seed))


def test_choice(guided, vocab):
    choices = ("positive", "negative", "neutral \"quoted\"\n")
    compiled = guided.compile(ChoiceSpec(choices))
    seen = {drive(compiled(), vocab, seed) for seed in range(8)}
    assert seen <= set(choices) and seen


@pytest.mark.parametrize("grammar", [
    'root ::= "SELECT " col (", " col)* " FROM " table ";"\n'
    'col ::= "id" | "name" | "age"\ntable ::= "users" | "orders"',
    'start: "SELECT " col (", " col)* " FROM " table ";"\ncol: "id" | "name" | "age"\ntable: "users" | "orders"',
], ids=["ebnf", "lark"])
def test_grammar(guided, vocab, grammar):
    compiled = guided.compile(GrammarSpec(grammar))
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed)
        assert re.fullmatch(r"SELECT (id|name|age)(, (id|name|age))* FROM (users|orders);", text), text


def test_json_after_reasoning(guided, vocab, tokenizer):
    """The constraint starts once the reasoning is over; before it, any text (no stop)."""
    compiled = guided.compile(JsonSpec(PERSON, reasoning=Reasoning()))
    constraint = compiled()
    thinking = tokenizer.encode("The user wants {json}? Let me think", add_special_tokens=False)
    for token in thinking:
        assert constraint.accept_token(token)
    assert not constraint.is_completed()  # no stop inside the reasoning
    end = tokenizer.encode("</think>\n\n", add_special_tokens=False)
    text = drive(constraint, vocab, 0, prefix_ids=end)
    jsonschema.validate(json.loads(text.split("</think>", 1)[1]), PERSON)


def test_bad_specs_are_clear_errors(guided):
    with pytest.raises(GuidedDecodingError) as bad_regex:
        guided.compile(RegexSpec("(unclosed"))
    assert bad_regex.value.param == "guided_regex"
    with pytest.raises(GuidedDecodingError) as bad_grammar:
        guided.compile(GrammarSpec("root ::= undefined_rule"))
    assert bad_grammar.value.param == "guided_grammar"
    with pytest.raises(GuidedDecodingError) as bad_schema:
        guided.compile(JsonSpec({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}))
    assert "response_format" in str(bad_schema.value)
    with pytest.raises(GuidedDecodingError):
        ChoiceSpec(())


def test_first_mask_of_a_choice_allows_only_its_openings(guided, vocab, tokenizer):
    import xgrammar as xgr

    constraint = guided.compile(ChoiceSpec(("yes", "no")))()
    bitmask = xgr.allocate_token_bitmask(1, vocab.size)
    constraint.fill_bitmask(bitmask[0])
    texts = {tokenizer.decode([i]) for i in allowed_ids(bitmask[0], vocab.size)}
    assert texts and all("yes".startswith(t) or "no".startswith(t) for t in texts), texts
