"""The per-choice output pipeline: reasoning split, tool parsing, and their order."""

import json
import random
import re

import pytest

from tests.formats.streaming_harness import chunk_text
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaFunctionCall, DeltaMessage, DeltaToolCall
from toolwire.chat.output import ChoiceAccumulator, ChoiceOutputParser, ParsedChoice
from toolwire.formats.base import ToolParser
from toolwire.formats.families.hermes import HermesToolParser
from toolwire.formats.families.pythonic.scanner import PythonicToolParser
from toolwire.formats.families.think import DeepSeekR1ReasoningParser, Qwen3ReasoningParser

TOOLS = [{"type": "function", "function": {"name": "get_weather"}}]
REQUEST = ChatCompletionRequest(messages=[{"role": "user", "content": "Weather in Paris?"}], tools=TOOLS)
OPEN_PROMPT = "<|im_start|>assistant\n<think>\n"
NEUTRAL_PROMPT = "<|im_start|>assistant\n"


def call_block(city: str) -> str:
    return '<tool_call>\n{"name": "get_weather", "arguments": {"city": "%s"}}\n</tool_call>' % city


def make_pipeline(
    reasoning=DeepSeekR1ReasoningParser, tools=HermesToolParser, request=REQUEST, prompt=None, **flags
):
    return ChoiceOutputParser(
        request,
        reasoning_parser=reasoning() if reasoning else None,
        tool_parser=tools() if tools else None,
        prompt_text=prompt,
        **flags,
    )


def streamed(text, sizes=1, rng=None, **kwargs) -> ParsedChoice:
    """The deltas of a streamed run, checked and joined as a client joins them."""
    pipeline = make_pipeline(**kwargs)
    accumulator, first_seen = ChoiceAccumulator(), set()
    chunks = chunk_text(text, sizes, rng)
    deltas = [pipeline.feed(chunk, [i]) for i, chunk in enumerate(chunks)] + [pipeline.finish()]
    for delta in deltas:
        if delta is None:
            continue
        assert delta.content or delta.reasoning_content or delta.tool_calls  # no empty deltas
        for call in delta.tool_calls:
            if call.index not in first_seen:  # OpenAI's shape of a call's first delta
                first_seen.add(call.index)
                assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call.id) and call.type == "function"
                assert call.function.name and call.function.arguments == ""
            else:
                assert call.id is None and call.function.name is None
        accumulator.add(delta)
    assert pipeline.tool_call_count == len(first_seen)
    return accumulator.result()


def without_ids(choice: ParsedChoice):
    return choice.content, choice.reasoning_content, [(c.function.name, c.function.arguments) for c in choice.tool_calls]


def both_ways(text, **kwargs):
    whole = make_pipeline(**kwargs).parse_whole(text, list(range(len(text))))
    assert len({c.id for c in whole.tool_calls}) == len(whole.tool_calls)
    for sizes in (1, 2, 5, "random", "whole"):
        assert without_ids(streamed(text, sizes, **kwargs)) == without_ids(whole), sizes
    return without_ids(whole)


PARIS = ("get_weather", '{"city": "Paris"}')
ROME = ("get_weather", '{"city": "Rome"}')


def test_reasoning_then_content_then_call():
    text = "<think>\nThe user wants the weather.\n</think>\n\nLet me check.\n" + call_block("Paris")
    assert both_ways(text) == ("Let me check.\n", "The user wants the weather.", [PARIS])


def test_a_tool_call_inside_the_reasoning_is_still_a_call():
    text = "I need the weather.\n" + call_block("Paris") + "\n</think>\n\nChecking Rome too.\n" + call_block("Rome")
    for reasoning in (DeepSeekR1ReasoningParser, Qwen3ReasoningParser):
        assert both_ways(text, reasoning=reasoning, prompt=OPEN_PROMPT) == (
            "Checking Rome too.\n",
            "I need the weather.\n",  # the call is gone from the reasoning
            [PARIS, ROME],
        )


def test_pythonic_call_inside_the_reasoning():
    text = "<think>Call it: [get_weather(city='Paris')]</think>Done."
    assert both_ways(text, tools=PythonicToolParser) == ("Done.", "Call it: ", [PARIS])


def test_reasoning_with_and_without_the_opening_tag():
    with_tag = "<think>\nHmm.\n</think>\n\nSunny."
    without_tag = "Hmm.\n</think>\n\nSunny."
    assert both_ways(with_tag, prompt=NEUTRAL_PROMPT) == ("Sunny.", "Hmm.", [])
    assert both_ways(without_tag, prompt=OPEN_PROMPT) == ("Sunny.", "Hmm.", [])
    assert both_ways(with_tag, reasoning=Qwen3ReasoningParser, prompt=NEUTRAL_PROMPT) == ("Sunny.", "Hmm.", [])
    assert both_ways(without_tag, reasoning=Qwen3ReasoningParser, prompt=OPEN_PROMPT) == ("Sunny.", "Hmm.", [])


def test_partial_end_tag_is_held_at_a_chunk_boundary():
    pipeline = make_pipeline(prompt=OPEN_PROMPT)
    first = pipeline.feed("It is sunny</thi")
    assert (first.reasoning_content, first.content) == ("It is sunny", None)
    second = pipeline.feed("nk>\n\nSunny.")
    assert (second.reasoning_content, second.content) == (None, "Sunny.")
    assert pipeline.finish() is None


def test_qwen3_enable_thinking_false():
    request = REQUEST.model_copy(update={"chat_template_kwargs": {"enable_thinking": False}})
    text = "Sure.\n" + call_block("Paris")
    assert both_ways(text, reasoning=Qwen3ReasoningParser, request=request) == ("Sure.\n", None, [PARIS])


