"""GuidedDecoding: compile errors that name the tool, the cache, compiling off the caller's thread,
and the per-sequence constraint's behaviour at its edges."""

from __future__ import annotations

import asyncio
import copy
import threading

import pytest
import torch
import xgrammar as xgr

from tests.guided.helpers import allowed_ids, drive, parse_calls
from toolwire.guided import (
    GrammarCache, GuidedDecoding, GuidedDecodingError, JsonSpec, Reasoning, Tool, ToolCallsSpec, spec_key,
)

GOOD = Tool("get_time", {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]})
BAD = Tool("broken_tool", {"type": "object", "properties": {"when": {"$ref": "#/$defs/missing"}}})


@pytest.fixture
def fresh(guided):
    """A service with its own empty cache, sharing the session's backend."""
    service = GuidedDecoding(guided.backend, cache=GrammarCache(max_entries=4))
    yield service
    service.shutdown()


def test_uncompilable_schema_names_the_tool(fresh):
    spec = ToolCallsSpec(format="hermes", tools=(GOOD, BAD), mode="required")
    with pytest.raises(GuidedDecodingError) as error:
        fresh.compile(spec)
    assert error.value.tool == "broken_tool" and error.value.param == "tools"
    assert "broken_tool" in str(error.value) and "$defs" in str(error.value)
    assert fresh.cache.stats.errors == 1 and len(fresh.cache) == 0  # a failure is not cached


@pytest.mark.parametrize("parameters,why", [
    ({"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}}, "minimum"),
    ({"type": "object", "properties": {"s": {"type": "string", "pattern": "(?<=a)b"}}}, "Lookbehind"),
    ({"type": "object", "properties": {"x": {"type": "quaternion"}}}, "quaternion"),
])
def test_each_kind_of_bad_schema_names_the_tool(fresh, parameters, why):
    """Refused when the spec is built (a contradiction) or compiled (what the grammar cannot hold)."""
    with pytest.raises(GuidedDecodingError, match=why) as error:
        fresh.compile(ToolCallsSpec(format="hermes", tools=(GOOD, Tool("odd_tool", parameters)), mode="auto"))
    assert error.value.tool == "odd_tool"


def test_spec_errors_name_the_tool():
    with pytest.raises(GuidedDecodingError) as error:
        ToolCallsSpec(format="hermes", tools=(Tool("f", {"type": "string"}),), mode="required")
    assert error.value.tool == "f"
    with pytest.raises(GuidedDecodingError) as error:
        ToolCallsSpec(format="hermes", tools=(GOOD,), mode="named", name="nope")
    assert error.value.param == "tool_choice"
    with pytest.raises(GuidedDecodingError):
        ToolCallsSpec(format="hermes", tools=(GOOD, GOOD), mode="auto")
    with pytest.raises(GuidedDecodingError):
        ToolCallsSpec(format="hermes", tools=(), mode="required")
    with pytest.raises(GuidedDecodingError):
        ToolCallsSpec(format="hermes", tools=(GOOD,), mode="required", enforce_arguments=False)


def test_format_without_a_grammar_is_a_clear_error(fresh):
    with pytest.raises(GuidedDecodingError, match="no_such_parser"):
        fresh.compile(ToolCallsSpec(format="no_such_parser", tools=(GOOD,), mode="required"))


def test_second_compile_is_a_cache_hit(fresh):
    spec = ToolCallsSpec(format="hermes", tools=(GOOD,), mode="required")
    first = fresh.compile(spec)
    same = ToolCallsSpec(format="hermes", tools=(copy.deepcopy(GOOD),), mode="required")  # equal, not identical
    assert fresh.compile(same) is first
    assert (fresh.cache.stats.hits, fresh.cache.stats.misses) == (1, 1)
    other = fresh.compile(ToolCallsSpec(format="hermes", tools=(GOOD,), mode="auto"))
    assert other is not first and fresh.cache.stats.misses == 2


def test_property_order_is_part_of_the_key():
    ab = Tool("f", {"type": "object", "properties": {"a": {}, "b": {}}})
    ba = Tool("f", {"type": "object", "properties": {"b": {}, "a": {}}})
    keys = {spec_key(ToolCallsSpec(format="hermes", tools=(tool,))) for tool in (ab, ba)}
    assert len(keys) == 2


def test_lru_bound(fresh):
    specs = [JsonSpec({"type": "object", "properties": {f"k{i}": {"type": "integer"}}}) for i in range(6)]
    compiled = [fresh.compile(spec) for spec in specs]
    assert len(fresh.cache) == 4 and fresh.cache.stats.evictions == 2
    assert fresh.compile(specs[-1]) is compiled[-1]  # recent: still there
    assert fresh.compile(specs[0]) is not compiled[0]  # evicted: compiled again


def test_concurrent_requests_share_one_compile(fresh):
    spec = JsonSpec({"type": "object", "properties": {"concurrent": {"type": "boolean"}}})
    futures = [fresh.submit(spec) for _ in range(8)]
    results = {id(future.result()) for future in futures}
    assert len(results) == 1 and fresh.cache.stats.misses == 1 and fresh.cache.stats.hits == 7


def test_compile_runs_off_the_calling_thread(fresh):
    caller = threading.get_ident()
    seen = []
    backend = fresh.backend
    original = backend.compile

    class Spy:
        def __getattr__(self, name):
            return getattr(backend, name)

        def compile(self, request):
            seen.append(threading.get_ident())
            return original(request)

    service = GuidedDecoding(Spy(), cache=GrammarCache())
    compiled = asyncio.run(service.compile_async(JsonSpec({"type": "object", "properties": {"t": {}}})))
    service.shutdown()
    assert seen and seen[0] != caller
    assert compiled.compile_seconds > 0


def test_constraint_factory_makes_independent_constraints(guided, vocab, tokenizer):
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=(GOOD,), mode="named", name="get_time"))
    one, two = compiled(), compiled()
    for token in tokenizer.encode('<tool_call>\n{"name": "get_time"', add_special_tokens=False):
        assert one.accept_token(token)
    assert two.num_accepted == 0 and not two.is_terminated()
    text = drive(two, vocab, 0)
    assert parse_calls("hermes", text, (GOOD,))[0][0][0] == "get_time"


