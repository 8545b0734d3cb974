"""Random decoding under the tool-call constraint always yields calls the hermes parser reads, to
offered tools, with arguments valid under their schemas: BFCL tool sets, every tool_choice mode."""

from __future__ import annotations

import jsonschema
import pytest

from tests.guided.helpers import bfcl_tool_sets, drive, parse_calls
from toolwire.guided import Tool, ToolCallsSpec

SETS = [("simple_python", 50), ("multiple", 30), ("parallel", 20)]
MODES = ["required", "named", "single", "auto"]


def check_calls(calls, tools, *, named=None, exactly_one=False):
    assert calls, "no call was parsed"
    if exactly_one:
        assert len(calls) == 1, calls
    by_name = {tool.name: tool for tool in tools}
    for name, arguments in calls:
        assert name in by_name, name
        if named is not None:
            assert name == named
        jsonschema.validate(arguments, by_name[name].parameters)


def make_spec(tools, mode: str) -> ToolCallsSpec:
    if mode == "named":
        return ToolCallsSpec(format="hermes", tools=tools, mode="named", name=tools[-1].name)
    if mode == "single":
        return ToolCallsSpec(format="hermes", tools=tools, mode="required", parallel=False)
    return ToolCallsSpec(format="hermes", tools=tools, mode=mode)


@pytest.mark.parametrize("category,count", SETS)
@pytest.mark.parametrize("mode", MODES)
def test_bfcl_tool_sets(guided, vocab, tokenizer, category, count, mode):
    lead_in = tokenizer.encode("Let me look that up. ", add_special_tokens=False)
    trigger = tokenizer.encode("<tool_call>", add_special_tokens=False)
    for index, (entry_id, tools) in enumerate(bfcl_tool_sets(category, count)):
        spec = make_spec(tools, mode)
        constraint = guided.compile(spec)()
        prefix = lead_in + trigger if mode == "auto" else []
        text = drive(constraint, vocab, seed=index, prefix_ids=prefix)
        calls, content = parse_calls("hermes", text, tools)
        try:
            check_calls(calls, tools, named=spec.name, exactly_one=mode in ("named", "single"))
        except Exception as exc:
            raise AssertionError(f"{entry_id} ({mode}): {exc}\n{text!r}") from exc
        if mode == "auto":
            assert content is not None and content.startswith("Let me look that up.")
        else:
            assert not (content or "").strip(), f"{entry_id}: content before/after calls: {content!r}"


@pytest.mark.parametrize("category,count", [("simple_python", 50), ("multiple", 30)])
def test_bfcl_tool_sets_pythonic(guided, vocab, category, count):
    """The hand-built Python-literal grammar (schema -> literals) against the pythonic parser."""
    for index, (entry_id, tools) in enumerate(bfcl_tool_sets(category, count)):
        spec = ToolCallsSpec(format="pythonic", tools=tools, mode="required")
        text = drive(guided.compile(spec)(), vocab, seed=index)
        calls, content = parse_calls("pythonic", text, tools)
        try:
            check_calls(calls, tools)
        except Exception as exc:
            raise AssertionError(f"{entry_id}: {exc}\n{text!r}") from exc
        assert not (content or "").strip()


def test_required_names_without_property_schemas_are_written(guided, vocab):
    """BFCL parallel_29: a nested object that lists `required` names but no `properties`. The grammar
    must let the model write those keys (any value), not only `{}`, which the schema rejects."""
    population = {"type": "object", "description": "'adults', 'children' and 'singles' counts",
                  "required": ["adults", "children", "singles"]}
    tools = (Tool("waste_calculation", {"type": "object", "properties": {
        "population": population, "location": {"type": "string"}}, "required": ["population", "location"]}),)
    compiled = guided.compile(ToolCallsSpec(format="hermes", tools=tools, mode="required", parallel=False))
    for seed in range(10):
        text = drive(compiled(), vocab, seed=seed)
        calls, _ = parse_calls("hermes", text, tools)
        check_calls(calls, tools)
        assert {"adults", "children", "singles"} <= calls[0][1]["population"].keys()
