"""A hostile client's catalogue against a live server: every request is answered with a 4xx in the
called API's error shape (OpenAI's, or Anthropic's on /v1/messages), the same whether it asked for
a stream or not, before any stream starts, and on a connection that stays open; meanwhile four
bystander streams run to their end, and afterwards the server still serves and has answered no 5xx.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import MAX_MODEL_LEN
from tests.server.helpers import MODEL_ID, WEATHER_TOOL

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "Hi"}]
LIMIT = 64  # toolwire.protocol.limits.MAX_JSON_DEPTH, as the messages state it


def nested_schema(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def nested_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def tool(parameters, name: str = "f", **function) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": parameters, **function}}


def arguments_call(arguments: str) -> list[dict]:
    """A conversation whose earlier assistant turn called a tool with these arguments."""
    return [{"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                 "function": {"name": "get_weather", "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]


@dataclass(frozen=True)
class Hostile:
    """One request of the catalogue: its body (a dict, or the exact bytes to send), the status it
    must get, and what the error must name (`param`) or say (`says`)."""

    name: str
    body: dict | bytes
    path: str = "/v1/chat/completions"
    status: int = 400
    param: str | None = None
    says: str = ""


def chat(name: str, param: str | None = None, says: str = "", status: int = 400, **fields) -> Hostile:
    return Hostile(name, {"messages": USER, "max_tokens": 2, **fields}, param=param, says=says, status=status)


def raw(name: str, text: str | bytes, path: str = "/v1/chat/completions", says: str = "",
        param: str | None = None) -> Hostile:
    return Hostile(name, text.encode() if isinstance(text, str) else text, path=path, says=says, param=param)


SAMPLING = [
    chat("temperature-negative", "temperature", temperature=-0.5),
    chat("temperature-above-2", "temperature", temperature=3),
    raw("temperature-nan", '{"messages":[{"role":"user","content":"Hi"}],"temperature":NaN}',
        says="must be a finite number in [0.0, 2.0], got nan", param="temperature"),
    raw("temperature-infinity", '{"messages":[{"role":"user","content":"Hi"}],"temperature":Infinity}',
        says="finite number", param="temperature"),
    chat("temperature-string", "temperature", temperature="0.5"),
    chat("temperature-bool", "temperature", temperature=True),
    chat("top-p-zero", "top_p", top_p=0),
    chat("top-p-above-1", "top_p", top_p=1.5),
    chat("top-k-below-minus-1", "top_k", top_k=-5),
    chat("top-k-float", "top_k", top_k=1.5),
    chat("min-p-above-1", "min_p", min_p=1.5),
    chat("repetition-penalty-denormal", "repetition_penalty", says="[0.01, 100.0]", repetition_penalty=5e-324),
    chat("repetition-penalty-zero", "repetition_penalty", repetition_penalty=0),
    chat("repetition-penalty-negative", "repetition_penalty", repetition_penalty=-1),
    chat("repetition-penalty-huge", "repetition_penalty", repetition_penalty=1e300),
    chat("presence-penalty", "presence_penalty", presence_penalty=3),
    chat("frequency-penalty", "frequency_penalty", frequency_penalty=-3),
    chat("seed-2-to-the-64", "seed", seed=2**64),
    chat("seed-below-int64", "seed", seed=-(2**63) - 1),
    chat("seed-string", "seed", seed="1"),
    chat("max-tokens-zero", "max_tokens", max_tokens=0),
    chat("max-tokens-negative", "max_tokens", max_tokens=-1),
    chat("max-tokens-string", "max_tokens", says="valid integer", max_tokens="8"),
    chat("max-tokens-decimal", "max_tokens", max_tokens=8.5),
    chat("max-tokens-past-context", "max_tokens", says=str(MAX_MODEL_LEN), max_tokens=10**30),
    chat("max-completion-tokens-negative", "max_completion_tokens", max_completion_tokens=-1),
    chat("n-zero", "n", n=0),
    chat("n-huge", "n", n=10**30),
    chat("n-string", "n", n="2"),
    chat("logprobs-yes", "logprobs", says="valid boolean", logprobs="yes"),
    chat("logprobs-one", "logprobs", logprobs=1),
    chat("top-logprobs-huge", "top_logprobs", logprobs=True, top_logprobs=10**9),
    chat("top-logprobs-negative", "top_logprobs", logprobs=True, top_logprobs=-1),
    chat("top-logprobs-without-logprobs", top_logprobs=2),
    chat("logit-bias-key-not-a-token", "logit_bias", logit_bias={"abc": 1}),
    chat("logit-bias-value-huge", "logit_bias", logit_bias={"1": 500}),
    chat("logit-bias-outside-vocabulary", "logit_bias", logit_bias={"99999999": 1}),
    chat("logit-bias-value-string", logit_bias={"1": "x"}),
    raw("logit-bias-value-infinity", '{"messages":[{"role":"user","content":"Hi"}],"logit_bias":{"1":-Infinity}}',
        param="logit_bias"),
    chat("stop-number", "stop", stop=5),
    chat("stream-string", "stream", stream="yes"),
    chat("min-tokens-negative", "min_tokens", min_tokens=-1),
    chat("min-tokens-above-max", says="min_tokens", min_tokens=10**20),
    chat("stop-token-outside-vocabulary", "stop_token_ids", stop_token_ids=[10**20]),
    chat("stop-token-negative", "stop_token_ids", stop_token_ids=[-1]),
]

MESSAGES = [
    Hostile("messages-missing", {"max_tokens": 2}, param="messages"),
    chat("messages-empty", "messages", messages=[]),
    chat("messages-a-string", "messages", messages="hi"),
    chat("role-unknown", messages=[{"role": "wizard", "content": "hi"}]),
    chat("content-missing", messages=[{"role": "user"}]),
    chat("content-a-number", messages=[{"role": "user", "content": 5}]),
    chat("content-part-unknown", messages=[{"role": "user", "content": [{"type": "audio", "data": "x"}]}]),
    chat("content-image", says="image", messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://example.com/x.png"}}]}]),
    chat("tool-result-without-call-id", messages=[{"role": "tool", "content": "x"}]),
    chat("arguments-not-json", says="arguments", messages=arguments_call("{bad")),
    chat("arguments-5000-deep", says=f"limit is {LIMIT}", messages=arguments_call(nested_json(5000))),
    chat("arguments-100-deep", says=f"limit is {LIMIT}", messages=arguments_call(nested_json(100))),
    chat("arguments-lone-surrogate", says="surrogate", messages=arguments_call('{"city": "\\ud800"}')),
    chat("content-nested-100-deep", "messages[0].content", says=f"limit is {LIMIT}",
         messages=[{"role": "user", "content": json.loads(nested_json(100))}]),
    raw("content-lone-surrogate", '{"messages":[{"role":"user","content":"a\\ud800b"}]}',
        says="surrogate", param="messages[0].content"),
    raw("content-lone-low-surrogate", '{"messages":[{"role":"user","content":"\\udc00"}]}', says="surrogate"),
    raw("content-surrogate-as-utf8-bytes", b'{"messages":[{"role":"user","content":"a\xed\xa0\x80b"}]}',
        says="surrogate"),
    raw("name-lone-surrogate", '{"messages":[{"role":"user","name":"\\ud800","content":"x"}]}', says="surrogate"),
    raw("key-lone-surrogate", '{"messages":[{"role":"user","content":"x"}],"\\ud800":1}', says="surrogate"),
    raw("model-lone-surrogate", '{"messages":[{"role":"user","content":"x"}],"model":"\\udfff"}',
        says="surrogate", param="model"),
    chat("unknown-model", "model", status=404, model="no-such-model"),
]

TOOLS = [
    chat("tools-not-a-list", "tools", tools={"type": "function"}),
    chat("tool-of-another-type", tools=[{"type": "retrieval", "function": {"name": "f"}}]),
    chat("tool-without-function", tools=[{"type": "function"}]),
    chat("tool-name-with-space", "tools[0].function.name", tools=[tool({"type": "object"}, name="a b")]),
    chat("tool-twice", "tools[1].function.name", tools=[WEATHER_TOOL, WEATHER_TOOL]),
    chat("tool-parameters-a-list", tools=[tool([1])]),
    chat("tool-parameters-a-string-schema", "tools[0].function.parameters", tools=[tool({"type": "string"})]),
    chat("tool-parameters-not-a-schema", "tools[0].function.parameters", tools=[tool({"type": 12})]),
    chat("tool-parameters-300-deep", says=f"limit is {LIMIT}", tools=[tool(nested_schema(300))]),
    raw("tool-description-lone-surrogate",
        '{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":'
        '{"name":"f","description":"a\\ud800b","parameters":{"type":"object"}}}]}',
        says="surrogate", param="tools[0].function.description"),
    chat("tool-choice-unknown-word", tools=[WEATHER_TOOL], tool_choice="sometimes"),
    chat("tool-choice-names-another", "tool_choice", tools=[WEATHER_TOOL],
         tool_choice={"type": "function", "function": {"name": "nope"}}),
    chat("tool-choice-required-without-tools", "tool_choice", tool_choice="required"),
    chat("tool-choice-a-number", tools=[WEATHER_TOOL], tool_choice=3),
    chat("tool-schema-allof-string-integer", "tools", says="no value", tool_choice="required",
         tools=[tool({"type": "object", "properties": {"x": {"allOf": [{"type": "string"}, {"type": "integer"}]}}})]),
    chat("tool-schema-minlength-1e8", "tools", says="100000", tool_choice="required",
         tools=[tool({"type": "object", "properties": {"x": {"type": "string", "minLength": 100_000_000}}})]),
    chat("tool-schema-minitems-1e6", "tools", says="100000", tool_choice="required",
         tools=[tool({"type": "object", "properties": {"x": {"type": "array", "minItems": 1_000_000}}})]),
]


def json_schema_format(schema) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


FORMATS = [
    chat("response-format-unknown", response_format={"type": "xml"}),
    chat("response-format-without-schema", "response_format", response_format={"type": "json_schema"}),
    chat("response-format-300-deep", says=f"limit is {LIMIT}", response_format=json_schema_format(nested_schema(300))),
    chat("response-format-allof-string-integer", "response_format", says="no value",
         response_format=json_schema_format({"allOf": [{"type": "string"}, {"type": "integer"}]})),
    chat("response-format-minlength-1e8", "response_format", says="100000",
         response_format=json_schema_format({"type": "string", "minLength": 100_000_000})),
    chat("response-format-minitems-1e6", "response_format", says="100000",
         response_format=json_schema_format({"type": "array", "items": {"type": "integer"}, "minItems": 1_000_000})),
    chat("response-format-min-above-max", "response_format", says="greater than",
         response_format=json_schema_format({"type": "string", "minLength": 5, "maxLength": 2})),
    chat("response-format-empty-enum", "response_format", says="enum",
         response_format=json_schema_format({"enum": []})),
    chat("guided-json-string-400-deep", says=f"limit is {LIMIT}", guided_json=json.dumps(nested_schema(400))),
    chat("guided-json-string-5000-deep", "guided_json", guided_json=nested_json(5000)),
    chat("guided-regex-unclosed", "guided_regex", guided_regex="(unclosed"),
    chat("guided-choice-empty", "guided_choice", guided_choice=[]),
    chat("guided-two-at-once", "guided_choice", guided_regex="a+", guided_choice=["a"]),
]

BODIES = [
    raw("body-not-json", "hello", says="JSON"),
    raw("body-truncated-json", '{"messages": [', says="JSON"),
    raw("body-json-array", "[1, 2]"),
    raw("body-json-string", '"hello"'),
    raw("body-json-null", "null"),
    raw("body-invalid-utf8", b'{"messages":[{"role":"user","content":"\xff\xfe"}]}', says="UTF-8"),
    raw("body-5000-deep", '{"messages":' + nested_json(5000) + "}", says=f"limit is {LIMIT}"),
    raw("body-100-deep", '{"messages":[{"role":"user","content":"x"}],"x":' + nested_json(100) + "}",
        says=f"limit is {LIMIT}", param="x[0][0]"),
    raw("body-huge-integer", '{"messages":[{"role":"user","content":"x"}],"max_tokens":1' + "0" * 5000 + "}"),
    raw("body-huge-float", '{"messages":[{"role":"user","content":"x"}],"temperature":1e400}',
        param="temperature"),
]


def completion(name: str, param: str | None = None, says: str = "", status: int = 400, **fields) -> Hostile:
    return Hostile(name, {"prompt": "Hi", "max_tokens": 2, **fields}, path="/v1/completions", param=param,
                   says=says, status=status)


COMPLETIONS = [
    raw("prompt-lone-surrogate", '{"prompt":"a\\ud800b"}', path="/v1/completions", says="surrogate",
        param="prompt"),
    completion("prompt-empty-list", "prompt", prompt=[]),
    completion("prompt-empty-token-list", "prompt", prompt=[[]]),
    completion("prompt-negative-token", prompt=[-1, 5]),
    completion("prompt-token-outside-vocabulary", prompt=[10**20]),
    completion("prompt-a-number", prompt=5),
    completion("prompt-an-object", prompt={"a": 1}),
    completion("prompt-past-context", "prompt", says=str(MAX_MODEL_LEN), prompt="hello " * (MAX_MODEL_LEN + 50)),
    completion("echo-string", "echo", echo="yes"),
    completion("logprobs-huge", "logprobs", logprobs=10**9),
    completion("logprobs-bool", "logprobs", logprobs=True),
    completion("suffix", "suffix", suffix="x"),
    completion("best-of-other-than-n", "best_of", best_of=3),
    completion("temperature-nan-completions", "temperature", temperature=float("nan")),
    completion("seed-2-to-the-64-completions", "seed", seed=2**64),
    completion("unknown-model-completions", "model", status=404, model="no-such-model"),
]

TOKENS = [
    raw("tokenize-lone-surrogate", '{"prompt":"a\\ud800b"}', path="/tokenize", says="surrogate", param="prompt"),
    Hostile("tokenize-nothing", {}, path="/tokenize"),
    Hostile("tokenize-both", {"prompt": "x", "messages": USER}, path="/tokenize"),
    Hostile("tokenize-unknown-role", {"messages": [{"role": "wizard", "content": "x"}]}, path="/tokenize"),
    Hostile("tokenize-prompt-a-number", {"prompt": 5}, path="/tokenize", param="prompt"),
    Hostile("tokenize-special-tokens-string", {"prompt": "x", "add_special_tokens": "no"}, path="/tokenize",
            param="add_special_tokens"),
    Hostile("detokenize-negative", {"tokens": [-1]}, path="/detokenize", param="tokens"),
    Hostile("detokenize-outside-vocabulary", {"tokens": [10**20]}, path="/detokenize", param="tokens"),
    Hostile("detokenize-string", {"tokens": "abc"}, path="/detokenize", param="tokens"),
    Hostile("detokenize-decimals", {"tokens": [1.5]}, path="/detokenize"),
]


def responses(name: str, param: str | None = None, says: str = "", status: int = 400, **fields) -> Hostile:
    return Hostile(name, {"input": "Hi", "max_output_tokens": 2, **fields}, path="/v1/responses", param=param,
                   says=says, status=status)


RESPONSES = [
    raw("input-lone-surrogate", '{"input":"a\\ud800b"}', path="/v1/responses", says="surrogate", param="input"),
    responses("input-empty", "input", input=[]),
    responses("input-a-number", "input", input=5),
    responses("responses-temperature-above-2", "temperature", temperature=3),
    responses("responses-max-output-tokens-zero", "max_output_tokens", max_output_tokens=0),
    responses("responses-max-output-tokens-string", "max_output_tokens", max_output_tokens="8"),
    responses("function-call-arguments-5000-deep", says=f"limit is {LIMIT}", input=[
        {"role": "user", "content": "x"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": nested_json(5000)},
        {"type": "function_call_output", "call_id": "c", "output": "ok"}]),
    responses("input-item-unsupported", input=[{"type": "web_search_call", "id": "x"}]),
    responses("tool-built-in", tools=[{"type": "web_search"}]),
    responses("n-unsupported", "n", n=2),
    responses("previous-response-unknown", "previous_response_id", status=404, previous_response_id="resp_nope"),
]


def messages(name: str, says: str = "", status: int = 400, **fields) -> Hostile:
    body = {"model": MODEL_ID, "max_tokens": 2, "messages": USER, **fields}
    return Hostile(name, {k: v for k, v in body.items() if v is not None}, path="/v1/messages", says=says,
                   status=status)


ANTHROPIC = [
    messages("messages-max-tokens-missing", max_tokens=None),
    messages("messages-max-tokens-zero", max_tokens=0),
    messages("messages-max-tokens-string", max_tokens="8"),
    messages("messages-temperature-above-1", temperature=1.5),
    messages("messages-top-k-negative", top_k=-1),
    raw("messages-lone-surrogate", '{"model":"' + MODEL_ID + '","max_tokens":2,"messages":[{"role":"user",'
        '"content":"a\\ud800b"}]}', path="/v1/messages", says="surrogate"),
    messages("messages-tool-input-100-deep", says=f"limit is {LIMIT}", messages=[
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f",
                                           "input": {"a": json.loads(nested_json(100))}}]}]),
    messages("messages-image-block", says="image", messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}]}]),
    messages("messages-thinking-budget-zero", thinking={"type": "enabled", "budget_tokens": 0}),
    messages("messages-server-tool", tools=[{"type": "bash_20250124", "name": "bash"}]),
    messages("messages-system-role", messages=[{"role": "system", "content": "x"}]),
    messages("messages-unknown-model", status=404, model="no-such-model"),
]

CATALOGUE = SAMPLING + MESSAGES + TOOLS + FORMATS + BODIES + COMPLETIONS + TOKENS + RESPONSES + ANTHROPIC


# ---------------------------------------------------------------- bystanders

BYSTANDERS = 4
BYSTANDER_BODY = {"messages": [{"role": "user", "content": "Count from one to one thousand, in words."}],
                  "max_tokens": 160, "ignore_eos": True, "stream": True}


@dataclass
class Bystander:
    """A well-behaved stream, read to its end on its own thread."""

    finish_reasons: list[str] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    done: bool = False
    status: int = 0
    first_token_at: float | None = None
    ended_at: float | None = None
    failure: BaseException | None = None
    producing: threading.Event = field(default_factory=threading.Event)

    def read(self, server) -> None:
        try:
            with httpx.stream("POST", server.url + "/v1/chat/completions", json=BYSTANDER_BODY,
                              headers=server.headers, timeout=300) as response:
                self.status = response.status_code
                for line in response.iter_lines():
                    data = line.removeprefix("data: ")
                    if not line.startswith("data: "):
                        continue
                    if data == "[DONE]":
                        self.done = True
                        continue
                    event = json.loads(data)
                    if "error" in event:
                        self.errors.append(event["error"])
                    for choice in event.get("choices", []):
                        if choice["delta"].get("content") and self.first_token_at is None:
                            self.first_token_at = time.monotonic()
                            self.producing.set()
                        if choice.get("finish_reason"):
                            self.finish_reasons.append(choice["finish_reason"])
        except BaseException as exc:  # noqa: BLE001 - the last test reports it
            self.failure = exc
        finally:
            self.ended_at = time.monotonic()
            self.producing.set()


@dataclass
class Watch:
    bystanders: list[Bystander]
    threads: list[threading.Thread]
    hostile_started_at: float | None = None
    hostile_ended_at: float | None = None


@pytest.fixture(scope="module")
def watch(hostile_server):
    bystanders = [Bystander() for _ in range(BYSTANDERS)]
    threads = [threading.Thread(target=b.read, args=(hostile_server,), daemon=True) for b in bystanders]
    for thread in threads:
        thread.start()
    for bystander in bystanders:
        assert bystander.producing.wait(120), "a bystander stream did not start"
    return Watch(bystanders, threads)


# ---------------------------------------------------------------- the catalogue


def streamed(body: dict | bytes) -> dict | bytes:
    """The same request asking for a stream (a body that sets `stream` itself, or is not an object,
    is sent as it is)."""
    if isinstance(body, dict):
        return body if "stream" in body else {**body, "stream": True}
    if body.startswith(b"{") and body.endswith(b"}") and body != b"{}":
        return body[:-1] + b',"stream":true}'
    return body


def post(client: httpx.Client, path: str, body: dict | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, headers={"Content-Type": "application/json"})


def error_of(response: httpx.Response, path: str) -> dict:
    """The error in the shape of the API at `path`: OpenAI's {"error": {message, type, param, code}}
    or Anthropic's {"type": "error", "error": {type, message}}."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
    return error


