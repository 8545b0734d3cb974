"""Text, stop rules and constraints end to end, on ScriptedLM (it writes a fixed script)."""

import pytest

from toolwire.engine import SamplingParams
from toolwire.engine.constraint import set_allowed
from tests.engine.conftest import make_engine
from tests.engine.toy_models import EOS_ID, scripted_loaded_model, toy_tokenizer

PROMPT_TEXT = "User: say something"


def scripted_engine(reply: str, **config):
    """An engine whose model answers PROMPT_TEXT with reply, then EOS."""
    tokenizer = toy_tokenizer()
    prompt = tokenizer.encode(PROMPT_TEXT)
    script = prompt + tokenizer.encode(reply)
    return make_engine(scripted_loaded_model(script), **config), prompt


def run(reply, params, **config):
    engine, prompt = scripted_engine(reply, **config)
    outputs = []
    engine.add_request("r", prompt, params)
    while engine.has_unfinished_requests():
        outputs += engine.step()
    return outputs


def test_plain_reply_ends_at_eos_with_stop():
    outputs = run(" Hello world!", SamplingParams(max_tokens=50))
    assert "".join(o.new_text for o in outputs) == outputs[-1].text == " Hello world!"
    assert outputs[-1].finish_reason == "stop" and outputs[-1].stop_reason is None
    assert outputs[-1].new_token_ids == [EOS_ID]
    assert [o.num_completion_tokens for o in outputs] == list(range(1, len(outputs) + 1))
    assert all(o.num_prompt_tokens == len(toy_tokenizer().encode(PROMPT_TEXT)) for o in outputs)


@pytest.mark.parametrize("stop", ["STOP", "d! ST", "o", " w"])
def test_stop_strings_never_leak_even_across_tokens(stop):
    reply = " Hello world! STOP here, more text."
    outputs = run(reply, SamplingParams(max_tokens=50, stop=[stop, "never"]))
    text = outputs[-1].text
    assert text == reply[:reply.index(stop)]
    assert "".join(o.new_text for o in outputs) == text
    assert all(stop not in o.text for o in outputs)
    assert outputs[-1].finish_reason == "stop" and outputs[-1].stop_reason == stop


def test_stop_string_included_when_asked():
    outputs = run(" Hello world! STOP here", SamplingParams(stop=["STOP"], include_stop_str_in_output=True))
    assert outputs[-1].text == " Hello world! STOP"


def test_held_back_prefix_is_flushed_when_the_reply_ends():
    outputs = run(" Hello ST", SamplingParams(stop=["STOP"]))
    assert outputs[-1].text == " Hello ST" and outputs[-1].finish_reason == "stop"
    assert "".join(o.new_text for o in outputs) == " Hello ST"


def test_max_tokens_ends_with_length():
    outputs = run(" Hello world! The quick brown fox.", SamplingParams(max_tokens=3))
    assert len(outputs) == 3 and outputs[-1].finish_reason == "length"
    assert outputs[-1].num_completion_tokens == 3


def test_min_tokens_suppresses_eos():
    reply = " Hi"
    n = len(toy_tokenizer().encode(reply))
    outputs = run(reply, SamplingParams(min_tokens=n + 4, max_tokens=50))
    tokens = [t for o in outputs for t in o.new_token_ids]
    assert EOS_ID not in tokens[:n + 4] and tokens[-1] == EOS_ID
    assert len(tokens) == n + 5 and outputs[-1].finish_reason == "stop"


def test_ignore_eos_runs_to_max_tokens():
    outputs = run(" Hi", SamplingParams(ignore_eos=True, max_tokens=10))
    assert len(outputs) == 10 and outputs[-1].finish_reason == "length"


def test_stop_token_ids_are_reported():
    tokenizer = toy_tokenizer()
    reply = " Hello world! The end."
    stop_token = tokenizer.encode(reply)[3]
    outputs = run(reply, SamplingParams(stop_token_ids=[stop_token]))
    assert outputs[-1].new_token_ids == [stop_token]
    assert outputs[-1].finish_reason == "stop" and outputs[-1].stop_reason == stop_token
    assert outputs[-1].text == tokenizer.decode(tokenizer.encode(reply)[:3])


class FixedTokens:
    """A hand-written constraint: only this exact token sequence may be produced."""

    def __init__(self, tokens):
        self.tokens = list(tokens)
        self.position = 0

    def fill_bitmask(self, bitmask_row):
        set_allowed(bitmask_row, [self.tokens[self.position]])

    def accept_token(self, token_id):
        if self.position >= len(self.tokens) or token_id != self.tokens[self.position]:
            return False
        self.position += 1
        return True

    def is_terminated(self):
        return self.position == len(self.tokens)


def test_constraint_forces_its_tokens_and_stops(toy):
    tokenizer = toy_tokenizer()
    forced = tokenizer.encode('{"a": 1}')
    engine = make_engine(toy)
    params = SamplingParams(n=2, temperature=1.0, max_tokens=50, ignore_eos=True,
                            constraint_factory=lambda: FixedTokens(forced))
    unconstrained = SamplingParams(temperature=1.0, max_tokens=5, ignore_eos=True)
    results = engine.generate([[1, 2, 3], [4, 5]], [params, unconstrained])
    for choice in results[0]:
        assert choice.token_ids == forced
        assert choice.text == '{"a": 1}' and choice.finish_reason == "stop"
    assert results[1][0].finish_reason == "length"


def test_constraint_covers_tokens_above_bit_31(toy):
    """Token ids whose bit is the sign bit of an int32 word must work too."""
    forced = [31, 63, 95, 399]
    engine = make_engine(toy)
    params = SamplingParams(temperature=0, max_tokens=50, constraint_factory=lambda: FixedTokens(forced))
    assert engine.generate([[1, 2]], params)[0][0].token_ids == forced
