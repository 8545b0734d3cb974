"""The vLLM tool-calling page's quickstart, run as written with the OpenAI Python SDK against the
default model (the server is the page's `vllm serve ... --enable-auto-tool-choice` step)."""

from __future__ import annotations

import json

import pytest

from tests.server.helpers import MODEL_ID, assert_valid_calls

pytestmark = pytest.mark.slow


def get_weather(location: str, unit: str):
    return f"Getting the weather for {location} in {unit}..."


tool_functions = {"get_weather": get_weather}

tools = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City and state, e.g., 'San Francisco, CA'"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["location", "unit"]
        }
    }
}]

MESSAGES = [{"role": "user", "content": "What's the weather like in San Francisco?"}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture(scope="module")
def quickstart_client(server):
    from openai import OpenAI

    return OpenAI(base_url=server.base_url, api_key="dummy")


def test_models_list_gives_the_served_model(quickstart_client):
    assert quickstart_client.models.list().data[0].id == MODEL_ID


def test_quickstart_auto(quickstart_client):
    client = quickstart_client
    response = client.chat.completions.create(
        model=client.models.list().data[0].id,
        messages=MESSAGES,
        tools=tools,
        tool_choice="auto"
    )
    choice = response.choices[0]
    message = choice.message
    # The model decides under "auto"; whatever it decided must be well formed.
    if message.tool_calls:
        assert choice.finish_reason == "tool_calls"
        assert message.content is None or message.content.strip()
        for call in message.tool_calls:
            assert call.function.name in tool_functions
            json.loads(call.function.arguments)
    else:
        assert choice.finish_reason in ("stop", "length")
        assert message.content


def test_quickstart_as_the_page_prints_it_with_named_function_calling(quickstart_client, capsys):
    """The page's own lines: index the first call, decode its arguments, call the function. Under
    "auto" this 135M model answers the weather question in text (test_quickstart_auto checks that
    whatever it decides is well formed), so the call is asked for with the page's named tool_choice."""
    client = quickstart_client
    response = client.chat.completions.create(
        model=client.models.list().data[0].id,
        messages=MESSAGES,
        tools=tools,
        tool_choice=NAMED
    )

    tool_call = response.choices[0].message.tool_calls[0].function
    print(f"Function called: {tool_call.name}")
    print(f"Arguments: {tool_call.arguments}")
    print(f"Result: {get_weather(**json.loads(tool_call.arguments))}")

    out = capsys.readouterr().out
    assert "Function called: get_weather" in out and "Result: Getting the weather for" in out
    assert_valid_calls(response.choices[0].message.tool_calls, tools)


def test_named_function_calling_only_that_function(quickstart_client):
    """Named tool choice: whatever comes back is a call of that function, never of another tool."""
    client = quickstart_client
    other = {"type": "function", "function": {"name": "get_time", "description": "Get the local time",
                                              "parameters": {"type": "object", "properties": {
                                                  "city": {"type": "string"}}}}}
    response = client.chat.completions.create(
        model=client.models.list().data[0].id, messages=MESSAGES, tools=tools + [other], tool_choice=NAMED)
    calls = response.choices[0].message.tool_calls or []
    assert all(call.function.name == "get_weather" for call in calls)
    if calls:
        assert response.choices[0].finish_reason == "tool_calls"


def test_named_function_calling_guarantees_one_valid_call(quickstart_client):
    client = quickstart_client
    response = client.chat.completions.create(
        model=client.models.list().data[0].id, messages=MESSAGES, tools=tools, tool_choice=NAMED)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert len(choice.message.tool_calls) == 1
    assert choice.message.tool_calls[0].function.name == "get_weather"
    assert_valid_calls(choice.message.tool_calls, tools)
    print(f"Result: {tool_functions['get_weather'](**json.loads(choice.message.tool_calls[0].function.arguments))}")
