"""The reasoning parsers glm45, kimi_k2, minimax_m2, minimax_m2_append_think and deepseek_v3: examples
from the models' own output and templates, whole and streamed; their thinking switches; where the
grammar applies; tool calls written inside the reasoning."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.streaming_harness import chunk_text
from tests.formats.test_reasoning import both_ways, stream, whole
from toolwire.chat.output import ChoiceAccumulator, ChoiceOutputParser
from toolwire.chat.rendering import render_template
from toolwire.formats.registry import ReasoningParserManager, ToolParserManager
from toolwire.protocol.chat import ChatCompletionRequest

TEMPLATES = Path(__file__).parent / "templates"
GLM, KIMI, MINIMAX, APPEND, DEEPSEEK = (ReasoningParserManager.get_reasoning_parser(name) for name in (
    "glm45", "kimi_k2", "minimax_m2", "minimax_m2_append_think", "deepseek_v3"))
ALL = [GLM, KIMI, MINIMAX, APPEND, DEEPSEEK]


def request(**chat_template_kwargs) -> ChatCompletionRequest:
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}],
                                 chat_template_kwargs=chat_template_kwargs or None)


def prompt_of(template_name: str, **kwargs) -> str:
    """The generation prompt the model's real template renders for one user message."""
    return render_template((TEMPLATES / template_name).read_text(), [{"role": "user", "content": "hi"}],
                           add_generation_prompt=True, special_tokens={"bos_token": "<s>"},
                           template_kwargs=kwargs or None)


def test_registered_under_vllms_names():
    names = set(ReasoningParserManager.names())
    assert {"glm45", "kimi_k2", "minimax_m2", "minimax_m2_append_think", "deepseek_v3"} <= names
    for sglang, vllm in [("minimax", "minimax_m2"), ("minimax-append-think", "minimax_m2_append_think"),
                         ("deepseek-v3", "deepseek_v3")]:
        assert ReasoningParserManager.get_reasoning_parser(sglang) is ReasoningParserManager.get_reasoning_parser(vllm)


# ---------------------------------------------------------------- GLM-4.5


def test_glm45_thinks_when_it_opens_think_and_not_when_switched_off():
    thinking = prompt_of("zai-org-GLM-4.5.jinja")
    assert thinking.endswith("<|assistant|>")
    assert both_ways(GLM, "<think>The user greets.</think>\nHello!", prompt=thinking) == ("The user greets.", "Hello!")
    assert both_ways(GLM, "Hello!", prompt=thinking) == (None, "Hello!")
    off = prompt_of("zai-org-GLM-4.5.jinja", enable_thinking=False)
    assert off.endswith("<|assistant|>\n<think></think>")
    no_thinking = request(enable_thinking=False)
    assert both_ways(GLM, "\nHello!", request=no_thinking, prompt=off) == (None, "\nHello!")
    assert GLM().reasoning_region(no_thinking, off) is None
    region = GLM().reasoning_region(request(), thinking)
    assert (region.start, region.end, region.opened_in_prompt, region.optional) == ("<think>", "</think>", False, True)


# ---------------------------------------------------------------- Kimi K2


def test_kimi_k2_thinking_output():
    prompt = prompt_of("moonshotai-Kimi-K2-Thinking.jinja")
    assert prompt.endswith("<|im_assistant|>assistant<|im_middle|>")
    text = "<think>The user greets me; answer briefly.</think>Hello! How can I help?"
    assert both_ways(KIMI, text, prompt=prompt) == ("The user greets me; answer briefly.", "Hello! How can I help?")
    # the opening tag may be missing (vLLM's kimi_k2 reads it so too); the earlier thinking models' tags
    assert both_ways(KIMI, "Greeting.</think>Hello!", prompt=prompt) == ("Greeting.", "Hello!")
    assert both_ways(KIMI, "◁think▷Greeting.◁/think▷Hello!", prompt=prompt) == ("Greeting.", "Hello!")
    assert both_ways(KIMI, "Hello!", request=request(thinking=False), prompt=prompt) == (None, "Hello!")
    region = KIMI().reasoning_region(request(), prompt)
    assert (region.end, region.opened_in_prompt) == ("</think>", True)
    assert KIMI().reasoning_region(request(thinking=False), prompt) is None


def test_a_kimi_call_inside_the_reasoning_is_found():
    text = ("<think>I need the weather.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
            '<|tool_call_argument_begin|>{"city": "Beijing"}<|tool_call_end|><|tool_calls_section_end|></think>')
    results = [_pipeline(KIMI, "kimi_k2", text, sizes) for sizes in (None, 1, 5)]
    for content, reasoning, calls in results:
        assert reasoning == "I need the weather."
        assert calls == [("functions.get_weather:0", "get_weather", '{"city": "Beijing"}')]
        assert not content


# ---------------------------------------------------------------- MiniMax M2


def test_minimax_m2_starts_inside_the_reasoning_its_template_opens():
    prompt = prompt_of("unsloth-MiniMax-M2.jinja")
    assert prompt.endswith("]~b]ai\n<think>\n")
    text = "The user greets me.\n</think>\n\nHello!"
    assert both_ways(MINIMAX, text, prompt=prompt) == ("The user greets me.", "Hello!")
    assert both_ways(MINIMAX, "Still thinking", prompt=prompt) == ("Still thinking", None)
    assert MINIMAX().reasoning_region(request(), prompt).opened_in_prompt