def local_address(response: httpx.Response):
    return response.extensions["network_stream"].get_extra_info("client_addr")


@pytest.fixture(scope="module")
def one_connection(hostile_server):
    """A client on a single keep-alive connection, as a client library holds one."""
    with httpx.Client(base_url=hostile_server.url, headers=hostile_server.headers, timeout=120,
                      limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)) as client:
        yield client


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda case: case.name)
def test_hostile_request_gets_a_4xx_in_shape(case: Hostile, one_connection, watch):
    if watch.hostile_started_at is None:
        watch.hostile_started_at = time.monotonic()
    whole = post(one_connection, case.path, case.body)
    stream = post(one_connection, case.path, streamed(case.body))
    good = one_connection.get("/v1/models")
    watch.hostile_ended_at = time.monotonic()

    assert whole.status_code == case.status, whole.text
    error = error_of(whole, case.path)
    assert stream.status_code == whole.status_code and stream.json() == whole.json(), (whole.text, stream.text)
    if case.param is not None:  # a path deep inside the body is cut short in the middle
        assert (error["param"] or "").startswith(case.param), error
    assert case.says.lower() in error["message"].lower(), error["message"]
    # The error did not cost the connection: the next request went out on the same one.
    assert good.status_code == 200
    assert local_address(whole) == local_address(stream) == local_address(good)


