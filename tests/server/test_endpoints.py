"""The other endpoints: models, health, version, metrics, tokenize/detokenize, docs, text completions."""

from __future__ import annotations

import json

import pytest

from tests.server.helpers import MAX_MODEL_LEN, MODEL_ID

pytestmark = pytest.mark.slow


def test_models(http):
    body = http.get("/v1/models").json()
    assert body["object"] == "list"
    card = body["data"][0]
    assert card["id"] == MODEL_ID and card["object"] == "model" and card["max_model_len"] == MAX_MODEL_LEN
    assert http.get(f"/v1/models/{MODEL_ID}").json()["id"] == MODEL_ID
    assert http.get("/v1/models/nope").status_code == 404


def test_health_and_version(http):
    assert http.get("/health").status_code == 200
    version = http.get("/version").json()["version"]
    import toolwire

    assert version == toolwire.__version__


def test_docs_and_openapi(http):
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = http.get("/openapi.json").json()
    for path in ("/v1/chat/completions", "/v1/completions", "/v1/models", "/tokenize", "/detokenize"):
        assert path in spec["paths"], path
    assert "ChatCompletionRequest" in spec["components"]["schemas"]


def test_metrics(http):
    http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in ("toolwire_requests_total", "toolwire_request_duration_seconds_bucket",
                 "toolwire_time_to_first_token_seconds_count", "toolwire_prompt_tokens_total",
                 "toolwire_generation_tokens_total", "toolwire_num_requests_running",
                 "toolwire_num_requests_waiting", "toolwire_kv_cache_usage_perc", "toolwire_kv_cache_free_blocks"):
        assert name in text, name
    assert 'toolwire_requests_total{endpoint="/v1/chat/completions",status="200"}' in text
    for line in text.splitlines():  # every sample line is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_tokenize_detokenize(http):
    tokens = http.post("/tokenize", json={"prompt": "Hello, tool calls!"}).json()
    assert tokens["count"] == len(tokens["tokens"]) > 0 and tokens["max_model_len"] == MAX_MODEL_LEN
    text = http.post("/detokenize", json={"tokens": tokens["tokens"]}).json()["prompt"]
    assert text == "Hello, tool calls!"
    chat = http.post("/tokenize", json={"messages": [{"role": "user", "content": "Hi"}]}).json()
    rendered = http.post("/detokenize", json={"tokens": chat["tokens"]}).json()["prompt"]
    assert "Hi" in rendered and rendered.rstrip().endswith("assistant")


def test_tokenize_with_tools_tells_the_model_about_them(http):
    from tests.server.helpers import WEATHER_TOOL

    messages = [{"role": "user", "content": "Hi"}]
    chat = http.post("/tokenize", json={"messages": messages, "tools": [WEATHER_TOOL]}).json()
    rendered = http.post("/detokenize", json={"tokens": chat["tokens"]}).json()["prompt"]
    assert "get_weather" in rendered


# ---------------------------------------------------------------- /v1/completions


def test_completion(http):
    body = http.post("/v1/completions", json={"prompt": "The capital of France is", "max_tokens": 5,
                                               "temperature": 0}).json()
    assert body["object"] == "text_completion"
    choice = body["choices"][0]
    assert isinstance(choice["text"], str) and choice["text"]
    assert choice["finish_reason"] in ("stop", "length")
    assert body["usage"]["completion_tokens"] <= 5


def test_completion_uses_the_servers_generation_defaults(http):
    from tests.server.helpers import GENERATION_DEFAULTS

    body = http.post("/v1/completions", json={"prompt": "Once upon a time", "ignore_eos": True}).json()
    assert body["usage"]["completion_tokens"] == json.loads(GENERATION_DEFAULTS)["max_tokens"]


def test_completion_several_prompts_and_token_ids(http):
    ids = http.post("/tokenize", json={"prompt": "One, two, three,"}).json()["tokens"]
    body = http.post("/v1/completions", json={"prompt": ["One, two, three,", "Red, green,"], "max_tokens": 3,
                                               "temperature": 0, "n": 2}).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    by_ids = http.post("/v1/completions", json={"prompt": ids, "max_tokens": 3, "temperature": 0}).json()
    assert by_ids["choices"][0]["text"] == body["choices"][0]["text"]


def test_completion_echo_logprobs_and_stream(http):
    prompt = "The sky is"
    body = http.post("/v1/completions", json={"prompt": prompt, "max_tokens": 4, "temperature": 0, "echo": True,
                                               "logprobs": 2}).json()
    choice = body["choices"][0]
    assert choice["text"].startswith(prompt)
    lp = choice["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"]) == 4
    assert all(len(t) == 2 for t in lp["top_logprobs"])
    assert "".join(lp["tokens"]) == choice["text"][len(prompt):]

    text, finish, usage = "", None, None
    with http.stream("POST", "/v1/completions", json={"prompt": prompt, "max_tokens": 4, "temperature": 0,
                                                       "stream": True,
                                                       "stream_options": {"include_usage": True}}) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                for c in chunk["choices"]:
                    text += c["text"]
                    finish = c["finish_reason"] or finish
                usage = chunk.get("usage") or usage
    assert text == choice["text"][len(prompt):]
    assert finish == choice["finish_reason"] and usage["completion_tokens"] == 4


def test_completion_with_openai_sdk(client):
    completion = client.completions.create(model=MODEL_ID, prompt="Hello", max_tokens=3, temperature=0)
    assert completion.choices[0].text is not None
    assert completion.usage.completion_tokens <= 3