def test_separate_reasoning_false_keeps_reasoning_inline():
    text = "<think>Hmm.</think>Sunny.\n" + call_block("Paris")
    request = REQUEST.model_copy(update={"separate_reasoning": False})
    assert both_ways(text, request=request) == ("<think>Hmm.</think>Sunny.\n", None, [PARIS])
    assert both_ways(text, separate_reasoning=False) == ("<think>Hmm.</think>Sunny.\n", None, [PARIS])


def test_tool_choice_none_means_no_tool_parsing():
    text = "Sure.\n" + call_block("Paris")
    request = REQUEST.model_copy(update={"tool_choice": "none"})
    assert both_ways(text, reasoning=None, request=request) == (text, None, [])
    assert both_ways(text, reasoning=None, parse_tools=False) == (text, None, [])
    no_tools = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}])
    assert both_ways(text, reasoning=None, request=no_tools) == (text, None, [])


def test_no_parsers_passes_the_text_through():
    assert both_ways("Hello <think> [f()]", reasoning=None, tools=None) == ("Hello <think> [f()]", None, [])


def test_whitespace_only_channels_are_none():
    text = "<think>\n\n</think>\n\n" + call_block("Paris") + "\n"
    assert both_ways(text) == (None, None, [PARIS])
    assert both_ways("\n[get_weather(city='Paris')]\n", reasoning=None, tools=PythonicToolParser) == (None, None, [PARIS])
    pipeline = make_pipeline(reasoning=None, tools=None)
    assert pipeline.feed("\n\n") is None  # held: it may be all there is
    assert pipeline.feed("Hi").content == "\n\nHi"


def test_parse_whole_needs_a_fresh_pipeline():
    pipeline = make_pipeline()
    pipeline.feed("x")
    with pytest.raises(RuntimeError):
        pipeline.parse_whole("x")
    pipeline.finish()
    with pytest.raises(RuntimeError):
        pipeline.feed("y")
    assert pipeline.finish() is None


def test_whole_parse_splits_reasoning_content_and_calls():
    choice = make_pipeline().parse_whole("<think>Hm</think>Yes.\n" + call_block("Paris"))
    assert choice.content == "Yes.\n" and choice.reasoning_content == "Hm"
    assert json.loads(choice.tool_calls[0].function.arguments) == {"city": "Paris"}


# ---------------------------------------------------------------- plugins, through the public interface


class VllmStylePlugin(ToolParser):
    """Written the way vLLM plugins are: reads current_text and token ids, sends no call ids."""

    def __init__(self, tokenizer=None):
        super().__init__(tokenizer)
        self.sent = 0
        self.seen_ids = []

    def extract_tool_calls(self, model_output, request):
        raise NotImplementedError

    def extract_tool_calls_streaming(
        self,
        previous_text,
        current_text,
        delta_text,
        previous_token_ids,
        current_token_ids,
        delta_token_ids,
        request,
    ):
        assert current_text == previous_text + delta_text
        assert len(current_token_ids) == len(previous_token_ids) + len(delta_token_ids) or not delta_token_ids
        assert list(current_token_ids)[-len(delta_token_ids) :] == list(delta_token_ids) or not delta_token_ids
        self.seen_ids = list(current_token_ids)
        if "CALL" in current_text and not self.sent:
            self.sent = 1
            return DeltaMessage(
                tool_calls=[DeltaToolCall(index=0, function=DeltaFunctionCall(name="get_weather", arguments="{}"))]
            )
        if "CALL" in current_text:
            return None
        return DeltaMessage(content=delta_text)


def test_a_plugin_is_driven_through_the_public_methods_and_gets_ids():
    pipeline = ChoiceOutputParser(REQUEST, tool_parser=VllmStylePlugin())
    deltas = [pipeline.feed("Hi ", [1, 2]), pipeline.feed("CALL", [3]), pipeline.feed(" rest", [4])]
    assert deltas[0].content == "Hi "
    call = deltas[1].tool_calls[0]
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call.id) and call.type == "function"
    assert deltas[2] is None
    assert pipeline.tool_parser.seen_ids == [1, 2, 3, 4]
    assert pipeline.finish() is None


class BrokenPlugin(ToolParser):
    def extract_tool_calls_streaming(self, *args):
        if "boom" in args[1]:
            raise ValueError("plugin bug")
        return DeltaMessage(content=args[2])


def test_a_plugin_that_raises_is_switched_off_not_fatal():
    pipeline = ChoiceOutputParser(REQUEST, tool_parser=BrokenPlugin())
    assert pipeline.feed("a ").content == "a "
    assert pipeline.feed("boom").content == "boom"
    assert pipeline.feed(" after").content == " after"
    assert pipeline.tool_parser is None
    assert pipeline.finish() is None


# ---------------------------------------------------------------- cost


def test_a_100kb_reply_streams_in_one_pass():
    # Correctness only (tests never assert timings): a 100 KB reply with reasoning, content and a
    # call, fed in 4-character deltas, comes out whole. The figures are in the report.
    rng = random.Random(0)
    thinking = "".join(rng.choice("abc \n") for _ in range(50_000))
    text = "<think>" + thinking + "</think>\n\n" + "y" * 50_000 + "\n" + call_block("Paris")
    pipeline = make_pipeline()
    accumulator = ChoiceAccumulator()
    for chunk in chunk_text(text, 4):
        accumulator.add(pipeline.feed(chunk))
    accumulator.add(pipeline.finish())
    result = accumulator.result()
    assert result.reasoning_content == thinking.strip() and result.content == "y" * 50_000 + "\n"
    assert [(c.function.name, c.function.arguments) for c in result.tool_calls] == [PARIS]