def test_required_calls_end_the_reply(guided, vocab, tokenizer):
    """No free text before a required call; the stop token is allowed only after a complete call."""
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=(GOOD,), mode="required"))
    constraint = compiled()
    bitmask = xgr.allocate_token_bitmask(1, vocab.size)
    constraint.fill_bitmask(bitmask[0])
    first = {tokenizer.decode([i]) for i in allowed_ids(bitmask[0], vocab.size)}
    assert first and all(t.strip() == "" or "<tool_call>".startswith(t.strip()) for t in first), first
    assert not constraint.accept_token(tokenizer.encode("Sure", add_special_tokens=False)[0])
    call = '<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>'
    tokens = tokenizer.encode(call, add_special_tokens=False)
    for token in tokens[:-1]:
        assert constraint.accept_token(token)
        assert not constraint.is_completed()
    assert constraint.accept_token(tokens[-1]) and constraint.is_completed()
    constraint.fill_bitmask(bitmask[0])
    assert vocab.stop_token_ids[0] in allowed_ids(bitmask[0], vocab.size)
    assert not constraint.accept_token(tokenizer.encode(" Done", add_special_tokens=False)[0])
    assert constraint.accept_token(vocab.stop_token_ids[0]) and constraint.is_terminated()
    constraint.fill_bitmask(bitmask[0])  # after the end: only stop tokens, no error
    assert allowed_ids(bitmask[0], vocab.size) == vocab.stop_token_ids


def test_rollback_and_jump_forward(guided, tokenizer):
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=(GOOD,), mode="named", name="get_time"))
    constraint = compiled()
    tokens = tokenizer.encode("<tool_call>\n{", add_special_tokens=False)
    for token in tokens:
        assert constraint.accept_token(token)
    assert constraint.jump_forward_text() == '"name": "get_time", "arguments": {'
    constraint.rollback(len(tokens))
    assert constraint.num_accepted == 0
    fork = constraint.fork()
    assert fork.accept_token(tokens[0]) and fork.num_accepted == 1 and constraint.num_accepted == 0


