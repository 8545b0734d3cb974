"""Bad input gets an OpenAI-shaped error with the right status, never a 500, and the server keeps
serving afterwards."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.server.helpers import MAX_MODEL_LEN, MAX_REQUEST_BYTES, MODEL_ID, WEATHER_TOOL

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "Hi"}]


def assert_error(response: httpx.Response, status: int, *, param: str | None = None, contains: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if param is not None:
        assert error["param"] == param, error
    assert contains.lower() in error["message"].lower(), error["message"]
    return error


@pytest.fixture
def still_serving(http):
    """After the test: the same server answers a real (one-token) chat request."""
    yield
    response = http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 1})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] in ("length", "stop")


def chat(http, **body) -> httpx.Response:
    body.setdefault("messages", USER)
    body.setdefault("max_tokens", 1)
    return http.post("/v1/chat/completions", json=body)


@pytest.mark.usefixtures("still_serving")
class TestBadRequests:
    def test_malformed_json(self, http):
        response = http.post("/v1/chat/completions", content=b'{"messages": [', headers={"Content-Type": "application/json"})
        assert_error(response, 400, contains="JSON")

    def test_body_not_an_object(self, http):
        response = http.post("/v1/chat/completions", content=b'[1, 2]', headers={"Content-Type": "application/json"})
        assert_error(response, 400)

    def test_missing_messages(self, http):
        response = http.post("/v1/chat/completions", json={"model": MODEL_ID})
        assert_error(response, 400, param="messages")

    def test_empty_messages(self, http):
        assert_error(chat(http, messages=[]), 400, param="messages")

    def test_wrong_type(self, http):
        assert_error(chat(http, max_tokens="many"), 400, param="max_tokens")

    def test_unknown_role(self, http):
        assert_error(chat(http, messages=[{"role": "wizard", "content": "hi"}]), 400)

    def test_unknown_model(self, http):
        error = assert_error(chat(http, model="no-such-model"), 404, param="model", contains="no-such-model")
        assert error["code"] == "model_not_found"

    def test_unknown_model_completions(self, http):
        response = http.post("/v1/completions", json={"model": "no-such-model", "prompt": "x", "max_tokens": 1})
        assert_error(response, 404, param="model")

    def test_named_tool_not_offered(self, http):
        response = chat(http, tools=[WEATHER_TOOL],
                        tool_choice={"type": "function", "function": {"name": "get_stock_price"}})
        assert_error(response, 400, param="tool_choice", contains="get_stock_price")

    def test_named_tool_without_tools(self, http):
        response = chat(http, tool_choice={"type": "function", "function": {"name": "get_weather"}})
        assert_error(response, 400, param="tool_choice")

    def test_required_without_tools(self, http):
        assert_error(chat(http, tool_choice="required"), 400, param="tool_choice")

    def test_bad_tool_choice_value(self, http):
        assert_error(chat(http, tools=[WEATHER_TOOL], tool_choice="sometimes"), 400)

    @pytest.mark.parametrize("parameters", [
        {"type": "object", "properties": {"city": {"type": "strin"}}},
        {"type": "object", "required": "city"},
        {"type": 12},
    ])
    def test_tool_parameters_not_a_json_schema(self, http, parameters):
        tool = {"type": "function", "function": {"name": "f", "parameters": parameters}}
        error = assert_error(chat(http, tools=[tool]), 400, param="tools[0].function.parameters")
        assert "json schema" in error["message"].lower()

    @pytest.mark.parametrize("tool_choice", ["auto", "required"])
    def test_tool_schema_the_grammar_cannot_hold_names_the_tool(self, http, tool_choice):
        """A valid JSON Schema that constrained decoding cannot compile: a 400 naming the tool, never a
        500 and never an unconstrained fallback."""
        odd = {"type": "function", "function": {"name": "odd_tool", "parameters": {
            "type": "object", "properties": {"s": {"type": "string", "pattern": "(?<=a)b"}}}}}
        error = assert_error(chat(http, tools=[WEATHER_TOOL, odd], tool_choice=tool_choice), 400, param="tools")
        assert "odd_tool" in error["message"]

    def test_tool_without_function(self, http):
        assert_error(chat(http, tools=[{"type": "function"}]), 400)

    def test_prompt_longer_than_context(self, http):
        long_text = "hello " * (MAX_MODEL_LEN + 100)
        response = chat(http, messages=[{"role": "user", "content": long_text}])
        error = assert_error(response, 400, contains=str(MAX_MODEL_LEN))
        assert error["code"] == "context_length_exceeded"

    def test_prompt_plus_max_tokens_longer_than_context(self, http):
        response = chat(http, max_tokens=MAX_MODEL_LEN)
        error = assert_error(response, 400, param="max_tokens", contains=str(MAX_MODEL_LEN))
        # Both numbers: the context and what was asked for.
        assert str(MAX_MODEL_LEN) in error["message"] and "prompt" in error["message"]
        prompt_tokens = http.post("/tokenize", json={"messages": USER}).json()["count"]
        assert str(prompt_tokens + MAX_MODEL_LEN) in error["message"], error["message"]

    def test_completion_prompt_longer_than_context(self, http):
        response = http.post("/v1/completions", json={"prompt": "hello " * (MAX_MODEL_LEN + 10), "max_tokens": 1})
        assert_error(response, 400, contains=str(MAX_MODEL_LEN))

    @pytest.mark.parametrize("field,value", [
        ("temperature", -0.5), ("temperature", 3.0), ("top_p", 0.0), ("top_p", 1.5), ("n", 0),
        ("max_tokens", 0), ("presence_penalty", 5), ("frequency_penalty", -3), ("top_logprobs", 50),
        ("min_p", 2.0), ("top_k", -5), ("repetition_penalty", 0), ("max_completion_tokens", -1),
    ])
    def test_sampling_value_out_of_range(self, http, field, value):
        body = {field: value}
        if field == "top_logprobs":
            body["logprobs"] = True
        assert_error(chat(http, **body), 400, param=field)

    def test_logit_bias_outside_vocabulary(self, http):
        assert_error(chat(http, logit_bias={"99999999": 1}), 400, param="logit_bias")

    def test_logit_bias_value_out_of_range(self, http):
        assert_error(chat(http, logit_bias={"1": 500}), 400, param="logit_bias")

    def test_top_logprobs_without_logprobs(self, http):
        assert_error(chat(http, top_logprobs=2), 400)

    def test_min_tokens_above_max_tokens(self, http):
        assert_error(chat(http, min_tokens=5, max_tokens=2), 400, contains="min_tokens")

    def test_body_too_large(self, http):
        big = json.dumps({"messages": [{"role": "user", "content": "x" * (MAX_REQUEST_BYTES + 10)}]})
        response = http.post("/v1/chat/completions", content=big, headers={"Content-Type": "application/json"})
        assert_error(response, 413, contains=str(MAX_REQUEST_BYTES))

    def test_body_too_large_chunked(self, http):
        def chunks():
            yield b'{"messages": [{"role": "user", "content": "'
            for _ in range(MAX_REQUEST_BYTES // 65536 + 2):
                yield b"x" * 65536
            yield b'"}]}'

        response = http.post("/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"})
        assert_error(response, 413)

    def test_unknown_route(self, http):
        assert_error(http.get("/v1/nothing-here"), 404)

    def test_wrong_method(self, http):
        assert_error(http.get("/v1/chat/completions"), 405)

    def test_stream_options_without_stream(self, http):
        assert_error(chat(http, stream_options={"include_usage": True}), 400, param="stream_options")

    def test_constraints_that_cannot_be_built_are_refused(self, http):
        assert_error(chat(http, guided_regex="a+", guided_choice=["a"]), 400, param="guided_choice")
        assert_error(chat(http, guided_regex="(unclosed"), 400, param="guided_regex")
        assert_error(chat(http, guided_json="{not json"), 400, param="guided_json")
        assert_error(chat(http, response_format={"type": "json_object"}, guided_regex="a+"), 400,
                     param="guided_regex")
        assert_error(chat(http, tools=[WEATHER_TOOL], tool_choice="required", guided_choice=["a", "b"]), 400,
                     param="tool_choice")

    def test_tokenize_needs_input(self, http):
        assert_error(http.post("/tokenize", json={}), 400)

    def test_detokenize_outside_vocabulary(self, http):
        assert_error(http.post("/detokenize", json={"tokens": [-1]}), 400, param="tokens")


def test_openai_sdk_sees_errors_as_exceptions(client):
    import openai

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=USER, max_tokens=1)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL_ID, messages=USER, tools=[WEATHER_TOOL],
                                       tool_choice={"type": "function", "function": {"name": "nope"}})
    assert caught.value.body["param"] == "tool_choice"


def test_no_500_in_metrics_after_bad_inputs(server, http):
    text = http.get("/metrics").text
    assert 'status="500"' not in text
