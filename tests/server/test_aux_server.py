"""The second server: a tool parser plugin file, a reasoning parser with a template that opens
<think>, and an API key.

- The plugin (tests/server/plugins/echo_parser.py) turns a reply into one `echo` call when `echo` is
  offered, whatever the model wrote: if the server used it, the call is there.
- The LightLLM page's reasoning example: `reasoning_content` filled (the template opened <think>,
  so with deepseek_r1 the reply is reasoning), `separate_reasoning: false` keeps it inline,
  `chat_template_kwargs` reaches the template.
"""

from __future__ import annotations

import json

import httpx
import pytest
import requests

from tests.server.helpers import AUX_API_KEY, AUX_MODEL_ID

pytestmark = pytest.mark.slow

ECHO_TOOL = {"type": "function", "function": {
    "name": "echo", "description": "Repeat a text",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get weather information for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}
NO_THINKING = {"enable_thinking": False}


@pytest.fixture(scope="module")
def url(aux_server):
    return aux_server.base_url + "/chat/completions"


@pytest.fixture(scope="module")
def auth(aux_server):
    return aux_server.headers


# ---------------------------------------------------------------- API key


def test_api_key_required_on_every_route_that_does_work(aux_server):
    for method, path in [("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("POST", "/v1/completions"),
                         ("POST", "/tokenize"), ("POST", "/detokenize")]:
        response = httpx.request(method, aux_server.url + path, json={})
        assert response.status_code == 401, (path, response.text)
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "authentication_error"


def test_wrong_api_key(aux_server):
    for header in ["Bearer wrong", "Basic " + AUX_API_KEY, AUX_API_KEY, "Bearer"]:
        response = httpx.get(aux_server.url + "/v1/models", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_right_api_key_and_open_routes(aux_server, auth):
    assert httpx.get(aux_server.url + "/v1/models", headers=auth).json()["data"][0]["id"] == AUX_MODEL_ID
    assert httpx.get(aux_server.url + "/health").status_code == 200
    # Without --metrics-need-key, Prometheus scrapes without the key.
    assert httpx.get(aux_server.url + "/metrics").status_code == 200


def test_openai_sdk_with_and_without_key(aux_server):
    import openai

    good = openai.OpenAI(base_url=aux_server.base_url, api_key=AUX_API_KEY, max_retries=0)
    assert good.models.list().data[0].id == AUX_MODEL_ID
    bad = openai.OpenAI(base_url=aux_server.base_url, api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


# ---------------------------------------------------------------- the plugin parser


def test_plugin_parser_is_used(url, auth):
    data = {"model": AUX_MODEL_ID, "messages": [{"role": "user", "content": "Say hello"}],
            "tools": [ECHO_TOOL], "chat_template_kwargs": NO_THINKING}
    response = requests.post(url, json=data, headers=auth)
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    calls = choice["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["echo"]
    assert calls[0]["id"] == "call_echoplugin000000000001"
    assert isinstance(json.loads(calls[0]["function"]["arguments"])["text"], str)
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None


def test_plugin_parser_streaming_matches(url, auth):
    data = {"model": AUX_MODEL_ID, "messages": [{"role": "user", "content": "Say hello"}],
            "tools": [ECHO_TOOL], "chat_template_kwargs": NO_THINKING}
    requests.post(url, json=dict(data, max_tokens=1), headers=auth)  # warm the prefix cache
    whole = requests.post(url, json=data, headers=auth).json()["choices"][0]["message"]
    arguments, names, finish = "", [], None
    with requests.post(url, json=dict(data, stream=True), headers=auth, stream=True) as response:
        for line in response.iter_lines():
            if line.startswith(b"data: {"):
                choice = json.loads(line[6:])["choices"][0]
                finish = choice["finish_reason"] or finish
                for tc in choice["delta"].get("tool_calls", []):
                    if tc["function"].get("name"):
                        names.append(tc["function"]["name"])
                    arguments += tc["function"].get("arguments") or ""
    assert names == ["echo"] and finish == "tool_calls"
    assert json.loads(arguments) == json.loads(whole["tool_calls"][0]["function"]["arguments"])


def test_plugin_parser_passes_text_through_without_its_tool(url, auth):
    data = {"messages": [{"role": "user", "content": "Say hello"}], "tools": [WEATHER],
            "chat_template_kwargs": NO_THINKING}
    message = requests.post(url, json=data, headers=auth).json()["choices"][0]["message"]
    assert not message.get("tool_calls")
    assert message["content"]


# ---------------------------------------------------------------- reasoning


def test_reasoning_example(url, auth, capsys):
    """The page's "Integration with Reasoning Models" example (its messages filled in)."""
    data = {
        "model": "deepseek-r1",
        "messages": [{"role": "user", "content": "What's the weather in Beijing?"}],
        "tools": [WEATHER],
        "chat_template_kwargs": {"enable_thinking": True},
        "separate_reasoning": True  # Separate reasoning content
    }

    response = requests.post(url, json=data, headers=auth).json()
    message = response["choices"][0]["message"]

    print("Reasoning:", message.get("reasoning_content"))
    print("Tool calls:", message.get("tool_calls"))

    # The template opened <think> and this small model never closes it: all of it is reasoning.
    assert message["reasoning_content"]
    assert "<think>" not in message["reasoning_content"]
    assert message["content"] is None
    assert "Reasoning: " in capsys.readouterr().out


def test_reasoning_inline_when_not_separated(url, auth):
    data = {"messages": [{"role": "user", "content": "What's the weather in Beijing?"}],
            "chat_template_kwargs": {"enable_thinking": True}, "separate_reasoning": False}
    # warm the prefix cache first: both compared runs then meet the same cache state (see the report)
    requests.post(url, json=dict(data, max_tokens=1), headers=auth)
    separated = requests.post(url, json=dict(data, separate_reasoning=True), headers=auth).json()
    inline = requests.post(url, json=data, headers=auth).json()
    message = inline["choices"][0]["message"]
    assert message.get("reasoning_content") is None
    assert message["content"].strip() == separated["choices"][0]["message"]["reasoning_content"].strip()


def test_reasoning_streams_in_reasoning_deltas(url, auth):
    data = {"messages": [{"role": "user", "content": "What's the weather in Beijing?"}],
            "chat_template_kwargs": {"enable_thinking": True}}
    requests.post(url, json=dict(data, max_tokens=1), headers=auth)  # warm the prefix cache
    whole = requests.post(url, json=data, headers=auth).json()["choices"][0]["message"]
    reasoning, content = "", ""
    with requests.post(url, json=dict(data, stream=True), headers=auth, stream=True) as response:
        for line in response.iter_lines():
            if line.startswith(b"data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"]
                reasoning += delta.get("reasoning_content") or ""
                content += delta.get("content") or ""
    assert reasoning == whole["reasoning_content"]
    assert content == (whole["content"] or "")


def test_enable_thinking_reaches_the_template(aux_server, auth):
    messages = [{"role": "user", "content": "Hi"}]
    thinking = httpx.post(aux_server.url + "/tokenize", headers=auth,
                          json={"messages": messages, "chat_template_kwargs": {"enable_thinking": True}})
    plain = httpx.post(aux_server.url + "/tokenize", headers=auth,
                       json={"messages": messages, "chat_template_kwargs": NO_THINKING})
    tail = httpx.post(aux_server.url + "/detokenize", headers=auth,
                      json={"tokens": thinking.json()["tokens"]}).json()["prompt"]
    assert tail.rstrip().endswith("<think>")
    assert thinking.json()["count"] > plain.json()["count"]


def test_thinking_off_gives_content(url, auth):
    data = {"messages": [{"role": "user", "content": "Hi"}], "chat_template_kwargs": NO_THINKING}
    message = requests.post(url, json=data, headers=auth).json()["choices"][0]["message"]
    assert message["content"] and not message.get("reasoning_content")
