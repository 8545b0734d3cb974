"""RepetitionGuard: a constrained reply that loops inside a value is steered out of the loop; values
that merely repeat a little are left alone."""

from __future__ import annotations

import pytest
import xgrammar as xgr

from tests.guided.helpers import allowed_ids
from toolwire.guided import GrammarCache, GuidedDecoding, RepetitionGuard, Tool, ToolCallsSpec

GUARD = RepetitionGuard(max_period=12, min_repeats=4, min_span=16)
NOTE = Tool("take_note", {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})


@pytest.mark.parametrize("history,expected", [
    ([7] * 16, 7),                              # one token over and over
    ([1, 2] * 8, 1),                            # period 2, 16 tokens
    ([9, 9, 9] + [4, 5, 6] * 6, 4),             # period 3, after other tokens
    (list(range(12)) * 4, 0),                   # the longest period, 4 times
    ([7] * 15, None),                           # not yet 16 tokens
    ([1, 2, 3] * 5, None),                      # period 3 needs 16 tokens: 15 are not enough
    (list(range(13)) * 5, None),                # a period longer than 12
    ([1, 2] * 7 + [1, 3], None),                # broken at the end
    ([], None),
])
def test_looping_token(history, expected):
    assert GUARD.looping_token(history) == expected


@pytest.fixture(scope="module")
def services(guided):
    with_guard = GuidedDecoding(guided.backend, cache=GrammarCache(), repetition_guard=GUARD)
    without = GuidedDecoding(guided.backend, cache=GrammarCache(), repetition_guard=None)
    yield with_guard, without
    with_guard.shutdown()
    without.shutdown()


def looping_constraints(services, tokenizer):
    """A take_note call whose text has gone `police_police_...` for a while, with and without a guard."""
    spec = ToolCallsSpec(format="hermes", tools=(NOTE,), mode="required")
    prefix = tokenizer.encode('<tool_call>\n{"name": "take_note", "arguments": {"text": "', add_special_tokens=False)
    loop = tokenizer.encode("police_" * 12, add_special_tokens=False)
    constraints = [service.compile(spec)() for service in services]
    for constraint in constraints:
        assert all(constraint.accept_token(t) for t in prefix + loop)
    next_token = GUARD.looping_token(prefix + loop)
    assert next_token is not None and tokenizer.decode([next_token]) in "police_"
    return constraints, next_token


def test_the_loops_next_token_is_disallowed_and_nothing_else(services, tokenizer, vocab):
    (guarded, free), next_token = looping_constraints(services, tokenizer)
    masks = xgr.allocate_token_bitmask(2, vocab.size)
    guarded.fill_bitmask(masks[0])
    free.fill_bitmask(masks[1])
    allowed_guarded, allowed_free = set(allowed_ids(masks[0], vocab.size)), set(allowed_ids(masks[1], vocab.size))
    assert allowed_free - allowed_guarded == {next_token}
    assert tokenizer.encode('"', add_special_tokens=False)[0] in allowed_guarded  # the string may close
