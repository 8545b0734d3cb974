"""Property tests for the pythonic parser.

1. Generated replies (content around a list of 0-3 calls, nested literal arguments, unicode, escaped
   quotes, varied quoting and spacing, optional Llama 4 wrapper, whose end marker may be missing or
   cut off at the end of the output): the whole result is what the generator meant, and every
   chunking streams exactly the whole result.
2. Arbitrary text over an alphabet of the format's own characters (mostly malformed): no exception,
   and every chunking streams exactly the whole result.
"""

import json
import keyword
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.formats.streaming_harness import assert_stream_matches_whole, parse_whole
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.formats.families.pythonic.scanner import PythonicToolParser

TOOL_NAMES = ["get_weather", "search", "f", "calc_total", "send_email"]
REQUEST = ChatCompletionRequest(
    messages=[{"role": "user", "content": "hi"}],
    tools=[{"type": "function", "function": {"name": name}} for name in TOOL_NAMES],
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- values and their Python source

text_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
) | st.sampled_from(["it's", 'say "hi"', "back\\slash", "a, b)", "]) [(", "naïve ☃ 日本", "'''", '\\"'])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | text_values
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(text_values, inner, max_size=3),
    max_leaves=8,
)
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))


def python_source(value, rng: random.Random) -> str:
    """Python source for a value, with the quoting and spacing varied the way models vary it."""
    if isinstance(value, str):
        return string_source(value, rng)
    if isinstance(value, (list, tuple)):
        items = [python_source(v, rng) for v in value]
        sep = rng.choice([", ", ",", " , "])
        if isinstance(value, tuple):
            return "(" + sep.join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + sep.join(items) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{string_source(k, rng)}: {python_source(v, rng)}" for k, v in value.items()) + "}"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int) and value < 0 and rng.random() < 0.3:
        return f"- {-value}"
    return repr(value)


def string_source(s: str, rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 1:
        return json.dumps(s, ensure_ascii=False)  # double quotes; JSON's escapes are Python escapes
    if style == 2 and not any(c in s for c in "'\\\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        return "'''" + s + "'''" if not s.endswith("'") else repr(s)
    if style == 3 and len(s) > 1:  # implicit concatenation of two literals
        cut = len(s) // 2
        return repr(s[:cut]) + " " + repr(s[cut:])
    return repr(s)


@st.composite
def calls(draw):
    name = draw(st.sampled_from(TOOL_NAMES))
    keys = draw(st.lists(identifiers, max_size=3, unique=True))
    return name, {key: draw(values) for key in keys}


plain_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="[<\x00"), max_size=20
)


@st.composite
def replies(draw):
    """(text, intended content, intended calls as (name, arguments dict))."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    intended = draw(st.lists(calls(), min_size=0, max_size=3))
    before, after = draw(plain_text), draw(plain_text)
    if not intended:
        return before + after, before + after, []
    sources = []
    for name, arguments in intended:
        sep = rng.choice([", ", ",", ",\n  "])
        args = sep.join(f"{k}{rng.choice(['=', ' = '])}{python_source(v, rng)}" for k, v in arguments.items())
        sources.append(f"{name}({args})")
    listing = "[" + rng.choice([", ", ",", ",\n"]).join(sources) + "]"
    if draw(st.booleans()):
        end = "<|python_end|>"
        if not after and draw(st.booleans()):  # the output stops before or inside <|python_end|>
            end = end[: draw(st.integers(0, len(end) - 1))]
        listing = "<|python_start|>" + rng.choice(["", "\n"]) + listing + rng.choice(["", " "]) + end
    return before + listing + after, before + after, intended


def as_intended(calls_result):
    return [(name, json.loads(arguments)) for name, arguments in calls_result]


def jsonish(value):
    """What JSON makes of a Python value: tuples become lists."""
    return json.loads(json.dumps(value))


@SETTINGS
@given(replies(), st.integers(0, 2**32))
def test_generated_replies_parse_as_intended_in_every_chunking(reply, seed):
    text, content, intended = reply
    whole = parse_whole(PythonicToolParser, text, REQUEST)
    assert whole[0] == content
    assert as_intended(whole[1]) == [(name, jsonish(args)) for name, args in intended]
    for name, arguments in whole[1]:
        assert arguments == json.dumps(json.loads(arguments), ensure_ascii=False)  # canonical JSON text
    rng = random.Random(seed)
    for sizes in (1, "random", "random", "whole"):
        assert_stream_matches_whole(PythonicToolParser, text, REQUEST, sizes, rng)


NOISE = list("[](){},'\"=\\ \n_.-:#<|>") + ["f", "g", "x", "get_weather", "True", "None", "1", "-2.5", "'''"]
NOISE += ["<|python_start|>", "<|python_end|>", "f(", "a=", "search(q=", "'it\\'s'", ")]", "], ", "日本"]


@SETTINGS
@given(st.lists(st.sampled_from(NOISE), max_size=40).map("".join), st.integers(0, 2**32))
def test_arbitrary_text_streams_exactly_like_the_whole(text, seed):
    rng = random.Random(seed)
    for request in (REQUEST, ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}])):
        content, found = parse_whole(PythonicToolParser, text, request)
        for name, arguments in found:
            assert isinstance(json.loads(arguments), dict)
            assert request.tools is None or name in TOOL_NAMES
        if not found:
            assert content == text  # nothing found: the text is untouched
        for sizes in (1, "random", "whole"):
            assert_stream_matches_whole(PythonicToolParser, text, request, sizes, rng)