def test_bystanders_ran_through_the_catalogue_and_completed(watch):
    for thread in watch.threads:
        thread.join(300)
    assert watch.hostile_started_at is not None, "run with the catalogue"
    for bystander in watch.bystanders:
        assert bystander.failure is None, repr(bystander.failure)
        assert bystander.status == 200 and not bystander.errors, (bystander.status, bystander.errors)
        assert bystander.finish_reasons == ["length"] and bystander.done
        # It was streaming while the hostile requests went out.
        assert bystander.first_token_at < watch.hostile_started_at < bystander.ended_at


def test_still_serving_and_no_5xx_after_the_catalogue(hostile_server, keyed):
    reply = keyed.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 3})
    assert reply.status_code == 200 and reply.json()["choices"][0]["finish_reason"] in ("stop", "length")
    assert keyed.post("/v1/messages", json={"model": MODEL_ID, "max_tokens": 3, "messages": USER}).status_code == 200
    assert keyed.post("/v1/responses", json={"input": "Hi", "max_output_tokens": 3}).status_code == 200
    metrics = keyed.get("/metrics").text
    assert 'status="5' not in metrics


@pytest.mark.parametrize("stream", [False, True])
def test_schemas_as_deep_as_the_limit_allows_are_served(keyed, stream):
    """A body is allowed 64 levels: a tool schema starts 4 levels in and each nested object takes 2
    (29 objects deep), a response_format schema starts 3 levels in (30 objects deep)."""
    deepest_tool = tool(nested_schema(29), name="deep")
    deepest_format = json_schema_format(nested_schema(30))
    for body in ({"tools": [deepest_tool], "tool_choice": "required"}, {"response_format": deepest_format}):
        # Compiled and measured: 4 tokens cannot hold its shortest valid output, and the 400 says what can.
        response = keyed.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 4, "stream": stream, **body})
        assert response.status_code == 400 and response.json()["error"]["code"] == "max_tokens_too_small"
        least = int(re.search(r"at least (\d+)", response.json()["error"]["message"]).group(1))
        if stream:
            continue
        response = keyed.post("/v1/chat/completions", json={"messages": USER, "max_tokens": least, **body})
        assert response.status_code == 200, response.text[:300]
        assert response.json()["choices"][0]["finish_reason"]


