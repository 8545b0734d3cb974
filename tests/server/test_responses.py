"""POST /v1/responses (OpenAI's Responses API) over the chat path: function tools with the same
guarantees as chat completions, streamed == whole, the tool loop, previous_response_id and the store,
text.format, OpenAI-shaped 4xx errors; and the usage details chat completions now report.

The live tests use the session's default-model server (tests/server/conftest.py); the first ones
check the request translation and the event assembly without a server."""

from __future__ import annotations

import json

import jsonschema
import pytest

from toolwire.api.responses_input import chat_request, input_items, responses_param
from toolwire.api.responses_output import ResponseAssembler
from toolwire.protocol.chat import AssistantMessage, SystemMessage, ToolMessage, UserMessage
from toolwire.protocol.responses import ResponsesRequest
from toolwire.protocol.tool_calls import DeltaFunctionCall, DeltaMessage, DeltaToolCall

MODEL = "SmolLM2-135M-Instruct"
WEATHER = {
    "type": "function", "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location", "unit"],
    },
}
ASK = "What's the weather like in Paris?"
FORCED = dict(model=MODEL, input=ASK, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False,
              max_output_tokens=48, temperature=0)


# ---------------------------------------------------------------- without a server


def _chat(body: dict):
    request = ResponsesRequest.model_validate(body)
    return chat_request(request, input_items(request))


def test_items_become_chat_messages():
    chat = _chat({"instructions": "Be brief.", "input": [
        {"role": "user", "content": ASK},
        {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "look it up"}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"location": "Paris"}'},
        {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": '{"location": "Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "18C"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "20C"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Mild."}]},
    ], "tools": [WEATHER], "tool_choice": {"type": "function", "name": "get_weather"},
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        "reasoning": {"effort": "minimal"}, "max_output_tokens": 7})
    kinds = [type(m) for m in chat.messages]
    assert kinds == [SystemMessage, UserMessage, AssistantMessage, ToolMessage, ToolMessage, AssistantMessage]
    turn = chat.messages[2]
    assert turn.reasoning_content == "look it up" and [c.id for c in turn.tool_calls] == ["c1", "c2"]
    assert chat.messages[4].content == "20C"
    assert chat.tools[0].function.name == "get_weather" and chat.named_tool == "get_weather"
    assert chat.response_format.type == "json_schema" and chat.response_format.json_schema.name == "w"
    assert chat.chat_template_kwargs == {"enable_thinking": False}
    assert chat.max_new_tokens == 7


def test_assistant_reasoning_is_read_under_either_name():
    from toolwire.chat.conversation import template_messages

    messages = template_messages([{"role": "assistant", "content": "Hello!", "reasoning": "greet back"},
                                  {"role": "assistant", "content": "Hi", "reasoning_content": "again"}])
    assert [m["reasoning_content"] for m in messages] == ["greet back", "again"]


def test_chat_field_names_are_reported_as_responses_names():
    assert responses_param("tools[2].function.parameters") == "tools[2].parameters"
    assert responses_param("messages") == "input"
    assert responses_param("max_tokens") == "max_output_tokens"
    assert responses_param("response_format.json_schema") == "text.format.json_schema"


def _call_delta(index, call_id=None, name=None, arguments=None):
    return DeltaMessage(tool_calls=[DeltaToolCall(index=index, id=call_id, type="function" if call_id else None,
                                                  function=DeltaFunctionCall(name=name, arguments=arguments))])


