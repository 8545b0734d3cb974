"""The stream assembler: tool calls by index from interleaved fragments, SDK objects or dicts."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk

from toolwire.client.stream import (
    ChoiceFinished, ContentDelta, ReasoningDelta, StreamAssembler, ToolCallArgumentsDelta,
    ToolCallStarted, assemble_stream,
)


def chunk(delta: dict | None = None, finish: str | None = None, *, choice: int = 0, **top) -> dict:
    choices = [] if delta is None and finish is None else [
        {"index": choice, "delta": delta or {}, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": choices, **top}


def tc(index: int | None, *, id: str | None = None, name: str | None = None,
       arguments: str | None = None) -> dict:
    entry: dict = {"function": {}}
    if index is not None:
        entry["index"] = index
    if id is not None:
        entry["id"] = id
        entry["type"] = "function"
    if name is not None:
        entry["function"]["name"] = name
    if arguments is not None:
        entry["function"]["arguments"] = arguments
    return entry


INTERLEAVED = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Let me "}),
    chunk({"content": "check."}),
    chunk({"tool_calls": [tc(0, id="call_a", name="get_weather", arguments="")]}),
    chunk({"tool_calls": [tc(0, arguments='{"loca')]}),
    chunk({"tool_calls": [tc(1, id="call_b", name="get_time", arguments='{"tz"')]}),
    chunk({"tool_calls": [tc(0, arguments='tion": "Paris"}')]}),
    chunk({"tool_calls": [tc(1, arguments=': "CET"}')]}),
    chunk(None, "tool_calls"),
    chunk(None, None, usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}),
]

EXPECTED_MESSAGE = {
    "role": "assistant",
    "content": "Let me check.",
    "tool_calls": [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "CET"}'}},
    ],
}


def test_interleaved_fragments_assemble_by_index_from_dicts():
    assembler = StreamAssembler()
    events = [event for c in INTERLEAVED for event in assembler.feed(c)]
    assert assembler.message() == EXPECTED_MESSAGE
    assert assembler.choice().finish_reason == "tool_calls"
    assert assembler.usage == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    assert events == [
        ContentDelta("Let me "), ContentDelta("check."),
        ToolCallStarted(0, "call_a", "get_weather"),
        ToolCallArgumentsDelta(0, '{"loca'),
        ToolCallStarted(1, "call_b", "get_time"), ToolCallArgumentsDelta(1, '{"tz"'),
        ToolCallArgumentsDelta(0, 'tion": "Paris"}'), ToolCallArgumentsDelta(1, ': "CET"}'),
        ChoiceFinished("tool_calls"),
    ]


def test_sdk_chunk_objects_assemble_the_same():
    objects = [ChatCompletionChunk.model_validate(c) for c in INTERLEAVED]
    completion = assemble_stream(objects)
    assert completion["choices"][0]["message"] == EXPECTED_MESSAGE
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["usage"]["total_tokens"] == 12
    assert completion["id"] == "chatcmpl-1" and completion["model"] == "m"


def test_completion_has_the_non_streamed_shape():
    completion = assemble_stream(INTERLEAVED)
    assert set(completion) == {"id", "object", "created", "model", "choices", "usage"}
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["index"] == 0


def test_quirk_missing_index_is_placed_by_id():
    stream = [
        chunk({"tool_calls": [tc(None, id="c1", name="f", arguments='{"a":')]}),
        chunk({"tool_calls": [tc(None, arguments=" 1}")]}),
        chunk({"tool_calls": [tc(None, id="c2", name="g", arguments="{}")]}),
        chunk({"tool_calls": [tc(None, id="c1", arguments="")]}),
    ]
    message = assemble_stream(stream)["choices"][0]["message"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]] == [
        ("c1", "f", '{"a": 1}'), ("c2", "g", "{}")]


def test_quirk_name_repeated_in_every_delta_is_not_doubled_and_split_names_join():
    stream = [
        chunk({"tool_calls": [tc(0, id="x", name="get_weather", arguments="{")]}),
        chunk({"tool_calls": [tc(0, name="get_weather", arguments="}")]}),
        chunk({"tool_calls": [tc(1, id="y", name="get_")]}),
        chunk({"tool_calls": [tc(1, name="time", arguments="{}")]}),
    ]
    calls = assemble_stream(stream)["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert [c["function"]["arguments"] for c in calls] == ["{}", "{}"]


def test_reasoning_is_kept_apart_and_several_choices_are_separate():
    assembler = StreamAssembler()
    events = []
    for c in [
        chunk({"reasoning_content": "think "}),
        chunk({"reasoning": "more"}),
        chunk({"content": "zero"}),
        chunk({"content": "one"}, choice=1),
        chunk(None, "stop"),
        chunk(None, "length", choice=1),
    ]:
        events += assembler.feed(c)
    assert assembler.message() == {"role": "assistant", "content": "zero", "reasoning_content": "think more"}
    assert assembler.message(1) == {"role": "assistant", "content": "one"}
    assert assembler.choice(1).finish_reason == "length"
    assert ReasoningDelta("think ") in events and ContentDelta("one", 1) in events


def test_empty_stream_gives_an_empty_message():
    assert StreamAssembler().message() == {"role": "assistant", "content": None}


# --- property: any chunking and interleaving assembles the original calls -----------------------

names = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
json_objects = st.dictionaries(
    st.text(min_size=1, max_size=6),
    st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none(),
              st.lists(st.integers(), max_size=3)),
    max_size=4,
)


@st.composite
def streamed_calls(draw):
    calls = draw(st.lists(st.tuples(names, json_objects), min_size=1, max_size=4))
    texts = [json.dumps(args, ensure_ascii=draw(st.booleans())) for _, args in calls]
    # Split each call's arguments at random cut points.
    queues = []
    for i, ((name, _), text) in enumerate(zip(calls, texts)):
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=6)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)]) if text[a:b]]
        first_args = draw(st.sampled_from(["", None])) if pieces else None
        queue = [tc(i, id=f"call_{i}", name=name, arguments=first_args)]
        queue += [tc(i, arguments=p) for p in pieces]
        queues.append(queue)
    # Interleave the queues at random, keeping each call's own order; a chunk may carry entries
    # for several calls at once.
    order = draw(st.permutations([i for i, q in enumerate(queues) for _ in q]))
    entries = [queues[i].pop(0) for i in order]
    chunks, k = [], 0
    while k < len(entries):
        size = draw(st.integers(1, 3))
        chunks.append(chunk({"tool_calls": entries[k:k + size]}))
        k += size
    expected = [{"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": t}}
                for i, ((n, _), t) in enumerate(zip(calls, texts))]
    return chunks, expected


@settings(max_examples=200, deadline=None)
@given(streamed_calls(), st.booleans())
def test_any_interleaving_assembles_the_calls(case, as_sdk_objects):
    chunks, expected = case
    if as_sdk_objects:
        chunks = [ChatCompletionChunk.model_validate(c) for c in chunks]
    assembler = StreamAssembler()
    fragments: dict[int, str] = {}
    for c in chunks:
        for event in assembler.feed(c):
            if isinstance(event, ToolCallArgumentsDelta):
                fragments[event.index] = fragments.get(event.index, "") + event.fragment
    assert assembler.message()["tool_calls"] == expected
    # The events alone carry the same arguments.
    assert [fragments.get(i, "") for i in range(len(expected))] == [
        e["function"]["arguments"] for e in expected]
