"""Property tests for the output pipeline: reasoning + tool calls, whole and streamed.

Generated replies: optional reasoning (tag in the output or in the prompt, or thinking switched off)
holding text and 0-1 calls, then content and 0-3 calls, in the hermes or the pythonic format, with
nested arguments, unicode and escaped quotes. The whole result is what the generator meant, and every
chunking streams exactly the whole result.
"""

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chat.test_output import without_ids
from tests.formats.streaming_harness import chunk_text
from tests.formats.test_pythonic_properties import identifiers, python_source, values
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.chat.output import ChoiceAccumulator, ChoiceOutputParser
from toolwire.formats.families.hermes import HermesToolParser
from toolwire.formats.families.pythonic.scanner import PythonicToolParser
from toolwire.formats.families.think import DeepSeekR1ReasoningParser, Qwen3ReasoningParser

TOOL_NAMES = ["get_weather", "search", "send_email"]
TOOLS = [{"type": "function", "function": {"name": name}} for name in TOOL_NAMES]
MESSAGES = [{"role": "user", "content": "hi"}]
OPEN_PROMPT = "<|im_start|>assistant\n<think>\n"
CLOSED_PROMPT = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
NEUTRAL_PROMPT = "<|im_start|>assistant\n"

# Free text: no '<' or '[' (they would start markers), trimmed (the ends of reasoning are trimmed).
free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<[\x00"), max_size=25
).map(str.strip)
call_strategy = st.tuples(
    st.sampled_from(TOOL_NAMES), st.dictionaries(identifiers, values, max_size=3)
)


def render_calls(tool_format: str, calls, rng: random.Random) -> str:
    if tool_format == "hermes":
        blocks = []
        for name, arguments in calls:
            payload = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=rng.random() < 0.5)
            blocks.append("<tool_call>\n" + payload + "\n</tool_call>")
        return "\n".join(blocks)
    sources = [
        f"{name}(" + ", ".join(f"{k}={python_source(v, rng)}" for k, v in arguments.items()) + ")"
        for name, arguments in calls
    ]
    return "[" + ", ".join(sources) + "]"


def text_then_calls(text: str, calls_text: str) -> str:
    return text + "\n" + calls_text if text and calls_text else text + calls_text


@st.composite
def replies(draw):
    rng = random.Random(draw(st.integers(0, 2**32)))
    tool_format = draw(st.sampled_from(["hermes", "pythonic"]))
    family = draw(st.sampled_from([DeepSeekR1ReasoningParser, Qwen3ReasoningParser]))
    thinking = draw(st.sampled_from(["tag in output", "tag in prompt", "off"]))
    reasoning, reasoning_calls = draw(free_text), draw(st.lists(call_strategy, max_size=1))
    content, content_calls = draw(free_text), draw(st.lists(call_strategy, max_size=3))
    body = text_then_calls(content, render_calls(tool_format, content_calls, rng) if content_calls else "")
    request_fields = {}
    if thinking == "off":
        reasoning, reasoning_calls = "", []
        text, prompt = body, CLOSED_PROMPT
        request_fields["chat_template_kwargs"] = {"enable_thinking": False}
    else:
        thought = text_then_calls(
            reasoning, render_calls(tool_format, reasoning_calls, rng) if reasoning_calls else ""
        )
        opening = "<think>\n" if thinking == "tag in output" else ""
        text = opening + thought + "\n</think>\n\n" + body
        prompt = NEUTRAL_PROMPT if thinking == "tag in output" else OPEN_PROMPT
    request = ChatCompletionRequest(messages=MESSAGES, tools=TOOLS, **request_fields)
    intended = (
        (content + "\n" if content and content_calls else content) or None,
        (reasoning + "\n" if reasoning and reasoning_calls else reasoning) or None,
        [(name, json.loads(json.dumps(arguments))) for name, arguments in reasoning_calls + content_calls],
    )
    parsers = (family, HermesToolParser if tool_format == "hermes" else PythonicToolParser)
    return text, request, prompt, parsers, intended


def run(text, request, prompt, parsers, sizes=None, rng=None):
    reasoning_class, tool_class = parsers
    pipeline = ChoiceOutputParser(
        request, reasoning_parser=reasoning_class(), tool_parser=tool_class(), prompt_text=prompt
    )
    if sizes is None:
        return pipeline.parse_whole(text, list(range(len(text))))
    accumulator, announced = ChoiceAccumulator(), set()
    for chunk in chunk_text(text, sizes, rng):
        delta = pipeline.feed(chunk, [len(chunk)])
        for call in delta.tool_calls if delta else ():
            if call.index not in announced:
                announced.add(call.index)
                assert call.id and call.type == "function" and call.function.name
                assert call.function.arguments == ""
        accumulator.add(delta)
    accumulator.add(pipeline.finish())
    return accumulator.result()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replies(), st.integers(0, 2**32))
def test_generated_replies_come_out_as_intended_in_every_chunking(reply, seed):
    text, request, prompt, parsers, intended = reply
    whole = run(text, request, prompt, parsers)
    content, reasoning, calls = without_ids(whole)
    assert (content, reasoning) == intended[:2]
    assert [(name, json.loads(arguments)) for name, arguments in calls] == intended[2]
    assert len({call.id for call in whole.tool_calls}) == len(calls)
    rng = random.Random(seed)
    for sizes in (1, "random", "random", "whole"):
        assert without_ids(run(text, request, prompt, parsers, sizes, rng)) == without_ids(whole), sizes


NOISE = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<", "/", ">", "\n", " ", "a", "é"]
NOISE += ['{"name": "get_weather", "arguments": {"x": 1}}', '{"name": "nope"}', "{", "}", '"', ","]
NOISE += ["[", "]", "get_weather(", "x=1", ")", "'q'", "<|python_start|>", "<|python_end|>"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(st.sampled_from(NOISE), max_size=30).map("".join),
    family=st.sampled_from([DeepSeekR1ReasoningParser, Qwen3ReasoningParser]),
    tool_class=st.sampled_from([HermesToolParser, PythonicToolParser]),
    prompt=st.sampled_from([None, OPEN_PROMPT, NEUTRAL_PROMPT]),
    seed=st.integers(0, 2**32),
)
def test_arbitrary_text_streams_exactly_like_the_whole(text, family, tool_class, prompt, seed):
    request = ChatCompletionRequest(messages=MESSAGES, tools=TOOLS)
    whole = without_ids(run(text, request, prompt, (family, tool_class)))
    rng = random.Random(seed)
    for sizes in (1, "random"):
        assert without_ids(run(text, request, prompt, (family, tool_class), sizes, rng)) == whole