def test_assembler_events_rebuild_the_response():
    assembler = ResponseAssembler({"id": "resp_x", "object": "response", "created_at": 0, "model": MODEL})
    events = assembler.start()
    for delta in [DeltaMessage(reasoning_content="Think"), DeltaMessage(reasoning_content="ing."),
                  DeltaMessage(content="Calling."), _call_delta(0, "call_a", "get_weather", ""),
                  _call_delta(0, arguments='{"location": '), _call_delta(0, arguments='"Paris"}'),
                  _call_delta(1, "call_b", "get_weather", '{"location": "Rome"}')]:
        events += assembler.add(delta)
    events += assembler.finish("tool_calls", {"input_tokens": 1})
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed"
    output = assembler.response["output"]
    assert [item["type"] for item in output] == ["reasoning", "message", "function_call", "function_call"]
    assert output[0]["content"] == [{"type": "reasoning_text", "text": "Thinking."}] and output[0]["summary"] == []
    assert output[1]["content"][0] == {"type": "output_text", "text": "Calling.", "annotations": []}
    assert [(i["call_id"], i["arguments"]) for i in output[2:]] == [
        ("call_a", '{"location": "Paris"}'), ("call_b", '{"location": "Rome"}')]
    assert all(item["status"] == "completed" for item in output)
    # a client rebuilds the same items from the events
    assert _rebuild(events) == output


def test_assembler_marks_truncation_incomplete():
    assembler = ResponseAssembler({"id": "resp_x"})
    assembler.start()
    assembler.add(DeltaMessage(content="Once upon"))
    events = assembler.finish("length", {})
    assert events[-1]["type"] == "response.incomplete"
    assert assembler.response["status"] == "incomplete"
    assert assembler.response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert assembler.response["output"][0]["status"] == "incomplete"


def test_store_evicts_the_least_recently_used():
    from toolwire.api.response_store import ResponseStore, StoredResponse

    store = ResponseStore(2)
    for name in ("a", "b"):
        store.put(StoredResponse({"id": name, "output": []}, []))
    assert store.get("a") is not None  # "a" is now the most recent
    store.put(StoredResponse({"id": "c", "output": []}, []))
    assert store.get("b") is None and store.get("a") and store.get("c") and len(store) == 2
    assert store.delete("a") and not store.delete("a")
    unbounded_off = ResponseStore(0)
    unbounded_off.put(StoredResponse({"id": "x", "output": []}, []))
    assert unbounded_off.get("x") is None


def test_stored_output_continues_as_input():
    from toolwire.api.response_store import StoredResponse

    assembler = ResponseAssembler({"id": "resp_x"})
    assembler.add(DeltaMessage(reasoning_content="hmm"))
    assembler.add(_call_delta(0, "call_a", "get_weather", '{"location": "Paris"}'))
    assembler.finish("tool_calls", {})
    request = ResponsesRequest(input=ASK)
    conversation = StoredResponse(assembler.response, input_items(request)).conversation()
    chat = chat_request(request, conversation + [
        ResponsesRequest.model_validate({"input": [{"type": "function_call_output", "call_id": "call_a",
                                                    "output": "18C"}]}).input[0]])
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool"]
    assert chat.messages[1].reasoning_content == "hmm" and chat.messages[1].tool_calls[0].id == "call_a"


def test_flags_and_reasoning_field():
    from toolwire.api.serving_chat import _delta_json
    from toolwire.serve import parse_args

    config = parse_args(["--responses-store-size", "5", "--reasoning-field", "reasoning"])
    assert config.responses_store_size == 5 and config.reasoning_field == "reasoning"
    assert parse_args([]).reasoning_field == "reasoning_content"
    with pytest.raises(SystemExit):
        parse_args(["--responses-store-size", "-1"])
    assert _delta_json(DeltaMessage(reasoning_content="r"), "reasoning") == {"reasoning": "r"}


def _rebuild(events: list[dict]) -> list[dict]:
    """The output items as a streaming client assembles them from added / delta / done events."""
    items: dict[int, dict] = {}
    for event in events:
        kind = event["type"]
        if kind == "response.output_item.added":
            items[event["output_index"]] = json.loads(json.dumps(event["item"]))
        elif kind == "response.content_part.added":
            items[event["output_index"]]["content"].append(dict(event["part"]))
        elif kind in ("response.output_text.delta", "response.reasoning_text.delta"):
            items[event["output_index"]]["content"][event["content_index"]]["text"] += event["delta"]
        elif kind == "response.function_call_arguments.delta":
            items[event["output_index"]]["arguments"] += event["delta"]
        elif kind == "response.output_item.done":
            done = items[event["output_index"]]
            assert {k: v for k, v in done.items() if k != "status"} == \
                   {k: v for k, v in event["item"].items() if k != "status"}
            done["status"] = event["item"]["status"]
    return [items[i] for i in sorted(items)]


