"""Argument validation and coercion, dict definitions, the Toolbox, and call execution."""

from __future__ import annotations

import asyncio
import enum
import json
import threading
from typing import Optional

import pytest
from pydantic import BaseModel

from toolwire.client import (
    Tool, ToolArgumentsError, ToolCall, Toolbox, aexecute_calls, execute_calls, parse_arguments, tool,
)


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


class Point(BaseModel):
    x: float
    y: float = 0.0


@tool
def measure(count: int, unit: Unit = Unit.F, where: Optional[Point] = None, tags: list[str] = []) -> dict:
    """Measure."""
    return {"count": count, "unit": unit, "where": where, "tags": tags}


def test_validate_coerces_to_python_types():
    values = measure.validate('{"count": "3", "unit": "celsius", "where": {"x": 1}}')
    assert values == {"count": 3, "unit": Unit.C, "where": Point(x=1.0, y=0.0)}
    assert isinstance(values["where"], Point)


def test_validate_reports_every_problem_for_the_model():
    with pytest.raises(ToolArgumentsError) as info:
        measure.validate({"unit": "kelvin", "colour": "red"})
    message = str(info.value)
    assert "count: missing required argument" in message
    assert "unit: Input should be 'celsius' or 'fahrenheit' (got \"kelvin\")" in message
    assert "colour: unexpected argument" in message


def test_null_for_a_defaulted_parameter_means_the_default():
    assert measure.validate({"count": 1, "unit": None, "tags": None}) == {"count": 1}
    assert measure.invoke({"count": 1, "unit": None})["unit"] is Unit.F
    # ... but a null where the type accepts None is kept.
    assert measure.validate({"count": 1, "where": None}) == {"count": 1, "where": None}
    # ... and a null for a required parameter is an error.
    with pytest.raises(ToolArgumentsError, match="count"):
        measure.validate({"count": None})


@pytest.mark.parametrize("text, expected", [
    ("", {}),
    ("  ", {}),
    ('{"a": 1}', {"a": 1}),
    ('"{\\"a\\": 1}"', {"a": 1}),  # double-encoded
])
def test_parse_arguments_accepts(text, expected):
    assert parse_arguments(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("{'a': 1}", "not valid JSON"),
    ('{"a": 1', "not valid JSON"),
    ("[1, 2]", "must be a JSON object, not list"),
    ('"just text"', "must be a JSON object, not str"),
    ("42", "must be a JSON object, not int"),
])
def test_parse_arguments_rejects(text, fragment):
    with pytest.raises(ToolArgumentsError, match=fragment):
        parse_arguments(text)


def test_positional_only_and_keyword_only_parameters_are_called_right():
    @tool
    def f(a: int, /, b: int = 2, *, c: int = 3) -> tuple:
        return (a, b, c)

    assert f.invoke({"a": 1, "c": 5}) == (1, 2, 5)
    assert f.parameters["required"] == ["a"]


def test_async_tool_invoke_returns_a_coroutine():
    @tool
    async def f(a: int) -> int:
        return a * 2

    assert asyncio.run(f.invoke('{"a": "21"}')) == 42


def test_dict_definition_is_validated_with_jsonschema():
    definition = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather.",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["location"]}}}
    t = Tool.from_definition(definition, lambda location, unit="fahrenheit": f"{location} {unit}")
    assert t.definition == definition
    assert t.invoke('{"location": "Paris"}') == "Paris fahrenheit"
    with pytest.raises(ToolArgumentsError, match="unit: 'kelvin' is not one of"):
        t.validate({"location": "Paris", "unit": "kelvin"})
    with pytest.raises(ToolArgumentsError, match="'location' is a required property"):
        t.validate({})


def test_toolbox_mixes_tools_functions_and_definitions():
    def plain(x: int) -> int:
        return x

    definition = {"type": "function", "function": {"name": "ext", "parameters": {"type": "object"}}}
    box = Toolbox([measure, plain, definition], functions={"ext": lambda **kw: kw})
    assert [d["function"]["name"] for d in box.definitions] == ["measure", "plain", "ext"]
    assert box.get("ext").invoke({"k": 1}) == {"k": 1}
    with pytest.raises(ValueError, match="two tools are named"):
        Toolbox([measure, measure])
    with pytest.raises(ValueError, match="no definition"):
        Toolbox([measure], functions={"missing": print})
    with pytest.raises(ValueError, match="not a function tool definition"):
        Toolbox([{"type": "web_search"}])


