"""The tool loop against a live `toolwire serve` on the default model (SmolLM2-135M-Instruct).

The model is tiny, so where a test needs a call it forces the first turn with a named or required
tool_choice (the loop sends "auto" afterwards). Requests are greedy (temperature 0) and seeded.
These tests skip only when `toolwire serve` cannot start (see the live_server fixture).

The server holds a forced turn to the tool-call grammar (constrained decoding), so a forced first
turn always comes back as a schema-valid call (`assert_forced_call`).
"""

from __future__ import annotations

import json
from typing import Literal

import pytest

from toolwire.client import run_tools, tool

pytestmark = pytest.mark.slow

GREEDY = {"temperature": 0, "seed": 1234, "max_tokens": 96}
WEATHER_QUESTION = [{"role": "user", "content": "What's the weather in San Francisco?"}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


@tool
def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "fahrenheit") -> dict:
    """Get the current weather for a location.

    Args:
        location: City name, e.g. 'San Francisco'
        unit: Temperature unit. Defaults to fahrenheit.
    """
    return {"temperature": 62, "unit": unit, "condition": "fog", "location": location}


def assert_forced_call(result, tool_choice) -> None:
    first = result.steps[0]
    assert first.tool_calls, f"tool_choice={tool_choice!r} came back as text: {first.text!r}"


def assert_ids_consistent(result) -> None:
    """Every call of every step has exactly one tool message, with its id and name, in order."""
    for step in result.steps:
        ids = [c.id for c in step.tool_calls]
        assert len(set(ids)) == len(ids) and all(ids)
        assert [e.call_id for e in step.executions] == ids
        assert [e.name for e in step.executions] == [c.name for c in step.tool_calls]
    tool_ids = [m["tool_call_id"] for m in result.new_messages if m["role"] == "tool"]
    assert tool_ids == [e.call_id for e in result.executions]


def test_weather_example_runs_get_weather_and_ends_with_text(live_client, live_model):
    result = run_tools(live_client, live_model, WEATHER_QUESTION, [get_weather], tool_choice="get_weather",
                       max_steps=6, **GREEDY)
    first = result.steps[0]
    assert first.tool_choice == NAMED
    assert_forced_call(result, "get_weather")
    assert [c.name for c in first.tool_calls] == ["get_weather"]
    executed = [e for e in result.executions if e.name == "get_weather" and e.ok]
    assert executed, [e.error for e in result.executions]
    assert json.loads(executed[0].content)["condition"] == "fog"
    assert all(step.tool_choice == "auto" for step in result.steps[1:])
    assert not result.cut_off
    assert isinstance(result.final_text, str) and result.final_text.strip()
    assert_ids_consistent(result)


def test_a_raising_tool_gives_an_error_result_and_the_loop_continues(live_client, live_model):
    @tool
    def get_weather(location: str) -> dict:
        """Get the current weather for a location.

        Args:
            location: City name, e.g. 'San Francisco'
        """
        raise ConnectionError("weather service unreachable")

    result = run_tools(live_client, live_model, WEATHER_QUESTION, [get_weather], tool_choice="get_weather",
                       max_steps=3, **GREEDY)
    assert_forced_call(result, "get_weather")
    failed = result.steps[0].executions
    assert failed and failed[0].name == "get_weather"
    # Either the tool raised, or (if the model's arguments did not validate) it never ran: both are
    # error results; the point is that the model is told and asked again.
    assert json.loads(failed[0].content)["success"] is False
    assert len(result.steps) >= 2, "the loop must call the model again with the error result"
    assert result.steps[1].tool_choice == "auto"
    assert_ids_consistent(result)


def test_two_calls_in_one_reply_both_execute_with_their_ids(live_client, live_model):
    question = [{"role": "user", "content": "What's the weather in Paris and in London? "
                                            "Call get_weather once for each city."}]
    result = run_tools(live_client, live_model, question, [get_weather], tool_choice="required",
                       parallel_tool_calls=True, max_steps=2, **GREEDY)
    assert_ids_consistent(result)
    assert_forced_call(result, "required")
    calls = result.steps[0].tool_calls
    assert len(calls) >= 2, calls  # this greedy request makes the default model call once per city
    assert len(result.steps[0].executions) == len(calls)
    assert len({c.id for c in calls}) == len(calls)


def test_streaming_and_not_streaming_reach_the_same_executions(live_client, live_model):
    outcomes = []
    for stream in (False, True):
        result = run_tools(live_client, live_model, WEATHER_QUESTION, [get_weather], tool_choice="get_weather",
                           max_steps=3, stream=stream, **GREEDY)
        assert_ids_consistent(result)
        outcomes.append((
            [(e.step, e.name, e.arguments, e.content, e.error) for e in result.executions],
            [s.text for s in result.steps],
            result.cut_off,
        ))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0], "the forced first turn made no call"


@pytest.mark.parametrize("stream", [False, True])
def test_the_loops_transcript_is_accepted_and_answered(scripted, client, live_client, live_model, stream):
    """The messages the loop appends (assistant tool_calls with null content, tool results with
    tool_call_id and name, error results included) are what a real server gets next: build such a
    transcript with the loop (scripted replies), then continue it on the live server to a text answer."""
    from tests.client.scripted_server import Reply, call

    @tool
    def get_forecast(location: str) -> dict:
        """Get tomorrow's forecast for a location.

        Args:
            location: City name
        """
        raise TimeoutError("forecast service timed out")

    scripted.push(Reply(tool_calls=[call("get_weather", {"location": "San Francisco"}),
                                    call("get_forecast", {"location": "San Francisco"})]))
    started = run_tools(client, "scripted", WEATHER_QUESTION, [get_weather, get_forecast], max_steps=1)
    assert started.cut_off and [e.ok for e in started.executions] == [True, False]

    result = run_tools(live_client, live_model, started.messages, [get_weather, get_forecast],
                       max_steps=3, stream=stream, **GREEDY)
    assert result.messages[:len(started.messages)] == started.messages
    assert not result.cut_off
    assert isinstance(result.final_text, str) and result.final_text.strip()
    assert_ids_consistent(result)


def test_demo_against_the_live_server(live_server):
    import io

    from toolwire.client import demo

    out = io.StringIO()
    assert demo.main(["--base-url", live_server.base_url, "--tool-choice", "get_weather", "--stream",
                      "--max-tokens", "64"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[1] == "user: What's the weather in San Francisco?"
    assert any(line.startswith("assistant: ") for line in lines)
    assert "model call(s)" in lines[-1] or "model call(s)" in lines[-2]
