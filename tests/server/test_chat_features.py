"""Chat completions as OpenAI's API defines them: streaming equals non-streaming, tool_choice rules,
n, logprobs, seed, stop, max_tokens / max_completion_tokens, usage."""

from __future__ import annotations

import json

import pytest

from tests.server.helpers import TIME_TOOL, WEATHER_TOOL

pytestmark = pytest.mark.slow

WEATHER_Q = [{"role": "user", "content": "What's the weather like in San Francisco?"}]
STORY = [{"role": "user", "content": "Write a long story about a dragon."}]


def post(http, **body) -> dict:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def stream(http, **body) -> tuple[list[dict], list[str]]:
    """All chunks (parsed) and the raw data lines of a streamed request."""
    chunks, lines = [], []
    with http.stream("POST", "/v1/chat/completions", json=dict(body, stream=True)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                continue
            assert line.startswith("data: "), line
            lines.append(line)
            if line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    return chunks, lines


def assemble(chunks: list[dict]) -> dict[int, dict]:
    """What a client builds from the chunks, per choice; checks the OpenAI delta rules on the way."""
    choices: dict[int, dict] = {}
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        for c in chunk["choices"]:
            out = choices.setdefault(c["index"], {"role": None, "content": "", "reasoning_content": "",
                                                  "calls": {}, "finish_reason": None, "logprobs": []})
            delta = c["delta"]
            assert out["finish_reason"] is None, "nothing may follow a choice's finish_reason"
            if delta.get("role"):
                assert out["role"] is None, "the role comes once, first"
                out["role"] = delta["role"]
            else:
                assert out["role"] == "assistant", "the first chunk of a choice carries the role"
            out["content"] += delta.get("content") or ""
            out["reasoning_content"] += delta.get("reasoning_content") or ""
            for tc in delta.get("tool_calls") or []:
                call = out["calls"].get(tc["index"])
                if call is None:
                    # first delta of a call: index, id, type and the whole name
                    assert tc["id"] and tc["type"] == "function" and tc["function"]["name"], tc
                    call = out["calls"][tc["index"]] = {"id": tc["id"], "name": tc["function"]["name"],
                                                        "arguments": ""}
                else:
                    assert "name" not in tc.get("function", {}) and not tc.get("id"), tc
                call["arguments"] += tc.get("function", {}).get("arguments") or ""
            if c.get("logprobs"):
                out["logprobs"] += c["logprobs"]["content"]
            out["finish_reason"] = c["finish_reason"]
    return choices


def message_view(message: dict) -> tuple:
    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]) if _is_json(c["function"]["arguments"])
              else c["function"]["arguments"]) for c in message.get("tool_calls") or []]
    return (message["content"] or "", message.get("reasoning_content") or "", calls)


def stream_view(choice: dict) -> tuple:
    calls = [(c["name"], json.loads(c["arguments"]) if _is_json(c["arguments"]) else c["arguments"])
             for _, c in sorted(choice["calls"].items())]
    return (choice["content"], choice["reasoning_content"], calls)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- streaming == non-streaming


SAME_REQUESTS = {
    "plain": dict(messages=[{"role": "user", "content": "What is the capital of France?"}], max_tokens=24),
    "tools_auto": dict(messages=WEATHER_Q, tools=[WEATHER_TOOL, TIME_TOOL], max_tokens=40),
    "tools_named": dict(messages=WEATHER_Q, tools=[WEATHER_TOOL, TIME_TOOL], max_tokens=40,
                        tool_choice={"type": "function", "function": {"name": "get_weather"}}),
    "tools_required": dict(messages=WEATHER_Q, tools=[WEATHER_TOOL], tool_choice="required", max_tokens=40),
    "tools_none": dict(messages=WEATHER_Q, tools=[WEATHER_TOOL], tool_choice="none", max_tokens=32),
    "n2": dict(messages=WEATHER_Q, tools=[WEATHER_TOOL], n=2, max_tokens=32, temperature=0.8, seed=5),
    "history": dict(messages=WEATHER_Q + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temperature\": 14}"}],
        tools=[WEATHER_TOOL], max_tokens=32),
}


