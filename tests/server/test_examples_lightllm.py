"""The LightLLM function-calling page's requests examples, run as written against the default model.

Only the deployment values change: `url` points at the server under test and the placeholder model
name is the served one. The page's fragments (parallel calls, forced tool) are completed with the
messages of the example before them, as a reader would."""

from __future__ import annotations

import json

import pytest
import requests

from tests.server.helpers import MODEL_ID, assert_valid_calls

pytestmark = pytest.mark.slow


tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get weather information for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {
                        "type": "string",
                        "description": "City name"
                    }
                },
                "required": ["city"]
            }
        }
    }
]


@pytest.fixture(scope="module")
def url(server):
    return server.base_url + "/chat/completions"


def check_message(choice: dict) -> None:
    """What the page's code relies on: content or tool calls, consistent with finish_reason."""
    message = choice["message"]
    assert message["role"] == "assistant"
    if message.get("tool_calls"):
        assert choice["finish_reason"] == "tool_calls"
        for tc in message["tool_calls"]:
            assert tc["function"]["name"] == "get_weather"
            assert tc["id"].startswith("call_")
            json.loads(tc["function"]["arguments"])
    else:
        assert choice["finish_reason"] in ("stop", "length")
        assert isinstance(message["content"], str)


def test_non_streaming(url, capsys):
    data = {
        "model": MODEL_ID,
        "messages": [
            {"role": "user", "content": "What's the weather in Beijing?"}
        ],
        "tools": tools,
        "tool_choice": "auto"  # "auto" | "none" | "required"
    }

    response = requests.post(url, json=data).json()
    message = response["choices"][0]["message"]

    if message.get("tool_calls"):
        for tc in message["tool_calls"]:
            print(f"Tool: {tc['function']['name']}")
            print(f"Args: {tc['function']['arguments']}")

    check_message(response["choices"][0])
    assert response["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize("tool_choice", ["none", "required"])
def test_non_streaming_other_tool_choices(url, tool_choice):
    data = {"model": MODEL_ID, "messages": [{"role": "user", "content": "What's the weather in Beijing?"}],
            "tools": tools, "tool_choice": tool_choice}
    response = requests.post(url, json=data)
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    check_message(choice)
    if tool_choice == "none":
        assert not choice["message"].get("tool_calls")


def test_required_yields_a_schema_valid_call(url):
    data = {"model": MODEL_ID, "messages": [{"role": "user", "content": "What's the weather in Beijing?"}],
            "tools": tools, "tool_choice": "required"}
    choice = requests.post(url, json=data).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert len(choice["message"]["tool_calls"]) >= 1
    assert_valid_calls(choice["message"]["tool_calls"], tools)


def test_streaming(url):
    data = {
        "model": MODEL_ID,
        "messages": [{"role": "user", "content": "Check weather for Beijing and Shanghai"}],
        "tools": tools,
        "stream": True
    }

    response = requests.post(url, json=data, stream=True)
    tool_calls = {}

    # The page's loop, plus what a careful client also checks (the finish reason, [DONE]).
    finish_reason, done, content = None, False, ""
    for line in response.iter_lines():
        if line == b"data: [DONE]":
            done = True
            continue
        if line and line.startswith(b"data: "):
            chunk = json.loads(line[6:])
            delta = chunk["choices"][0]["delta"]
            finish_reason = chunk["choices"][0]["finish_reason"] or finish_reason
            content += delta.get("content") or ""

            if delta.get("tool_calls"):
                for tc in delta["tool_calls"]:
                    idx = tc.get("index", 0)
                    if idx not in tool_calls:
                        tool_calls[idx] = {"function": {"name": "", "arguments": ""}}

                    if tc["function"].get("name"):
                        tool_calls[idx]["function"]["name"] = tc["function"]["name"]
                    if tc["function"].get("arguments"):
                        tool_calls[idx]["function"]["arguments"] += tc["function"]["arguments"]

    assert done
    assert sorted(tool_calls) == list(range(len(tool_calls)))
    if tool_calls:
        assert finish_reason == "tool_calls"
        for call in tool_calls.values():
            assert call["function"]["name"] == "get_weather"
            json.loads(call["function"]["arguments"])
    else:
        assert finish_reason in ("stop", "length") and content


def test_multi_turn_conversation(url):
    # 1. User question
    messages = [{"role": "user", "content": "How's the weather in Beijing?"}]

    # 2. Model calls tool
    response1 = requests.post(url, json={
        "messages": messages,
        "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }).json()

    assistant = response1["choices"][0]["message"]
    assert assistant.get("tool_calls"), "a named tool_choice must yield that call"
    tool_call = assistant["tool_calls"][0]
    messages.append(response1["choices"][0]["message"])

    # 3. Return tool result
    weather_result = {"temperature": 15, "condition": "sunny"}
    messages.append({
        "role": "tool",
        "tool_call_id": tool_call["id"],
        "name": tool_call["function"]["name"],
        "content": json.dumps(weather_result)
    })

    # 4. Generate final answer
    response2 = requests.post(url, json={"messages": messages}).json()
    print(response2["choices"][0]["message"]["content"])

    final = response2["choices"][0]
    assert final["message"]["content"]
    assert not final["message"].get("tool_calls")  # no tools offered in the second request
    assert final["finish_reason"] in ("stop", "length")


def test_multi_turn_with_a_written_history(url):
    """The second half of the page's conversation with the first turn written out, so the server's
    handling of an assistant tool_calls message and a tool message is tested whatever the model does."""
    messages = [
        {"role": "user", "content": "How's the weather in Beijing?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_abc123", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": "Beijing"})}}]},
        {"role": "tool", "tool_call_id": "call_abc123", "name": "get_weather",
         "content": json.dumps({"temperature": 15, "condition": "sunny"})},
    ]
    response = requests.post(url, json={"messages": messages})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    with_tools = requests.post(url, json={"messages": messages, "tools": tools})
    assert with_tools.status_code == 200, with_tools.text
    check_message(with_tools.json()["choices"][0])


@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_tool_calls(url, parallel):
    messages = [{"role": "user", "content": "Check weather for Beijing and Shanghai"}]
    data = {
        "messages": messages,
        "tools": tools,
        "parallel_tool_calls": parallel  # Enable parallel calls
    }
    choice = requests.post(url, json=data).json()["choices"][0]
    check_message(choice)
    if not parallel:
        assert len(choice["message"].get("tool_calls") or []) <= 1


def test_force_specific_tool(url):
    data = {
        "messages": [{"role": "user", "content": "What's the weather in Beijing?"}],
        "tools": tools,
        "tool_choice": {
            "type": "function",
            "function": {"name": "get_weather"}
        }
    }
    choice = requests.post(url, json=data).json()["choices"][0]
    check_message(choice)


def test_force_specific_tool_always_calls_it(url):
    data = {"messages": [{"role": "user", "content": "Tell me a joke."}], "tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}
    choice = requests.post(url, json=data).json()["choices"][0]
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["get_weather"]
    assert_valid_calls(choice["message"]["tool_calls"], tools)