# ---------------------------------------------------------------- live server


def _view(output) -> list[tuple]:
    """Output items without their random ids."""
    view = []
    for item in output:
        item = item if isinstance(item, dict) else item.model_dump()
        if item["type"] == "function_call":
            view.append(("function_call", item["name"], item["arguments"], item["status"]))
        elif item["type"] == "message":
            view.append(("message", "".join(part["text"] for part in item["content"]), item["status"]))
        else:
            view.append((item["type"], json.dumps(item.get("content"))))
    return view


def _assert_valid_call(item) -> dict:
    assert item.type == "function_call" and item.name == "get_weather"
    assert item.call_id and item.id.startswith("fc_")
    arguments = json.loads(item.arguments)
    jsonschema.validate(arguments, WEATHER["parameters"])
    return arguments


@pytest.mark.slow
def test_required_tool_call_whole_and_streamed_agree(client):
    whole = client.responses.create(**FORCED)
    assert whole.id.startswith("resp_") and whole.object == "response" and whole.status == "completed"
    assert [item.type for item in whole.output] == ["function_call"]
    _assert_valid_call(whole.output[0])
    usage = whole.usage
    assert usage.input_tokens > 0 and 0 < usage.output_tokens <= 48
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert usage.input_tokens_details.cached_tokens >= 0

    with client.responses.stream(**FORCED) as stream:
        kinds = [event.type for event in stream]
        streamed = stream.get_final_response()
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert "response.function_call_arguments.delta" in kinds and kinds[-1] == "response.completed"
    assert _view(streamed.output) == _view(whole.output)



@pytest.mark.slow
def test_raw_stream_events(http):
    """`event: TYPE` then `data: {...}` naming the same type, sequence numbers from 0, the last event
    carrying the whole response; `incomplete` when max_output_tokens runs out."""
    body = dict(FORCED, tools=[], tool_choice="auto", input="Write a long story about a dragon.",
                max_output_tokens=5, stream=True)
    with http.stream("POST", "/v1/responses", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        blocks = [block for block in response.read().decode().split("\n\n") if block]
    events = []
    for block in blocks:
        event_line, data_line = block.split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {event['type']}"
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.incomplete"
    final = events[-1]["response"]
    assert final["status"] == "incomplete" and final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["usage"]["output_tokens"] == 5
    assert _rebuild(events) == final["output"]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert final["output"][0]["content"][0]["text"] == text


@pytest.mark.slow
def test_tool_loop_with_function_call_output(client):
    first = client.responses.create(**FORCED)
    call = first.output[0]
    _assert_valid_call(call)
    # the client sends the whole conversation back, as a stateless agent does
    second = client.responses.create(model=MODEL, tools=[WEATHER], max_output_tokens=24, store=False, input=[
        {"role": "user", "content": ASK}, call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "18 degrees and sunny"}])
    assert second.status in ("completed", "incomplete") and second.output
    assert second.store is False
    with pytest.raises(Exception) as missing:
        client.responses.retrieve(second.id)
    assert getattr(missing.value, "status_code", None) == 404