@pytest.mark.parametrize("name", sorted(SAME_REQUESTS))
def test_streaming_equals_non_streaming(http, name):
    body = dict({"temperature": 0}, **SAME_REQUESTS[name])
    # A first run puts the prompt in the prefix cache, so that the two runs compared below meet the
    # same cache state (greedy output differs between a cold and a warm cache: see the report). It is
    # a whole run: a held call cannot fit in fewer tokens than its shortest form (a smaller max_tokens is a 400).
    post(http, **body)
    whole = post(http, **body)
    chunks, lines = stream(http, **body)
    assert lines[-1] == "data: [DONE]"
    streamed = assemble(chunks)
    assert sorted(streamed) == [c["index"] for c in whole["choices"]]
    for choice in whole["choices"]:
        got = streamed[choice["index"]]
        assert stream_view(got) == message_view(choice["message"]), name
        assert got["finish_reason"] == choice["finish_reason"]
        ids = [c["id"] for c in choice["message"].get("tool_calls") or []]
        assert len(set(ids)) == len(ids) and all(i.startswith("call_") for i in ids)


def test_stream_include_usage(http):
    body = dict(messages=STORY, max_tokens=8, temperature=0, stream_options={"include_usage": True})
    chunks, _ = stream(http, **body)
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] == 8
    assert last["usage"]["total_tokens"] == last["usage"]["prompt_tokens"] + 8
    whole = post(http, messages=STORY, max_tokens=8, temperature=0)
    # the same counts; only prompt_tokens_details.cached_tokens depends on what ran before
    assert _counts(whole["usage"]) == _counts(last["usage"])


def test_stream_without_usage_has_no_usage_chunk(http):
    chunks, _ = stream(http, messages=STORY, max_tokens=4)
    assert all(chunk["choices"] for chunk in chunks)
    assert all("usage" not in chunk or chunk["usage"] is None for chunk in chunks)


def test_stream_chunks_share_id_and_model(http):
    chunks, _ = stream(http, messages=STORY, max_tokens=4)
    assert len({c["id"] for c in chunks}) == 1 and len({c["model"] for c in chunks}) == 1


# ---------------------------------------------------------------- tool_choice


def test_tool_choice_none_returns_no_calls(http):
    for body in (dict(tool_choice="none"), dict(tool_choice="none", stream=False)):
        result = post(http, messages=WEATHER_Q, tools=[WEATHER_TOOL], max_tokens=48, **body)
        choice = result["choices"][0]
        assert not choice["message"].get("tool_calls")
        assert choice["finish_reason"] in ("stop", "length")
        assert isinstance(choice["message"]["content"], str)


def test_named_tool_choice_never_returns_another_function(http):
    for named, other, temperature, seed, n in (("get_weather", "get_time", 0, None, 1),
                                               ("get_time", "get_weather", 1.0, 1, 2)):
        result = post(http, messages=WEATHER_Q, tools=[WEATHER_TOOL, TIME_TOOL], max_tokens=48, n=n,
                      temperature=temperature, seed=seed, tool_choice={"type": "function", "function": {"name": named}})
        for choice in result["choices"]:
            names = [c["function"]["name"] for c in choice["message"].get("tool_calls") or []]
            assert other not in names and all(n == named for n in names)


def test_parallel_tool_calls_false_gives_at_most_one(http):
    question = [{"role": "user", "content": "What's the weather in Paris, London, Rome and Tokyo?"}]
    for temperature, seed, n in ((0, None, 1), (1.0, 3, 2)):
        result = post(http, messages=question, tools=[WEATHER_TOOL, TIME_TOOL], max_tokens=64, n=n,
                      temperature=temperature, seed=seed, parallel_tool_calls=False)
        for choice in result["choices"]:
            calls = choice["message"].get("tool_calls") or []
            assert len(calls) <= 1
            if calls:
                assert choice["finish_reason"] == "tool_calls"


def test_required_without_parallel_calls_gives_exactly_one(http):
    from tests.server.helpers import assert_valid_calls

    question = [{"role": "user", "content": "What's the weather in Paris, London, Rome and Tokyo?"}]
    for stream_it in (False, True):
        body = dict(messages=question, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="required", max_tokens=200,
                    temperature=0, parallel_tool_calls=False)
        if stream_it:
            assembled = assemble(stream(http, **body)[0])[0]
            finish_reason = assembled["finish_reason"]
            calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                     for c in assembled["calls"].values()]
        else:
            choice = post(http, **body)["choices"][0]
            finish_reason, calls = choice["finish_reason"], choice["message"]["tool_calls"]
        assert finish_reason == "tool_calls"
        assert len(calls) == 1
        assert_valid_calls(calls, [WEATHER_TOOL, TIME_TOOL])


