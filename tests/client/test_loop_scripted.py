"""The tool loop over real HTTP with the real OpenAI SDK, against a scripted loopback server.

The replies are scripted, so these tests check the loop (ids, error results, concurrency, the step
limit, the tool_choice reset, stream assembly), not a model.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from typing import Literal

import openai
import pytest

from tests.client.scripted_server import Reply, call
from toolwire.client import (
    StepFinished, TextDelta, ToolCallFinished, ToolCallRequested, ToolRunResult, arun_tools,
    aiter_tools, iter_tools, run_tools, tool,
)

USER = [{"role": "user", "content": "What's the weather in San Francisco?"}]


@tool
def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "fahrenheit") -> dict:
    """Get the current weather for a location.

    Args:
        location: City name, e.g. 'San Francisco'
        unit: Temperature unit. Defaults to fahrenheit.
    """
    return {"temperature": 62, "unit": unit, "condition": "fog", "location": location}


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


def tool_messages(request: dict) -> list[dict]:
    return [m for m in request["messages"] if m["role"] == "tool"]


@pytest.mark.parametrize("stream", [False, True])
def test_weather_example(scripted, client, stream):
    scripted.push(
        Reply(tool_calls=[call("get_weather", {"location": "San Francisco"}, id="call_sf")]),
        Reply(content="It's 62°F and foggy in San Francisco right now."),
    )
    texts: list[str] = []
    result = run_tools(client, "scripted", USER, [get_weather], stream=stream, on_text=texts.append)

    assert isinstance(result, ToolRunResult)
    assert result.final_text == "It's 62°F and foggy in San Francisco right now."
    assert "".join(texts) == result.final_text
    assert not result.cut_off and len(result.steps) == 2
    (execution,) = result.executions
    assert (execution.call_id, execution.name, execution.args, execution.error) == (
        "call_sf", "get_weather", {"location": "San Francisco"}, None)
    assert execution.result == {"temperature": 62, "unit": "fahrenheit", "condition": "fog",
                                "location": "San Francisco"}
    assert result.messages == [
        USER[0],
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_sf", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location": "San Francisco"}'}}]},
        {"role": "tool", "tool_call_id": "call_sf", "content": json.dumps(execution.result),
         "name": "get_weather"},
        {"role": "assistant", "content": "It's 62°F and foggy in San Francisco right now."},
    ]
    assert result.new_messages == result.messages[1:]
    # The second request carried the whole history, and the tool definition each time.
    first, second = scripted.requests
    assert second["messages"] == result.messages[:3]
    assert first["tools"] == second["tools"] == [get_weather.definition]
    assert first.get("stream", False) is stream


def test_errors_come_back_as_results_and_the_loop_goes_on(scripted, client):
    scripted.push(
        Reply(tool_calls=[
            call("no_such_tool", {"x": 1}, id="c_unknown"),
            call("get_weather", '{"location": "Paris"', id="c_json"),
            call("get_weather", {"location": "Paris", "unit": "kelvin"}, id="c_schema"),
            call("explode", {"reason": "test"}, id="c_raise"),
            call("get_weather", {"location": "Paris"}, id="c_ok"),
        ]),
        Reply(content="Some of that failed."),
    )
    result = run_tools(client, "scripted", USER, [get_weather, explode])

    assert result.final_text == "Some of that failed." and not result.cut_off
    by_id = {e.call_id: e for e in result.executions}
    assert list(by_id) == ["c_unknown", "c_json", "c_schema", "c_raise", "c_ok"]
    assert by_id["c_unknown"].error.startswith("Unknown function: 'no_such_tool'")
    assert "not valid JSON" in by_id["c_json"].error
    assert "unit: Input should be 'celsius' or 'fahrenheit'" in by_id["c_schema"].error
    assert by_id["c_raise"].error == "explode raised RuntimeError: boom: test"
    assert by_id["c_ok"].ok
    sent = tool_messages(scripted.requests[1])
    assert [m["tool_call_id"] for m in sent] == list(by_id)
    for message, execution in zip(sent[:4], list(by_id.values())[:4]):
        assert json.loads(message["content"]) == {"error": execution.error, "success": False}
    assert json.loads(sent[4]["content"])["location"] == "Paris"


@pytest.mark.parametrize("stream", [False, True])
def test_two_calls_in_one_reply_both_execute_with_their_ids(scripted, client, stream):
    scripted.push(
        Reply(tool_calls=[call("get_weather", {"location": "San Francisco"}, id="call_1"),
                          call("get_weather", {"location": "New York City", "unit": "celsius"}, id="call_2")]),
        Reply(content="Foggy in both."),
    )
    result = run_tools(client, "scripted", USER, [get_weather], stream=stream)
    assert [(e.call_id, e.args["location"]) for e in result.executions] == [
        ("call_1", "San Francisco"), ("call_2", "New York City")]
    sent = tool_messages(scripted.requests[1])
    assert [(m["tool_call_id"], json.loads(m["content"])["location"]) for m in sent] == [
        ("call_1", "San Francisco"), ("call_2", "New York City")]
    assert json.loads(sent[1]["content"])["unit"] == "celsius"


def test_missing_and_duplicate_ids_are_replaced_consistently(scripted, client):
    scripted.push(
        Reply(tool_calls=[call("get_weather", {"location": "A"}, id=""),
                          call("get_weather", {"location": "B"}, id="same"),
                          call("get_weather", {"location": "C"}, id="same")]),
        Reply(content="done"),
    )
    result = run_tools(client, "scripted", USER, [get_weather])
    assistant = result.messages[1]
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert len(set(ids)) == 3 and all(ids) and ids[1] == "same"
    assert [m["tool_call_id"] for m in result.messages[2:5]] == ids
    assert [e.call_id for e in result.executions] == ids


@pytest.mark.parametrize("stream", [False, True])
def test_independent_calls_run_concurrently_sync_client(scripted, client, stream):
    barrier = threading.Barrier(3, timeout=20)  # only passes if all three calls run at once

    @tool
    def slow(n: int) -> int:
        barrier.wait()
        return n

    @tool
    async def aslow(n: int) -> int:
        barrier.wait()  # blocking on purpose: each async tool has its own loop and thread here
        return n

    scripted.push(Reply(tool_calls=[call("slow", {"n": 1}), call("slow", {"n": 2}), call("aslow", {"n": 3})]),
                  Reply(content="ok"))
    result = run_tools(client, "scripted", USER, [slow, aslow], stream=stream)
    assert [(e.result, e.error) for e in result.executions] == [(1, None), (2, None), (3, None)]


def test_independent_calls_run_concurrently_async_client(scripted, async_client):
    async def main():
        barrier = asyncio.Barrier(3)

        @tool
        async def slow(n: int) -> int:
            await asyncio.wait_for(barrier.wait(), 20)
            return n

        scripted.push(Reply(tool_calls=[call("slow", {"n": i}) for i in (1, 2, 3)]), Reply(content="ok"))
        return await run_tools(async_client, "scripted", USER, [slow])

    result = asyncio.run(main())
    assert [(e.result, e.error) for e in result.executions] == [(1, None), (2, None), (3, None)]


def test_step_limit_cuts_off_without_raising(scripted, client):
    for i in range(3):
        scripted.push(Reply(tool_calls=[call("get_weather", {"location": f"City {i}"})]))
    result = run_tools(client, "scripted", USER, [get_weather], max_steps=3, tool_choice="required")

    assert result.cut_off and result.final_text is None
    assert len(scripted.requests) == 3 and len(result.steps) == 3
    assert [e.args["location"] for e in result.executions] == ["City 0", "City 1", "City 2"]
    # Every call of the last reply has its result, so the transcript can be sent again.
    assert result.messages[-1]["role"] == "tool"
    assert result.messages[-1]["tool_call_id"] == result.messages[-2]["tool_calls"][0]["id"]

    scripted.push(Reply(content="Finally."))
    resumed = run_tools(client, "scripted", result.messages, [get_weather])
    assert resumed.final_text == "Finally."
    assert scripted.requests[-1]["messages"] == result.messages


@pytest.mark.parametrize("choice, first", [
    ("required", "required"),
    ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ({"type": "function", "function": {"name": "get_weather"}},
     {"type": "function", "function": {"name": "get_weather"}}),
])
def test_forced_tool_choice_applies_to_the_first_turn_only(scripted, client, choice, first):
    scripted.push(Reply(tool_calls=[call("get_weather", {"location": "X"})]),
                  Reply(tool_calls=[call("get_weather", {"location": "Y"})]),
                  Reply(content="done"))
    result = run_tools(client, "scripted", USER, [get_weather], tool_choice=choice)
    assert [r["tool_choice"] for r in scripted.requests] == [first, "auto", "auto"]
    assert [s.tool_choice for s in result.steps] == [first, "auto", "auto"]
    assert result.final_text == "done"


def test_tool_choice_object_and_no_reset(scripted, client):
    for _ in range(3):
        scripted.push(Reply(tool_calls=[call("get_weather", {"location": "X"})]))
    result = run_tools(client, "scripted", USER, [get_weather], tool_choice=get_weather,
                       reset_tool_choice=False, max_steps=3)
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert [r["tool_choice"] for r in scripted.requests] == [named] * 3
    assert result.cut_off


@pytest.mark.parametrize("choice", ["auto", "none", None])
def test_unforced_tool_choice_is_left_alone(scripted, client, choice):
    scripted.push(Reply(tool_calls=[call("get_weather", {"location": "X"})]), Reply(content="done"))
    extra = {} if choice is None else {"tool_choice": choice}
    run_tools(client, "scripted", USER, [get_weather], **extra)
    assert [r.get("tool_choice") for r in scripted.requests] == [choice, choice]


def test_bad_tool_choice_and_reserved_fields_fail_before_any_request(scripted, client):
    with pytest.raises(ValueError, match="not one of the tools"):
        run_tools(client, "scripted", USER, [get_weather], tool_choice="get_time")
    with pytest.raises(ValueError, match="max_steps"):
        run_tools(client, "scripted", USER, [get_weather], max_steps=0)
    with pytest.raises(ValueError, match="n must be 1"):
        run_tools(client, "scripted", USER, [get_weather], n=2)
    assert scripted.requests == []


def test_streamed_interleaved_fragments_assemble_by_index(scripted, client):
    scripted.fragment = 1  # one character per delta, the calls' fragments interleaved
    calls = [call("get_weather", {"location": "San Francisco", "unit": "celsius"}, id="a"),
             call("get_weather", {"location": "New York City"}, id="b"),
             call("explode", {"reason": "x" * 30}, id="c")]
    scripted.push(Reply(content="Checking three things.", tool_calls=calls), Reply(content="ok"))
    result = run_tools(client, "scripted", USER, [get_weather, explode], stream=True)
    assert [(e.call_id, e.arguments) for e in result.executions] == [(c["id"], c["arguments"]) for c in calls]
    assert result.steps[0].text == "Checking three things."
    assert [e.ok for e in result.executions] == [True, True, False]


def test_streamed_quirks_over_http(scripted, client):
    # No index on the entries, the name repeated in every delta, the id only at first.
    chunks = [
        {"role": "assistant"},
        {"tool_calls": [{"id": "q1", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"loc'}}]},
        {"tool_calls": [{"function": {"name": "get_weather", "arguments": 'ation": "Oslo"}'}}]},
        {"tool_calls": [{"id": "q2", "type": "function",
                         "function": {"name": "get_weather", "arguments": '{"location": "Rome"}'}}]},
    ]
    scripted.push(Reply(tool_calls=[{"id": "q1", "name": "x", "arguments": ""}], chunks=chunks),
                  Reply(content="ok"))
    result = run_tools(client, "scripted", USER, [get_weather], stream=True)
    assert [(e.call_id, e.args) for e in result.executions] == [
        ("q1", {"location": "Oslo"}), ("q2", {"location": "Rome"})]


def test_streaming_and_not_streaming_reach_the_same_executions(scripted, client):
    script = [
        Reply(content="First ", tool_calls=[call("get_weather", {"location": "Lima"}, id="s1"),
                                            call("explode", {"reason": "r"}, id="s2")]),
        Reply(tool_calls=[call("get_weather", '{"location": "Quito", "unit": "celsius"}', id="s3")]),
        Reply(content="All done."),
    ]
    outcomes = []
    for stream in (False, True):
        scripted.push(*script)
        result = run_tools(client, "scripted", USER, [get_weather, explode], stream=stream,
                           temperature=0, seed=1)
        outcomes.append((result.messages, [(e.call_id, e.name, e.arguments, e.content, e.error)
                                           for e in result.executions], result.final_text))
    assert outcomes[0] == outcomes[1]
    assert scripted.requests[0]["temperature"] == 0 and scripted.requests[0]["seed"] == 1


def test_iter_tools_yields_events_in_order(scripted, client):
    scripted.push(Reply(content="Hi", tool_calls=[call("get_weather", {"location": "Bern"}, id="e1")]),
                  Reply(content="Bye"))
    events = iter_tools(client, "scripted", USER, [get_weather])  # streams by default
    kinds = []
    for event in events:
        if isinstance(event, TextDelta):
            kinds.append(("text", event.step))
        elif isinstance(event, ToolCallRequested):
            kinds.append(("call", event.call.id))
        elif isinstance(event, ToolCallFinished):
            kinds.append(("done", event.execution.call_id))
        elif isinstance(event, StepFinished):
            kinds.append(("step", event.step.index))
    assert kinds == [("text", 0), ("call", "e1"), ("done", "e1"), ("step", 0), ("text", 1), ("step", 1)]
    assert events.result.final_text == "Bye"
    assert scripted.requests[0]["stream"] is True


def test_iter_tools_stopped_early_has_no_result(scripted, client):
    scripted.push(Reply(content="long text " * 20), Reply(content="never"))
    events = iter_tools(client, "scripted", USER, [get_weather])
    first = next(events)
    assert isinstance(first, TextDelta)
    events.close()
    assert events.result is None
    assert len(scripted.requests) == 1


def test_async_client_api(scripted, async_client):
    scripted.push(Reply(tool_calls=[call("get_weather", {"location": "Oslo"})]), Reply(content="Cold."),
                  Reply(tool_calls=[call("get_weather", {"location": "Rome"})]), Reply(content="Warm."),
                  Reply(content="Events."))

    async def main():
        pending = run_tools(async_client, "scripted", USER, [get_weather], tool_choice="required")
        assert inspect.isawaitable(pending)
        first = await pending
        texts = []

        async def on_text(text):  # a coroutine callback is awaited
            texts.append(text)

        second = await arun_tools(async_client, "scripted", USER, [get_weather], stream=True, on_text=on_text)
        events = [e async for e in aiter_tools(async_client, "scripted", USER, [get_weather])]
        return first, second, "".join(texts), events

    first, second, text, events = asyncio.run(main())
    assert first.final_text == "Cold." and first.executions[0].args == {"location": "Oslo"}
    assert second.final_text == "Warm." == text
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Eve", "nts", "."]
    with pytest.raises(TypeError, match="async client"):
        asyncio.run(arun_tools(openai.OpenAI(api_key="x"), "m", USER, [get_weather]))


def test_dict_definitions_with_a_function_mapping(scripted, client):
    definition = {"type": "function", "function": {
        "name": "lookup", "description": "Look up a word.",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}}}
    scripted.push(Reply(tool_calls=[call("lookup", {"word": "fog"}), call("lookup", {"word": 3})]),
                  Reply(content="ok"))
    result = run_tools(client, "scripted", USER, [definition], functions={"lookup": lambda word: word.upper()})
    assert scripted.requests[0]["tools"] == [definition]
    assert [(e.result, e.error) for e in result.executions] == [
        ("FOG", None), (None, "Invalid arguments for lookup: word: 3 is not of type 'string'")]


def test_sdk_message_objects_in_the_input_and_name_switch(scripted, client):
    scripted.push(Reply(tool_calls=[call("get_weather", {"location": "X"}, id="n1")]), Reply(content="ok"))
    first = client.chat.completions.create(model="scripted", messages=USER)
    assert first.choices[0].message.tool_calls
    scripted.push(Reply(content="done"))
    history = [*USER, first.choices[0].message,
               {"role": "tool", "tool_call_id": "n1", "content": "{}"}]
    result = run_tools(client, "scripted", history, [get_weather], tool_message_name=False)
    assert result.messages[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "n1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "X"}'}}]}
    assert scripted.requests[-1]["messages"][1] == result.messages[1]


def test_tool_messages_carry_no_name_when_asked(scripted, client):
    scripted.push(Reply(tool_calls=[call("get_weather", {"location": "X"})]), Reply(content="ok"))
    result = run_tools(client, "scripted", USER, [get_weather], tool_message_name=False)
    assert "name" not in result.messages[2]


def test_no_tools_sends_no_tools_key(scripted, client):
    scripted.push(Reply(content="hello"))
    result = run_tools(client, "scripted", USER, [], tool_choice="auto")
    assert "tools" not in scripted.requests[0] and "tool_choice" not in scripted.requests[0]
    assert result.final_text == "hello"


def test_empty_final_reply_has_empty_text(scripted, client):
    scripted.push(Reply(content=None))
    result = run_tools(client, "scripted", USER, [get_weather])
    assert result.final_text == "" and result.messages[-1] == {"role": "assistant", "content": ""}


def test_http_errors_propagate(scripted, client):
    with pytest.raises(openai.BadRequestError, match="no more replies"):
        run_tools(client, "scripted", USER, [get_weather])