# ---------------------------------------------------------------- the API key


def test_the_key_covers_every_route_that_does_work(hostile_server):
    url = hostile_server.url
    for method, path, body in [("POST", "/tokenize", {"prompt": "x"}), ("POST", "/detokenize", {"tokens": [1]}),
                               ("GET", "/metrics", None), ("POST", "/v1/chat/completions", {"messages": USER}),
                               ("POST", "/v1/messages/count_tokens", {"model": MODEL_ID, "messages": USER}),
                               ("GET", "/v1/models", None)]:
        response = httpx.request(method, url + path, json=body)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    for path in ("/health", "/version", "/openapi.json"):
        assert httpx.get(url + path).status_code == 200, path


@pytest.mark.parametrize("authorization", ["Bearer {key}", "bearer {key}", "BEARER {key}"])
def test_the_scheme_is_case_insensitive(hostile_server, authorization):
    """RFC 7235: an auth scheme is a case-insensitive token; only the key itself must match."""
    header = authorization.format(key=hostile_server.api_key)
    assert httpx.post(hostile_server.url + "/tokenize", json={"prompt": "x"},
                      headers={"Authorization": header}).status_code == 200
    wrong = authorization.format(key=hostile_server.api_key.upper())
    assert httpx.post(hostile_server.url + "/tokenize", json={"prompt": "x"},
                      headers={"Authorization": wrong}).status_code == 401