def test_tool_calls_after_reasoning(guided, vocab, tokenizer):
    """Free text up to the end of the reasoning (markers in it are not calls), then the calls."""
    spec = ToolCallsSpec(format="hermes", tools=(GOOD,), mode="required", reasoning=Reasoning())
    constraint = guided.compile(spec)()
    thinking = "I could write <tool_call> here and it is only thought."
    for token in tokenizer.encode(thinking, add_special_tokens=False):
        assert constraint.accept_token(token)
    assert not constraint.is_completed()
    text = drive(constraint, vocab, 1, prefix_ids=tokenizer.encode("</think>\n\n", add_special_tokens=False))
    reply = text.split("</think>", 1)[1]
    calls, content = parse_calls("hermes", reply, (GOOD,))
    assert calls and not (content or "").strip()


def test_optional_reasoning_block(guided, vocab, tokenizer):
    spec = ToolCallsSpec(format="hermes", tools=(GOOD,), mode="required",
                         reasoning=Reasoning(opened_in_prompt=False, optional=True))
    compiled = guided.compile(spec)
    direct = drive(compiled(), vocab, 2)
    assert parse_calls("hermes", direct, (GOOD,))[0]
    think = tokenizer.encode("<think>hmm</think>\n", add_special_tokens=False)
    thought = drive(compiled(), vocab, 3, prefix_ids=think)
    assert parse_calls("hermes", thought.split("</think>", 1)[1], (GOOD,))[0]


def test_marker_that_is_one_special_token(tokenizer):
    """A tokenizer where <tool_call> / </tool_call> are added special tokens: the grammar's marker
    text matches the single token (the way the model writes it), and decoding keeps it."""
    special = copy.deepcopy(tokenizer)
    special.add_tokens(["<tool_call>", "</tool_call>"], special_tokens=True)
    start_id, end_id = special.convert_tokens_to_ids(["<tool_call>", "</tool_call>"])
    service = GuidedDecoding.for_tokenizer(special)
    try:
        assert service.backend.vocab_size == len(special) == len(tokenizer) + 2
        for mode in ("required", "auto"):
            constraint = service.compile(ToolCallsSpec(format="hermes", tools=(GOOD,), mode=mode))()
            if mode == "auto":
                for token in special.encode("Let me check. ", add_special_tokens=False):
                    assert constraint.accept_token(token)
            bitmask = xgr.allocate_token_bitmask(1, service.backend.vocab_size)
            constraint.fill_bitmask(bitmask[0])
            assert start_id in allowed_ids(bitmask[0], service.backend.vocab_size)
            assert constraint.accept_token(start_id)
            body = special.encode('\n{"name": "get_time", "arguments": {"zone": "CET"}}\n', add_special_tokens=False)
            for token in body:
                assert constraint.accept_token(token)
            constraint.fill_bitmask(bitmask[0])
            assert end_id in allowed_ids(bitmask[0], service.backend.vocab_size)
            assert constraint.accept_token(end_id)
            text = special.decode([start_id, *body, end_id], skip_special_tokens=False)
            assert parse_calls("hermes", text, (GOOD,))[0] == [("get_time", {"zone": "CET"})]
    finally:
        service.shutdown()


def test_distinct_specs_compile_in_parallel(guided):
    service = GuidedDecoding(guided.backend, cache=GrammarCache(), max_workers=2)
    try:
        specs = [ToolCallsSpec(format=fmt, tools=(GOOD, Tool(f"t{i}", {"type": "object", "properties": {
            f"p{i}": {"type": "integer"}}})), mode="required") for i, fmt in enumerate(
            ["hermes", "mistral", "granite", "deepseekv3", "pythonic", "jamba", "internlm", "llama3_json"])]
        futures = [service.submit(spec) for spec in specs]
        assert all(future.result().spec is spec for future, spec in zip(futures, specs))
        assert service.cache.stats.misses == len(specs) and service.cache.stats.errors == 0
    finally:
        service.shutdown()


def test_mask_row_wider_than_the_vocabulary(guided, vocab, tokenizer):
    """A model with padded lm_head rows: tokens past the tokenizer's vocabulary are never allowed."""
    constraint = guided.compile(JsonSpec(None))()
    wide = torch.full((1, (vocab.size + 64 + 31) // 32), -1, dtype=torch.int32)
    constraint.fill_bitmask(wide[0])
    narrow = xgr.allocate_token_bitmask(1, vocab.size)
    constraint.fill_bitmask(narrow[0])
    width = narrow.shape[1]
    assert bool((wide[0, :width] == narrow[0]).all()) and int(wide[0, width:].abs().sum()) == 0
