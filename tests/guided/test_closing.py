"""A grammar-held output ends complete within its token budget (guided/closing.py and the constraint's
budget), for every family with a grammar and for JSON schemas: the decoding is a random walk over the
allowed tokens that prefers to keep values open, so only the budget can close them."""

from __future__ import annotations

import json

import jsonschema
import pytest
import torch
import xgrammar as xgr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.guided.helpers import allowed_ids, parse_calls
from toolwire.formats.registry import registered_families
from toolwire.guided import GuidedDecoding, Tool, ToolCallsSpec
from toolwire.guided.constraint import CLOSING_MARGIN
from toolwire.guided.specs import JsonSpec

TRIP = Tool("book_trip", {"type": "object", "properties": {
    "traveller": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                  "required": ["name", "age"]},
    "stops": {"type": "array", "minItems": 1, "items": {
        "type": "object", "properties": {"city": {"type": "string"}, "nights": {"type": "integer"}},
        "required": ["city", "nights"]}},
    "mode": {"enum": ["train", "plane"]},
    "notes": {"type": "string"}},
    "required": ["traveller", "stops", "mode"]})
WEATHER = Tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
CONSTRAINABLE = [family for family in registered_families() if family.constrainable]


def walk(constraint, vocab, budget: int, seed: int) -> list[int]:
    """Random tokens under the constraint, at most `budget` of them, biased away from closing
    anything (quotes, brackets, stop tokens), as a model that loops inside a value would be."""
    constraint.limit_tokens(budget)
    generator = torch.Generator().manual_seed(seed)
    bitmask = xgr.allocate_token_bitmask(1, vocab.size)
    logits = torch.empty(1, vocab.size)
    out: list[int] = []
    while len(out) < budget and not constraint.is_terminated():
        bitmask.fill_(-1)
        constraint.fill_bitmask(bitmask[0])
        logits[0].copy_(vocab.noise[int(torch.randint(64, (1,), generator=generator))])
        logits[0, vocab.closers] -= 4.0
        xgr.apply_token_bitmask_inplace(logits, bitmask)
        token_id = int(logits.argmax())
        assert constraint.accept_token(token_id)
        out.append(token_id)
    return [t for t in out if t not in vocab.stop_token_ids]


@pytest.mark.parametrize("family", CONSTRAINABLE, ids=lambda family: family.name)
def test_a_call_closes_within_any_budget_it_can_fit_in(family, guided, vocab):
    compiled = guided.compile(ToolCallsSpec(format=family, tools=(TRIP, WEATHER), mode="required", parallel=False))
    shortest = compiled.shortest_output_tokens()
    assert shortest is not None and shortest > 5

    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
    @given(extra=st.integers(0, 60), seed=st.integers(0, 2**16))
    def check(extra, seed):
        tokens = walk(compiled(), vocab, shortest + extra, seed)
        text = vocab.decode(tokens)
        calls, _ = parse_calls(family.name, text, (TRIP, WEATHER))
        assert len(calls) == 1, f"{family.name}, budget {shortest + extra}: {text!r}"
        name, arguments = calls[0]
        jsonschema.validate(arguments, (TRIP if name == "book_trip" else WEATHER).parameters)
        assert len(tokens) <= shortest + extra

    check()


def test_the_shortest_output_is_a_valid_call_of_that_many_tokens(guided, vocab):
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=(TRIP,), mode="required"))
    tokens = compiled.closing.tokens(compiled().matcher)
    assert len(tokens) == compiled.shortest_output_tokens()
    (name, arguments), = parse_calls("hermes", vocab.decode(tokens), (TRIP,))[0]
    assert arguments.pop("mode") in ("train", "plane")  # the required keys, each at its shortest
    assert (name, arguments) == ("book_trip", {"traveller": {"name": "", "age": 0}, "stops": [{"city": "", "nights": 0}]})


@given(extra=st.integers(0, 50), seed=st.integers(0, 2**16))
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_json_schema_value_closes_within_its_budget(guided, vocab, extra, seed):
    compiled = guided.compile(JsonSpec(schema=TRIP.parameters))
    budget = compiled.shortest_output_tokens() + extra
    text = vocab.decode(walk(compiled(), vocab, budget, seed))
    jsonschema.validate(json.loads(text), TRIP.parameters)


def test_an_output_that_is_already_complete_needs_nothing(guided):
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=(WEATHER,), mode="auto"))
    assert compiled.shortest_output_tokens() == 0  # auto: no call is a complete output


def test_without_closing_the_budget_cuts_the_call(tokenizer, vocab):
    service = GuidedDecoding.for_tokenizer(tokenizer, close_at_limit=False)
    compiled = service.compile(ToolCallsSpec(format="hermes", tools=(TRIP,), mode="required"))
    assert compiled.closing is None and compiled.shortest_output_tokens() is None
    text = vocab.decode(walk(compiled(), vocab, 40, seed=0))
    calls, _ = parse_calls("hermes", text, (TRIP,))
    assert not any(jsonschema.Draft202012Validator(TRIP.parameters).is_valid(arguments) for _, arguments in calls)
    service.shutdown()


def test_a_character_split_across_tokens_is_finished_first(guided, tokenizer):
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=(WEATHER,), mode="required"))
    constraint = compiled()
    prefix = '<tool_call>{"name": "get_weather", "arguments": {"city": "Z'
    for token_id in tokenizer.encode(prefix, add_special_tokens=False):
        assert constraint.accept_token(token_id)
    lead = tokenizer.convert_tokens_to_ids("Ã")  # the byte-level token of 0xC3, the first byte of "ü"
    assert constraint.accept_token(lead)
    tokens = compiled.closing.tokens(constraint.matcher)
    text = tokenizer.decode(tokenizer.encode(prefix, add_special_tokens=False) + [lead] + tokens)
    calls, _ = parse_calls("hermes", text, (WEATHER,))
    assert len(calls) == 1 and calls[0][1]["city"].startswith("Z"), text


def test_near_the_limit_free_text_does_not_begin_a_call_that_could_not_end(guided, tokenizer):
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=(TRIP,), mode="auto"))
    constraint = compiled()
    constraint.limit_tokens(200)
    bitmask = xgr.allocate_token_bitmask(1, len(tokenizer))
    words = tokenizer.encode(" word" * 200, add_special_tokens=False)
    opens_a_call = []
    for token_id in words[:199]:
        constraint.fill_bitmask(bitmask[0])
        allowed = allowed_ids(bitmask[0], len(tokenizer))
        opens_a_call.append(any("<" in tokenizer.decode([i]) for i in allowed))
        assert constraint.accept_token(token_id)
    shortest_call = compiled.closing.call_tokens(compiled().matcher)
    assert shortest_call > 20
    # Free text may open a call while one still fits, and not from then on.
    assert opens_a_call.index(False) == 200 - shortest_call - CLOSING_MARGIN
    assert not any(opens_a_call[200 - shortest_call - CLOSING_MARGIN:])