def test_auto_on_a_question_no_tool_answers_gives_text_or_a_valid_call(http):
    from tests.server.helpers import assert_valid_calls

    result = post(http, messages=[{"role": "user", "content": "What is 2+2?"}], tools=[WEATHER_TOOL],
                  tool_choice="auto", max_tokens=64, temperature=0)
    message = result["choices"][0]["message"]
    if message.get("tool_calls"):
        assert_valid_calls(message["tool_calls"], [WEATHER_TOOL])
    else:
        assert message["content"].strip()


def test_constrained_and_free_requests_share_a_batch(http):
    """A request held by a grammar and one that is not, in flight together: each ends as it should."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.server.helpers import assert_valid_calls

    constrained = dict(messages=WEATHER_Q, tools=[WEATHER_TOOL], tool_choice="required", max_tokens=200,
                       temperature=0)
    free = dict(messages=STORY, max_tokens=40, temperature=0)
    alone = post(http, **free)["choices"][0]["message"]["content"]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(post, http, **body) for body in (constrained, free, constrained, free)]
        results = [f.result()["choices"][0] for f in futures]
    for choice in results[0::2]:
        assert choice["finish_reason"] == "tool_calls"
        assert_valid_calls(choice["message"]["tool_calls"], [WEATHER_TOOL])
    for choice in results[1::2]:
        assert choice["finish_reason"] == "length" and not choice["message"].get("tool_calls")
        assert choice["message"]["content"] and "<tool_call>" not in choice["message"]["content"]
    assert alone


@pytest.mark.parametrize("field,value,check", [
    ("response_format", {"type": "json_object"}, lambda text: isinstance(json.loads(text), dict)),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "answer", "schema": {
        "type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
        "additionalProperties": False}}}, lambda text: isinstance(json.loads(text)["answer"], int)),
    ("guided_choice", ["yes", "no"], lambda text: text in ("yes", "no")),
    ("guided_regex", "[0-9]{3}-[0-9]{4}", lambda text: len(text) == 8 and text[3] == "-"),
    ("guided_json", {"type": "object", "properties": {"city": {"enum": ["Paris", "Rome"]}}, "required": ["city"]},
     lambda text: json.loads(text)["city"] in ("Paris", "Rome")),
])
def test_text_constraints_shape_the_reply(http, field, value, check):
    for stream_it in (False, True):
        body = {"messages": [{"role": "user", "content": "Answer: is 7 a prime number?"}], field: value,
                "max_tokens": 120, "temperature": 0}
        if stream_it:
            assembled = assemble(stream(http, **body)[0])[0]
            text, finish = assembled["content"], assembled["finish_reason"]
        else:
            choice = post(http, **body)["choices"][0]
            text, finish = choice["message"]["content"], choice["finish_reason"]
        assert finish == "stop", text
        assert check(text), text


def test_text_completions_take_guided_fields(http):
    response = http.post("/v1/completions", json={"prompt": "The capital of France is", "max_tokens": 10,
                                                  "temperature": 0, "guided_choice": ["Paris", "Lyon"]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"] in ("Paris", "Lyon")


def test_required_always_yields_a_call(http):
    from tests.server.helpers import assert_valid_calls

    for seed in (1, 2):
        result = post(http, messages=[{"role": "user", "content": "Tell me a joke."}], tools=[WEATHER_TOOL],
                      tool_choice="required", temperature=1.0, seed=seed, max_tokens=400)
        choice = result["choices"][0]
        calls = choice["message"]["tool_calls"]
        # Sampling at temperature 1 may go on making calls until max_tokens cuts the last one short.
        assert choice["finish_reason"] in ("tool_calls", "length")
        complete = calls if choice["finish_reason"] == "tool_calls" else calls[:-1]
        assert complete, choice
        assert_valid_calls(complete, [WEATHER_TOOL])


def test_content_is_null_when_only_tool_calls(http):
    result = post(http, messages=WEATHER_Q, tools=[WEATHER_TOOL], max_tokens=48, temperature=0)
    message = result["choices"][0]["message"]
    if message.get("tool_calls") and not (message["content"] or "").strip():
        assert message["content"] is None
    elif not message.get("tool_calls"):
        assert isinstance(message["content"], str)


# ---------------------------------------------------------------- sampling and limits


def test_max_tokens_and_max_completion_tokens(http):
    result = post(http, messages=STORY, max_tokens=5, temperature=0)
    assert result["usage"]["completion_tokens"] == 5
    assert result["choices"][0]["finish_reason"] == "length"
    result = post(http, messages=STORY, max_completion_tokens=3, temperature=0)
    assert result["usage"]["completion_tokens"] == 3
    assert result["choices"][0]["finish_reason"] == "length"


def test_usage_counts(http):
    result = post(http, messages=STORY, max_tokens=6, temperature=0)
    usage = result["usage"]
    prompt = http.post("/tokenize", json={"messages": STORY}).json()["count"]
    assert _counts(usage) == {"prompt_tokens": prompt, "completion_tokens": 6, "total_tokens": prompt + 6,
                              "reasoning_tokens": 0}
    assert 0 <= usage["prompt_tokens_details"]["cached_tokens"] <= prompt


def _counts(usage: dict) -> dict:
    return {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
            "reasoning_tokens": usage["completion_tokens_details"]["reasoning_tokens"]}


def test_n_choices(http):
    result = post(http, messages=STORY, n=3, max_tokens=6, temperature=0.9, seed=7)
    assert [c["index"] for c in result["choices"]] == [0, 1, 2]
    assert result["usage"]["completion_tokens"] == 18
    chunks, _ = stream(http, messages=STORY, n=3, max_tokens=6, temperature=0.9, seed=7)
    streamed = assemble(chunks)
    assert sorted(streamed) == [0, 1, 2]
    for choice in result["choices"]:
        assert streamed[choice["index"]]["content"] == choice["message"]["content"]


def test_seed_reproducible(http):
    body = dict(messages=STORY, max_tokens=12, temperature=1.0, top_p=0.95)
    first = post(http, seed=1234, **body)["choices"][0]["message"]["content"]
    again = post(http, seed=1234, **body)["choices"][0]["message"]["content"]
    assert first == again
    others = {post(http, seed=s, **body)["choices"][0]["message"]["content"] for s in (1, 2, 3)}
    assert len(others | {first}) > 1


def test_greedy_is_deterministic(http):
    body = dict(messages=STORY, max_tokens=12, temperature=0)
    assert post(http, **body)["choices"][0]["message"] == post(http, **body)["choices"][0]["message"]


def test_stop_string(http):
    full = post(http, messages=STORY, max_tokens=24, temperature=0)["choices"][0]["message"]["content"]
    words = full.split()
    assert len(words) > 4, full
    stop = " " + words[3]
    cut = full[: full.index(stop)]
    result = post(http, messages=STORY, max_tokens=24, temperature=0, stop=[stop, "zzzz-never"])
    choice = result["choices"][0]
    assert choice["message"]["content"] == cut
    assert choice["finish_reason"] == "stop"
    assert choice["stop_reason"] == stop
    chunks, _ = stream(http, messages=STORY, max_tokens=24, temperature=0, stop=stop)
    assert assemble(chunks)[0]["content"] == cut


def test_logprobs(http):
    result = post(http, messages=STORY, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3)
    choice = result["choices"][0]
    entries = choice["logprobs"]["content"]
    assert len(entries) == 6
    for entry in entries:
        assert entry["logprob"] <= 0
        assert isinstance(entry["token"], str)
        assert entry["bytes"] == list(entry["token"].encode())
        assert len(entry["top_logprobs"]) == 3
        # greedy: the chosen token is the most likely one
        assert entry["top_logprobs"][0]["token"] == entry["token"]
        assert entry["top_logprobs"][0]["logprob"] == pytest.approx(entry["logprob"], abs=1e-4)
        tops = [t["logprob"] for t in entry["top_logprobs"]]
        assert tops == sorted(tops, reverse=True)
    # the decoded tokens spell the reply
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    chunks, _ = stream(http, messages=STORY, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3)
    streamed = assemble(chunks)[0]["logprobs"]
    assert [e["token"] for e in streamed] == [e["token"] for e in entries]


def test_no_logprobs_unless_asked(http):
    result = post(http, messages=STORY, max_tokens=2)
    assert result["choices"][0]["logprobs"] is None


def test_response_shape(http):
    result = post(http, messages=STORY, max_tokens=2)
    assert result["object"] == "chat.completion"
    assert result["id"].startswith("chatcmpl-")
    assert isinstance(result["created"], int)
    assert result["model"]
    assert result["choices"][0]["message"]["role"] == "assistant"
