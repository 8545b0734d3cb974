"""max_tokens never leaves a held call invalid: the real model on the real server, through the OpenAI SDK.

A tool with nested required objects and arrays, max_tokens swept from the shortest valid call up to the
call's natural length: every reply holds one call whose arguments validate, streamed and whole alike;
below the shortest call the request is refused with a 400 that says what would do.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import openai
import pytest

from tests.server.helpers import MODEL_ID as MODEL

TRIP_PARAMETERS = {"type": "object", "properties": {
    "traveller": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                  "required": ["name", "age"]},
    "stops": {"type": "array", "minItems": 1, "items": {
        "type": "object", "properties": {"city": {"type": "string"}, "nights": {"type": "integer"}},
        "required": ["city", "nights"]}},
    "notes": {"type": "string"}},
    "required": ["traveller", "stops"]}
TRIP = {"type": "function", "function": {"name": "book_trip", "description": "Book a trip with its stops",
                                          "parameters": TRIP_PARAMETERS}}
ASK = [{"role": "user", "content": "Book a trip for Ana, 34: three nights in Lisbon, then two in Porto and "
                                   "four in Madrid. Note that she wants window seats on every train."}]


def call_of(client, stream: bool, **body):
    if not stream:
        choice = client.chat.completions.create(model=MODEL, messages=ASK, tools=[TRIP], **body).choices[0]
        calls = choice.message.tool_calls or []
        return choice.finish_reason, [(c.function.name, c.function.arguments) for c in calls]
    names, arguments, finish = {}, {}, None
    for chunk in client.chat.completions.create(model=MODEL, messages=ASK, tools=[TRIP], stream=True, **body):
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or ():
                names[delta.index] = names.get(delta.index, "") + (delta.function.name or "")
                arguments[delta.index] = arguments.get(delta.index, "") + (delta.function.arguments or "")
    return finish, [(names[i], arguments[i]) for i in sorted(names)]


def shortest_call_tokens(client) -> int:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=ASK, tools=[TRIP], tool_choice="required", max_tokens=4)
    error = refused.value.body
    assert error["param"] == "max_tokens" and error["code"] == "max_tokens_too_small"
    return int(re.search(r"at least (\d+)", error["message"]).group(1))


def test_every_budget_from_the_shortest_call_up_gives_a_valid_call(client):
    shortest = shortest_call_tokens(client)
    natural = client.chat.completions.create(model=MODEL, messages=ASK, tools=[TRIP], tool_choice="required",
                                             max_tokens=400, temperature=0, parallel_tool_calls=False)
    assert natural.choices[0].finish_reason == "tool_calls"
    length = natural.usage.completion_tokens
    assert length > shortest + 8, "the model's own call should be longer than the shortest one"
    budgets = sorted({shortest, shortest + 2, *range(shortest + 5, length, max(1, (length - shortest) // 3))})
    work = [(budget, stream) for budget in budgets for stream in (False, True)]
    with ThreadPoolExecutor(len(work)) as pool:
        replies = list(pool.map(lambda w: call_of(client, w[1], tool_choice="required", max_tokens=w[0],
                                                  temperature=0, parallel_tool_calls=False), work))
    by_budget = {}
    for (budget, stream), (finish, calls) in zip(work, replies):
        # The limit shaped the reply ("length"), or steered near it the model ended the call itself.
        assert finish in ("length", "tool_calls"), (budget, finish)
        assert len(calls) == 1 and calls[0][0] == "book_trip", (budget, stream, calls)
        jsonschema.validate(json.loads(calls[0][1]), TRIP_PARAMETERS)
        by_budget.setdefault(budget, []).append(calls)
    for budget, (whole, streamed) in by_budget.items():
        assert json.loads(whole[0][1]) == json.loads(streamed[0][1]), budget


@pytest.mark.parametrize("max_tokens", [4, 8, 12])
@pytest.mark.parametrize("tool_choice", ["required", {"type": "function", "function": {"name": "book_trip"}}])
def test_a_budget_below_the_shortest_call_is_refused(client, max_tokens, tool_choice):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=ASK, tools=[TRIP], tool_choice=tool_choice,
                                       max_tokens=max_tokens)
    assert refused.value.body["param"] == "max_tokens"
    assert f"max_tokens is {max_tokens}" in refused.value.body["message"]


def test_a_json_schema_reply_closes_within_its_budget(client):
    body = dict(model=MODEL, messages=ASK, temperature=0, response_format={
        "type": "json_schema", "json_schema": {"name": "trip", "schema": TRIP_PARAMETERS}})
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(max_tokens=3, **body)
    for max_tokens in (30, 45, 60):
        choice = client.chat.completions.create(max_tokens=max_tokens, **body).choices[0]
        jsonschema.validate(json.loads(choice.message.content), TRIP_PARAMETERS)
