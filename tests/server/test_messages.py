"""POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API) through the anthropic SDK
against the live servers: tool_use blocks valid against their input_schema, streamed == whole,
tool_result turns, tool_choice, token counting, Anthropic-shaped errors and the x-api-key header."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest

from tests.server.helpers import AUX_API_KEY, AUX_MODEL_ID, MODEL_ID, TIME_TOOL, WEATHER_TOOL

anthropic = pytest.importorskip("anthropic")

pytestmark = pytest.mark.slow


def _anthropic_tool(tool: dict) -> dict:
    function = tool["function"]
    return {"name": function["name"], "description": function["description"], "input_schema": function["parameters"]}


WEATHER = _anthropic_tool(WEATHER_TOOL)
TIME = _anthropic_tool(TIME_TOOL)
SCHEMAS = {tool["name"]: tool["input_schema"] for tool in (WEATHER, TIME)}
ASK = [{"role": "user", "content": "What is the weather in Paris, in celsius?"}]
# The SDK's own parameters no longer include temperature: it goes in the body as older clients send it.
BASE = dict(model=MODEL_ID, max_tokens=48, messages=ASK, extra_body={"temperature": 0})


@pytest.fixture(scope="module")
def claude(server):
    return anthropic.Anthropic(base_url=server.url, api_key="unused", max_retries=0, timeout=300)


def _tool_uses(message) -> list:
    uses = [block for block in message.content if block.type == "tool_use"]
    for block in uses:
        assert block.id.startswith("toolu_"), block
        jsonschema.validate(block.input, SCHEMAS[block.name])
    return uses


def test_tool_use_whole_and_streamed_agree(claude):
    # Room for the call and the end of the turn (greedy, this model then stops after one call).
    request = dict(BASE, max_tokens=120, tools=[WEATHER], tool_choice={"type": "any"})
    whole = claude.messages.create(**request)
    assert whole.id.startswith("msg_") and whole.role == "assistant" and whole.model == MODEL_ID
    assert whole.stop_reason == "tool_use" and whole.stop_sequence is None
    assert [block.name for block in _tool_uses(whole)][:1] == ["get_weather"]
    assert whole.usage.output_tokens > 0 and whole.usage.input_tokens > 0

    with claude.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    without_ids = lambda message: [{**b.model_dump(), "id": None} if b.type == "tool_use" else b.model_dump()
                                   for b in message.content]
    assert without_ids(streamed) == without_ids(whole)
    assert streamed.stop_reason == whole.stop_reason


def test_stream_events_in_order(server):
    body = dict(BASE, max_tokens=8, stream=True, messages=[{"role": "user", "content": "Say hi"}])
    with httpx.stream("POST", server.url + "/v1/messages", json=body, timeout=300) as response:
        assert response.status_code == 200
        text = response.read().decode()
    events = []
    for chunk in text.strip().split("\n\n"):
        name_line, data_line = chunk.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert name_line == "event: " + data["type"]
        events.append(data)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert events[0]["message"]["content"] == [] and "input_tokens" in events[0]["message"]["usage"]
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") >= 1


def test_count_tokens_matches_the_messages_input(claude):
    request = dict(BASE, max_tokens=4, tools=[WEATHER, TIME])
    message = claude.messages.create(**request)
    counted = claude.messages.count_tokens(model=MODEL_ID, messages=ASK, tools=[WEATHER, TIME])
    usage = message.usage
    assert counted.input_tokens == usage.input_tokens + (usage.cache_read_input_tokens or 0)
    without_tools = claude.messages.count_tokens(model=MODEL_ID, messages=ASK)
    assert without_tools.input_tokens < counted.input_tokens


def test_tool_result_turn(claude):
    history = ASK + [
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should look it up.", "signature": ""},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
             "input": {"location": "Paris", "unit": "celsius"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "18 C, sunny"}]},
            {"type": "text", "text": "Answer in one sentence."}]},
    ]
    message = claude.messages.create(**dict(BASE, max_tokens=16, tools=[WEATHER], messages=history))
    assert message.stop_reason in {"end_turn", "max_tokens", "tool_use"}
    _tool_uses(message)
    error_result = claude.messages.count_tokens(model=MODEL_ID, messages=history[:2] + [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, sunny", "is_error": True}]}])
    assert error_result.input_tokens > 0


def test_named_tool_choice_gives_that_tool(claude):
    message = claude.messages.create(**dict(BASE, max_tokens=64, tools=[WEATHER, TIME],
                                            tool_choice={"type": "tool", "name": "get_time"}))
    uses = _tool_uses(message)
    assert uses and {block.name for block in uses} == {"get_time"}


def test_disable_parallel_tool_use_gives_one_call(claude):
    message = claude.messages.create(**dict(
        BASE, max_tokens=64, tools=[WEATHER, TIME],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "Weather in Paris and time in Tokyo?"}]))
    assert len(_tool_uses(message)) == 1


def test_stop_sequence(claude):
    message = claude.messages.create(**dict(BASE, max_tokens=32, messages=[
        {"role": "user", "content": "Count from 1 to 10 separated by spaces."}], stop_sequences=["5"]))
    if message.stop_reason == "stop_sequence":  # a tiny model may not count that far
        assert message.stop_sequence == "5"


@pytest.mark.parametrize("change, status, kind, says", [
    ({"max_tokens": None}, 400, "invalid_request_error", "max_tokens"),
    ({"model": "claude-nonexistent"}, 404, "not_found_error", "claude-nonexistent"),
    ({"tool_choice": {"type": "bogus"}}, 400, "invalid_request_error", "tool_choice"),
    ({"tool_choice": {"type": "tool", "name": "nope"}, "tools": [WEATHER]}, 400, "invalid_request_error", "nope"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}, 400,
     "invalid_request_error", "image"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, 400, "invalid_request_error",
     "web_search_20250305"),
    ({"messages": [{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "x"}]}]}, 400,
     "invalid_request_error", "tool_result"),
    ({"messages": "hello"}, 400, "invalid_request_error", "messages"),
    ({"output_config": {"format": {"type": "json_schema", "schema": {}}}}, 400, "invalid_request_error",
     "output_config.format"),
    ({"temperature": 1.5}, 400, "invalid_request_error", "temperature"),
    ({"messages": [{"role": "user", "content": []}]}, 400, "invalid_request_error", "messages[0].content"),
    ({"max_tokens": 100_000}, 400, "invalid_request_error", "max_tokens"),
])
def test_errors_are_anthropic_shaped(server, change, status, kind, says):
    body = {key: value for key, value in {**BASE, "temperature": 0, **change}.items()
            if value is not None and key != "extra_body"}
    response = httpx.post(server.url + "/v1/messages", json=body, timeout=300)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["type"] == "error" and set(payload["error"]) == {"type", "message"}
    assert payload["error"]["type"] == kind and says in payload["error"]["message"]


def test_malformed_json_and_sdk_errors(server, claude):
    response = httpx.post(server.url + "/v1/messages/count_tokens", content=b"{", timeout=60,
                          headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(**dict(BASE, model="nope"))
    # The OpenAI routes keep OpenAI's shape.
    assert "param" in httpx.post(server.url + "/v1/chat/completions", json={}, timeout=60).json()["error"]


def test_x_api_key_and_thinking(aux_server):
    good = anthropic.Anthropic(base_url=aux_server.url, api_key=AUX_API_KEY, max_retries=0, timeout=300)
    message = good.messages.create(model=AUX_MODEL_ID, max_tokens=8, messages=[{"role": "user", "content": "Hi"}],
                                   thinking={"type": "enabled", "budget_tokens": 1024})
    # The aux template opens <think>: the reply is reasoning, a thinking block.
    assert message.content and message.content[0].type == "thinking" and message.content[0].thinking
    assert httpx.get(aux_server.url + "/v1/models", headers={"x-api-key": AUX_API_KEY}).status_code == 200

    bad = anthropic.Anthropic(base_url=aux_server.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad.messages.create(model=AUX_MODEL_ID, max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.body == {"type": "error", "error": {"type": "authentication_error",
                                                            "message": "Incorrect API key provided."}}
    missing = httpx.post(aux_server.url + "/v1/messages/count_tokens", json={})
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