def test_model_card_does_not_reveal_where_the_model_lies(keyed):
    for card in keyed.get("/v1/models").json()["data"]:
        assert card["root"] and not Path(card["root"]).is_absolute() and "site-packages" not in card["root"], card


# ---------------------------------------------------------------- a failure nothing foresaw


def test_an_unforeseen_failure_is_a_500_in_shape_that_keeps_the_connection():
    """The last resort: an exception no handler answers is a 500 in the API's shape, and the
    connection stays open (Starlette alone would answer and then drop it)."""
    import uvicorn
    from fastapi import FastAPI

    from tests.server.helpers import free_port
    from toolwire.api.errors import install_error_handlers
    from toolwire.api.middleware import UnexpectedErrorMiddleware

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/v1/fails")
    async def fails():
        raise RuntimeError("nobody saw this coming")

    @app.get("/v1/works")
    async def works():
        return {"ok": True}

    app.add_middleware(UnexpectedErrorMiddleware)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=httpx.Limits(max_connections=1)) as client:
            failed = client.get("/v1/fails")
            worked = client.get("/v1/works")
            assert worked.status_code == 200 and local_address(failed) == local_address(worked)
        assert failed.status_code == 500
        assert error_of(failed, "/v1/fails")["code"] == "internal_error"
        assert "nobody saw this coming" in failed.json()["error"]["message"]
    finally:
        server.should_exit = True
        thread.join(10)