def _calls(*specs) -> list[ToolCall]:
    return [ToolCall(f"call_{i}", name, args, i) for i, (name, args) in enumerate(specs)]


def test_execute_calls_turns_every_failure_into_an_error_result():
    @tool
    def explode(reason: str) -> str:
        raise RuntimeError(f"boom: {reason}")

    no_impl = {"type": "function", "function": {"name": "no_impl", "parameters": {"type": "object"}}}
    box = Toolbox([measure, explode, no_impl])
    executions = execute_calls(_calls(
        ("measure", '{"count": 2}'),
        ("missing", "{}"),
        ("measure", "{not json"),
        ("measure", '{"count": "many"}'),
        ("explode", '{"reason": "test"}'),
        ("no_impl", "{}"),
    ), box)
    assert [e.call_id for e in executions] == [f"call_{i}" for i in range(6)]
    assert executions[0].ok and json.loads(executions[0].content)["count"] == 2
    errors = [e.error for e in executions[1:]]
    assert errors[0] == "Unknown function: 'missing'. Available tools: measure, explode, no_impl."
    assert errors[1].startswith("Invalid arguments for measure: the arguments are not valid JSON")
    assert errors[2].startswith("Invalid arguments for measure: count: Input should be a valid integer")
    assert errors[3] == "explode raised RuntimeError: boom: test"
    assert errors[4] == "The tool 'no_impl' has no implementation on this client."
    for e in executions[1:]:
        assert json.loads(e.content) == {"error": e.error, "success": False}
        assert e.result is None
    assert executions[2].args is None and executions[3].args == {"count": "many"}


def test_results_are_serialised_as_json_unless_text():
    @tool
    def text() -> str:
        return "plain words"

    @tool
    def model() -> Point:
        return Point(x=1)

    @tool
    def nothing() -> None:
        return None

    box = Toolbox([text, model, nothing, measure])
    out = execute_calls(_calls(("text", ""), ("model", "{}"), ("nothing", "{}"),
                               ("measure", '{"count": 1, "unit": "celsius"}')), box)
    assert [e.content for e in out[:3]] == ["plain words", '{"x": 1.0, "y": 0.0}', "null"]
    assert json.loads(out[3].content) == {"count": 1, "unit": "celsius", "where": None, "tags": []}


def test_sync_calls_run_concurrently_on_threads():
    barrier = threading.Barrier(3, timeout=20)  # passes only if all three wait at the same time

    @tool
    def wait(n: int) -> int:
        barrier.wait()
        return n

    @tool
    async def await_(n: int) -> int:  # an async tool in the sync executor gets its own loop
        barrier.wait()
        return n

    out = execute_calls(_calls(("wait", '{"n": 1}'), ("wait", '{"n": 2}'), ("await_", '{"n": 3}')),
                        Toolbox([wait, await_]))
    assert [(e.error, e.result) for e in out] == [(None, 1), (None, 2), (None, 3)]


def test_async_calls_run_concurrently():
    async def main():
        barrier = asyncio.Barrier(2)
        thread_barrier = threading.Barrier(2, timeout=20)

        @tool
        async def a(n: int) -> int:
            await asyncio.wait_for(barrier.wait(), 20)
            return n

        @tool
        def s(n: int) -> int:  # sync tools go to threads, side by side
            thread_barrier.wait()
            return n

        box = Toolbox([a, s])
        return await aexecute_calls(_calls(("a", '{"n": 1}'), ("s", '{"n": 2}'), ("a", '{"n": 3}'),
                                           ("s", '{"n": 4}'), ("zzz", "{}")), box)

    out = asyncio.run(main())
    assert [e.result for e in out[:4]] == [1, 2, 3, 4]
    assert all(e.ok for e in out[:4]) and not out[4].ok


def test_sequential_execution_when_asked():
    order = []

    @tool
    def step(n: int) -> int:
        order.append(("start", n))
        order.append(("end", n))
        return n

    execute_calls(_calls(("step", '{"n": 1}'), ("step", '{"n": 2}')), Toolbox([step]), concurrent=False)
    assert order == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
