"""The `<think>` reasoning parsers: examples and properties, whole and streamed."""

import random
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.streaming_harness import chunk_text
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.formats.families.think import DeepSeekR1ReasoningParser, Qwen3ReasoningParser
from toolwire.formats.reasoning import ReasoningParser
from toolwire.formats.registry import ReasoningParserManager

PLAIN = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}])
NO_THINKING = ChatCompletionRequest(
    messages=[{"role": "user", "content": "hi"}], chat_template_kwargs={"enable_thinking": False}
)
OPEN_PROMPT = "<|im_start|>assistant\n<think>\n"  # the template opened the reasoning
CLOSED_PROMPT = "<|im_start|>assistant\n<think>\n\n</think>\n\n"  # Qwen3's enable_thinking=false prompt
NEUTRAL_PROMPT = "<|im_start|>assistant\n"


def stream(parser_class, text, request=PLAIN, prompt=None, sizes=1, rng=None):
    """(reasoning, content) joined from the streamed deltas, None for an empty field."""
    parser = parser_class()
    parser.begin(request, prompt)
    reasoning, content, deltas, previous = [], [], [], ""
    for chunk in chunk_text(text, sizes, rng):
        deltas.append(parser.extract_reasoning_content_streaming(previous, previous + chunk, chunk, [], [], [], request))
        previous += chunk
    deltas.append(parser.finish_streaming(text, request))
    for delta in deltas:
        if delta is not None:
            assert delta.role is None and not delta.tool_calls
            reasoning.append(delta.reasoning_content or "")
            content.append(delta.content or "")
    return "".join(reasoning) or None, "".join(content) or None


def whole(parser_class, text, request=PLAIN, prompt=None):
    parser = parser_class()
    parser.begin(request, prompt)
    return parser.extract_reasoning_content(text, request)


def both_ways(parser_class, text, request=PLAIN, prompt=None):
    result = whole(parser_class, text, request, prompt)
    for sizes in (1, 2, 3, "random", "whole"):
        assert stream(parser_class, text, request, prompt, sizes) == result, sizes
    return result


R1, QWEN3 = DeepSeekR1ReasoningParser, Qwen3ReasoningParser


def test_registered_names():
    assert ReasoningParserManager.get_reasoning_parser("deepseek_r1") is R1
    assert ReasoningParserManager.get_reasoning_parser("qwen3") is QWEN3
    assert {"deepseek_r1", "qwen3"} <= set(ReasoningParserManager.names())
    with pytest.raises(KeyError, match="known reasoning parsers"):
        ReasoningParserManager.get_reasoning_parser("nope")


@pytest.mark.parametrize("family", [R1, QWEN3])
def test_opening_tag_in_the_output(family):
    text = "<think>\nThe user wants 2+2.\n</think>\n\nIt is 4."
    assert both_ways(family, text) == ("The user wants 2+2.", "It is 4.")
    assert both_ways(family, text, prompt=NEUTRAL_PROMPT) == ("The user wants 2+2.", "It is 4.")


@pytest.mark.parametrize("family", [R1, QWEN3])
def test_opening_tag_in_the_prompt(family):
    text = "The user wants 2+2.\n</think>\n\nIt is 4."
    assert both_ways(family, text, prompt=OPEN_PROMPT) == ("The user wants 2+2.", "It is 4.")


def test_deepseek_r1_assumes_reasoning_without_an_opening_tag():
    assert both_ways(R1, "Hmm, 2+2.\n</think>\n\nIt is 4.") == ("Hmm, 2+2.", "It is 4.")
    # No end tag at all: the whole output is reasoning (it was cut off while thinking).
    assert both_ways(R1, "Still thinking about 2+2") == ("Still thinking about 2+2", None)