@pytest.mark.slow
def test_previous_response_id_get_and_delete(client, http):
    first = client.responses.create(**FORCED, metadata={"run": "1"})
    call = first.output[0]
    second = client.responses.create(model=MODEL, previous_response_id=first.id, max_output_tokens=24, tools=[WEATHER],
                                     input=[{"type": "function_call_output", "call_id": call.call_id,
                                             "output": "18 degrees and sunny"}])
    assert second.previous_response_id == first.id and second.output
    # the continuation saw the first turn: its prompt holds the question and the call
    assert second.usage.input_tokens > first.usage.input_tokens

    got = http.get(f"/v1/responses/{first.id}")
    assert got.status_code == 200 and _view(got.json()["output"]) == _view(first.output)
    assert got.json()["metadata"] == {"run": "1"}
    deleted = http.delete(f"/v1/responses/{first.id}")
    assert deleted.json() == {"id": first.id, "object": "response.deleted", "deleted": True}
    for response in (http.get(f"/v1/responses/{first.id}"), http.delete(f"/v1/responses/{first.id}"),
                     http.post("/v1/responses", json={"input": "hi", "previous_response_id": first.id})):
        assert response.status_code == 404
        error = response.json()["error"]
        assert first.id in error["message"] and error["type"] and error["code"] == "response_not_found"


@pytest.mark.slow
def test_text_format_json_schema(client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    response = client.responses.create(model=MODEL, input="Name a city in France as JSON.", max_output_tokens=40,
                                       text={"format": {"type": "json_schema", "name": "city", "schema": schema,
                                                        "strict": True}})
    assert response.text.format.type == "json_schema"
    if response.status == "completed":
        jsonschema.validate(json.loads(response.output_text), schema)


@pytest.mark.slow
@pytest.mark.parametrize("body, param", [
    ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"input": "hi", "n": 2}, "n"),
    ({"input": "hi", "background": True}, "background"),
    ({"input": [{"type": "computer_call", "call_id": "x"}]}, "input[0]"),
    ({"input": "hi", "reasoning": {"effort": "enormous"}}, "reasoning.effort"),
    ({"input": "hi", "tool_choice": "required"}, "tool_choice"),
    ({"input": "hi", "tools": [dict(WEATHER, parameters={"type": "string"})]}, "tools[0].parameters"),
    ({"input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
    ({"input": "hi", "max_output_tokens": 100000}, "max_output_tokens"),
    ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "not json"}]}, "input"),
    ({"input": []}, "input"),
    ({"model": "gpt-9", "input": "hi"}, "model"),
])
def test_bad_input_is_an_openai_error(http, body, param):
    response = http.post("/v1/responses", json=body)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"] and error["param"] == param, error


@pytest.mark.slow
def test_chat_completions_report_usage_details(http):
    body = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}
    usage = http.post("/v1/chat/completions", json=body).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] >= 0
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}
    chunks = []
    with http.stream("POST", "/v1/chat/completions",
                     json=dict(body, stream=True, stream_options={"include_usage": True})) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunks.append(json.loads(line[6:]))
    final = chunks[-1]["usage"]
    assert final["completion_tokens_details"] == {"reasoning_tokens": 0}
    # the same prompt again: its tokens come from the prefix cache
    assert final["prompt_tokens_details"]["cached_tokens"] > 0




@pytest.mark.slow
def test_reasoning_items_and_tokens(aux_server):
    """The aux server's template opens <think> and its deepseek_r1 parser splits the reasoning off:
    a Responses reply starts with a reasoning item, counted in reasoning_tokens, streamed as whole."""
    import httpx

    body = {"model": "deepseek-r1", "input": "Hi", "max_output_tokens": 12}
    with httpx.Client(base_url=aux_server.url, headers=aux_server.headers, timeout=300) as http:
        whole = http.post("/v1/responses", json=body).json()
        with http.stream("POST", "/v1/responses", json=dict(body, stream=True)) as response:
            events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
        chat = http.post("/v1/chat/completions", json={"model": "deepseek-r1", "max_tokens": 12,
                                                       "messages": [{"role": "user", "content": "Hi"}]}).json()
    reasoning = whole["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["summary"] == []
    assert reasoning["content"][0]["type"] == "reasoning_text" and reasoning["content"][0]["text"]
    assert 0 < whole["usage"]["output_tokens_details"]["reasoning_tokens"] <= whole["usage"]["output_tokens"] + 1
    streamed = events[-1]["response"]
    assert _view(streamed["output"]) == _view(whole["output"])
    assert "response.reasoning_text.delta" in [e["type"] for e in events]
    assert chat["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