def test_minimax_m2_append_think_keeps_the_thinking_in_the_content():
    prompt = prompt_of("unsloth-MiniMax-M2.jinja")
    text = "The user greets me.\n</think>\n\nHello!"
    assert both_ways(APPEND, text, prompt=prompt) == (None, "<think>" + text)
    assert both_ways(APPEND, "", prompt=prompt) == (None, "<think>")
    assert both_ways(APPEND, "Hello!", prompt="]~b]ai\n") == (None, "Hello!")  # a prompt that opened none
    # the grammar still waits for the end of the thinking
    assert APPEND().reasoning_region(request(), prompt).end == "</think>"


def test_a_call_inside_minimax_thinking_is_found_in_either_mode():
    call = ('<|tool_calls_section_begin|><|tool_call_begin|>functions.search:0<|tool_call_argument_begin|>{"q": "x"}'
            "<|tool_call_end|><|tool_calls_section_end|>")
    text = "Let me search." + call + "\n</think>\n\nDone."
    for parser in (MINIMAX, APPEND):  # any tool parser reads calls in the reasoning; kimi_k2's here
        for sizes in (None, 1, 3):
            content, reasoning, calls = _pipeline(parser, "kimi_k2", text, sizes, prompt="]~b]ai\n<think>\n")
            assert [c[1:] for c in calls] == [("search", '{"q": "x"}')]
            if parser is MINIMAX:
                assert (reasoning, content) == ("Let me search.", "Done.")
            else:
                assert reasoning is None and content == "<think>Let me search.\n</think>\n\nDone."


# ---------------------------------------------------------------- DeepSeek V3.1


def test_deepseek_v3_thinks_only_when_switched_on():
    on = prompt_of("deepseek-ai-DeepSeek-V3.1.jinja", thinking=True)
    off = prompt_of("deepseek-ai-DeepSeek-V3.1.jinja")
    assert on.endswith("<｜Assistant｜><think>") and off.endswith("<｜Assistant｜></think>")
    text = "The user greets me.</think>Hello!"
    assert both_ways(DEEPSEEK, text, request=request(thinking=True), prompt=on) == ("The user greets me.", "Hello!")
    assert both_ways(DEEPSEEK, text, request=request(thinking=True)) == ("The user greets me.", "Hello!")
    # off (the default): everything is content, tags and all
    assert both_ways(DEEPSEEK, "Hello!", prompt=off) == (None, "Hello!")
    assert both_ways(DEEPSEEK, "<think>x</think>Hello!") == (None, "<think>x</think>Hello!")
    assert both_ways(DEEPSEEK, "<think>x</think>Hello!", request=request(thinking=False)) == (
        None, "<think>x</think>Hello!")
    assert DEEPSEEK().reasoning_region(request(), off) is None
    assert DEEPSEEK().reasoning_region(request(thinking=True), on).opened_in_prompt


# ---------------------------------------------------------------- properties

NOISE = ["<think>", "</think>", "◁think▷", "◁/think▷", "<", "/", "think", ">", "<th", "</thi", "◁", "a", " ", "\n", "é"]
PROMPTS = [None, "x<think>\n", "x<think></think>", "x"]
REQUESTS = [request(), request(thinking=False), request(thinking=True), request(enable_thinking=False)]


@settings(max_examples=200, deadline=None)
@given(parser=st.sampled_from(ALL), text=st.lists(st.sampled_from(NOISE), max_size=25).map("".join),
       prompt=st.sampled_from(PROMPTS), req=st.sampled_from(REQUESTS), seed=st.integers(0, 2**32))
def test_any_text_streams_exactly_like_the_whole(parser, text, prompt, req, seed):
    result = whole(parser, text, req, prompt)
    for sizes in (1, "random"):
        assert stream(parser, text, req, prompt, sizes, random.Random(seed)) == result
    kept = "".join(part or "" for part in result)
    tags = ("<think>", "</think>", "◁think▷", "◁/think▷")
    squeeze = lambda s: "".join(s.split())  # noqa: E731
    if parser is APPEND:
        assert squeeze(kept) in (squeeze(text), squeeze("<think>" + text))
    else:
        assert squeeze(_without(kept, tags)) == squeeze(_without(text, tags))


def _without(text: str, tags) -> str:
    """`text` with the tags removed, again until none is left (removing one may join another)."""
    while True:
        shorter = text
        for tag in tags:
            shorter = shorter.replace(tag, "")
        if shorter == text:
            return text
        text = shorter


def _pipeline(reasoning_class, tool_parser: str, text: str, sizes, prompt: str | None = None):
    """(content, reasoning, [(id, name, arguments)]) of the output pipeline, whole or streamed."""
    req = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=[
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("get_weather", "search")])
    pipeline = ChoiceOutputParser(req, reasoning_parser=reasoning_class(),
                                  tool_parser=ToolParserManager.get_tool_parser(tool_parser)(), prompt_text=prompt)
    if sizes is None:
        parsed = pipeline.parse_whole(text)
    else:
        accumulator = ChoiceAccumulator()
        for chunk in chunk_text(text, sizes):
            accumulator.add(pipeline.feed(chunk))
        accumulator.add(pipeline.finish())
        parsed = accumulator.result()
    calls = [(c.id, c.function.name, c.function.arguments) for c in parsed.tool_calls]
    return parsed.content, parsed.reasoning_content, calls