def test_deepseek_r1_with_thinking_switched_off_or_a_closed_prompt():
    assert both_ways(R1, "It is 4.", request=NO_THINKING) == (None, "It is 4.")
    assert both_ways(R1, "It is 4.", prompt=CLOSED_PROMPT) == (None, "It is 4.")
    thinking_false = PLAIN.model_copy(update={"chat_template_kwargs": {"thinking": False}})
    assert both_ways(R1, "It is 4.", request=thinking_false) == (None, "It is 4.")


def test_qwen3_enable_thinking_false_has_no_reasoning():
    assert both_ways(QWEN3, "It is 4.", request=NO_THINKING) == (None, "It is 4.")
    assert both_ways(QWEN3, "It is 4.", request=NO_THINKING, prompt=CLOSED_PROMPT) == (None, "It is 4.")
    # Even a stray end tag is then just text.
    assert both_ways(QWEN3, "a </think> b", request=NO_THINKING) == (None, "a </think> b")


def test_qwen3_reasoning_only_if_the_output_contains_the_end_tag():
    # Prompt unknown: decided by the output.
    assert both_ways(QWEN3, "It is 4.") == (None, "It is 4.")
    assert both_ways(QWEN3, "Hmm.\n</think>\n\nIt is 4.") == ("Hmm.", "It is 4.")
    # Prompt known and not open: content, streamed at once.
    assert both_ways(QWEN3, "It is 4.", prompt=NEUTRAL_PROMPT) == (None, "It is 4.")


def test_qwen3_without_a_prompt_holds_the_text_until_decided():
    parser = QWEN3()
    parser.begin(PLAIN, None)
    assert parser.extract_reasoning_content_streaming("", "Hmm", "Hmm", [], [], [], PLAIN) is None
    delta = parser.extract_reasoning_content_streaming("Hmm", "Hmm.</think>Four.", ".</think>Four.", [], [], [], PLAIN)
    assert (delta.reasoning_content, delta.content) == ("Hmm.", "Four.")
    # With the prompt known, content streams at once.
    parser = QWEN3()
    parser.begin(PLAIN, NEUTRAL_PROMPT)
    assert parser.extract_reasoning_content_streaming("", "It", "It", [], [], [], PLAIN).content == "It"


def test_partial_end_tag_is_held_back_at_a_chunk_boundary():
    parser = R1()
    parser.begin(PLAIN, OPEN_PROMPT)
    first = parser.extract_reasoning_content_streaming("", "So 4</thi", "So 4</thi", [], [], [], PLAIN)
    assert (first.reasoning_content, first.content) == ("So 4", None)
    second = parser.extract_reasoning_content_streaming("So 4</thi", "So 4</think>It", "nk>It", [], [], [], PLAIN)
    assert (second.reasoning_content, second.content) == (None, "It")


def test_partial_end_tag_is_text_when_the_output_ends():
    assert both_ways(R1, "So 4</thi") == ("So 4</thi", None)
    assert both_ways(QWEN3, "<think>So 4</thi") == ("So 4</thi", None)
    assert both_ways(QWEN3, "<thi", prompt=NEUTRAL_PROMPT) == (None, "<thi")
    assert both_ways(QWEN3, "x </think", prompt=NEUTRAL_PROMPT) == (None, "x </think")


def test_partial_start_tag_is_held_back():
    parser = QWEN3()
    parser.begin(PLAIN, NEUTRAL_PROMPT)
    assert parser.extract_reasoning_content_streaming("", "<thi", "<thi", [], [], [], PLAIN) is None
    delta = parser.extract_reasoning_content_streaming("<thi", "<think>Hm", "nk>Hm", [], [], [], PLAIN)
    assert (delta.reasoning_content, delta.content) == ("Hm", None)


def test_whitespace_rules():
    # Reasoning is trimmed; whitespace right after </think> separates; whitespace-only reasoning is none.
    assert both_ways(R1, "<think>\n\n</think>\n\nHi  \n") == (None, "Hi  \n")
    assert both_ways(R1, "  \n  ") == (None, None)
    assert both_ways(R1, "a \n b\n</think>") == ("a \n b", None)
    # Content of a reply without reasoning is untouched.
    assert both_ways(QWEN3, "\n  Hi\n", prompt=NEUTRAL_PROMPT) == (None, "\n  Hi\n")


def test_an_opening_tag_later_in_the_output_is_text():
    assert both_ways(QWEN3, "I like <think> tags", prompt=NEUTRAL_PROMPT) == (None, "I like <think> tags")
    assert both_ways(R1, "a <think> b </think> c") == ("a <think> b", "c")


def test_is_reasoning_end_uses_the_tokenizer():
    class Tokenizer:
        vocab = {"</think>": 7, "<unk>": 0}

        def convert_tokens_to_ids(self, token):
            return self.vocab.get(token, 0)

        def convert_ids_to_tokens(self, token_id):
            return {v: k for k, v in self.vocab.items()}[token_id]

    parser = R1(Tokenizer())
    assert not parser.is_reasoning_end([1, 2, 3])
    assert parser.is_reasoning_end([1, 7, 3])
    assert not R1().is_reasoning_end([7])  # no tokenizer: cannot tell from ids


def test_plugin_registration(tmp_path):
    plugin = tmp_path / "my_reasoning.py"
    plugin.write_text(
        textwrap.dedent(
            """
            from toolwire.plugins import ReasoningParser, ReasoningParserManager

            @ReasoningParserManager.register_module(["shouty"])
            class Shouty(ReasoningParser):
                def extract_reasoning_content(self, model_output, request):
                    return None, model_output.upper()
            """
        )
    )
    ReasoningParserManager.import_reasoning_parser(plugin)
    parser_class = ReasoningParserManager.get_reasoning_parser("shouty")
    assert issubclass(parser_class, ReasoningParser)
    assert parser_class().extract_reasoning_content("hi", PLAIN) == (None, "HI")
    ReasoningParserManager.reasoning_parsers.pop("shouty")


# ---------------------------------------------------------------- properties

body = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<"), max_size=30
)


@settings(max_examples=200, deadline=None)
@given(
    family=st.sampled_from([R1, QWEN3]),
    reasoning=body,
    content=body,
    tag_in_output=st.booleans(),
    ws=st.sampled_from(["", "\n", "\n\n", " "]),
    seed=st.integers(0, 2**32),
)
def test_generated_replies_split_as_intended_in_every_chunking(family, reasoning, content, tag_in_output, ws, seed):
    text = ("<think>" if tag_in_output else "") + ws + reasoning + ws + "</think>" + ws + content
    prompt = NEUTRAL_PROMPT if tag_in_output else OPEN_PROMPT
    intended = (reasoning.strip() or None, content.lstrip() or None)
    assert whole(family, text, prompt=prompt) == intended
    rng = random.Random(seed)
    for sizes in (1, "random", "whole"):
        assert stream(family, text, prompt=prompt, sizes=sizes, rng=rng) == intended


NOISE = ["<think>", "</think>", "<", "/", "think", ">", "<th", "</thi", "a", "b", " ", "\n", "é"]


@settings(max_examples=200, deadline=None)
@given(
    family=st.sampled_from([R1, QWEN3]),
    text=st.lists(st.sampled_from(NOISE), max_size=25).map("".join),
    prompt=st.sampled_from([None, OPEN_PROMPT, CLOSED_PROMPT, NEUTRAL_PROMPT]),
    request=st.sampled_from([PLAIN, NO_THINKING]),
    seed=st.integers(0, 2**32),
)
def test_arbitrary_text_streams_exactly_like_the_whole(family, text, prompt, request, seed):
    result = whole(family, text, request, prompt)
    rng = random.Random(seed)
    for sizes in (1, "random"):
        assert stream(family, text, request, prompt, sizes, rng) == result
    # Nothing is lost but tags and whitespace.
    kept = "".join(part or "" for part in result)
    squeeze = lambda s: "".join(s.replace("<think>", "").replace("</think>", "").split())  # noqa: E731
    assert squeeze(kept) == squeeze(text)
