"""ToolChoiceFilter: named / single-call rules, renumbering, and the end of a reply at a repeated call,
the same however the parser split the calls into deltas."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from toolwire.protocol.tool_calls import DeltaFunctionCall, DeltaToolCall
from toolwire.chat.tool_choice import ToolChoiceFilter

CITY = '{"city": "Paris"}'
OTHER_CITY = '{"city": "Parma"}'


def deltas(index: int, name: str, arguments: str, cuts: list[int]) -> list[DeltaToolCall]:
    """One call as a parser streams it: the header, then the arguments split at `cuts`."""
    points = sorted({c for c in cuts if 0 < c < len(arguments)})
    pieces = [arguments[a:b] for a, b in zip([0, *points], [*points, len(arguments)])]
    out = [DeltaToolCall(index=index, id=f"call_{index}", type="function",
                         function=DeltaFunctionCall(name=name, arguments=""))]
    out += [DeltaToolCall(index=index, function=DeltaFunctionCall(arguments=p)) for p in pieces]
    return out


def run(filter_: ToolChoiceFilter, stream: list[DeltaToolCall]) -> dict[int, tuple[str, str]]:
    """Feeds one delta at a time, then flushes; returns index -> (name, joined arguments)."""
    calls: dict[int, list[str]] = {}
    out = [c for d in stream for c in filter_([d])] + filter_.flush()
    for call in out:
        entry = calls.setdefault(call.index, ["", ""])
        entry[0] += call.function.name or ""
        entry[1] += call.function.arguments or ""
    return {i: (n, a) for i, (n, a) in calls.items()}


def test_named_choice_keeps_that_function_renumbered():
    f = ToolChoiceFilter(named="weather", parallel=True)
    stream = deltas(0, "time", "{}", []) + deltas(1, "weather", CITY, [3])
    assert run(f, stream) == {0: ("weather", CITY)}
    assert f.kept == 1 and not f.repeated


def test_single_call_keeps_the_first():
    f = ToolChoiceFilter(named=None, parallel=False)
    stream = deltas(0, "weather", CITY, []) + deltas(1, "time", "{}", [])
    assert run(f, stream) == {0: ("weather", CITY)}


def test_a_word_for_word_repeat_ends_the_reply_and_is_dropped():
    f = ToolChoiceFilter(named=None, parallel=True)
    stream = deltas(0, "weather", CITY, [5]) + deltas(1, "weather", CITY, [2, 9]) + deltas(2, "time", "{}", [])
    assert run(f, stream) == {0: ("weather", CITY)}
    assert f.repeated and f.kept == 1


def test_same_function_other_arguments_is_released_whole():
    f = ToolChoiceFilter(named=None, parallel=True)
    stream = deltas(0, "weather", CITY, []) + deltas(1, "weather", OTHER_CITY, [4, 12])
    out = [c for d in stream for c in f([d])]
    # The second call was held while it matched the first ('{"city": "Par'), then sent as one delta.
    assert [(c.index, c.id) for c in out if c.index == 1] == [(1, "call_1")]
    assert run(ToolChoiceFilter(None, True), stream) == {0: ("weather", CITY), 1: ("weather", OTHER_CITY)}
    assert not f.repeated


def test_a_held_call_cut_short_is_released_at_the_end():
    f = ToolChoiceFilter(named=None, parallel=True)
    stream = deltas(0, "weather", CITY, []) + deltas(1, "weather", CITY[:6], [])
    assert run(f, stream) == {0: ("weather", CITY), 1: ("weather", CITY[:6])}
    assert not f.repeated


calls_strategy = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([CITY, OTHER_CITY, "{}"])),
                          min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(calls=calls_strategy, cuts=st.lists(st.integers(0, 20), max_size=4), parallel=st.booleans())
def test_result_does_not_depend_on_how_deltas_are_split(calls, cuts, parallel):
    split = [d for i, (name, args) in enumerate(calls) for d in deltas(i, name, args, cuts)]
    whole = [d for i, (name, args) in enumerate(calls) for d in deltas(i, name, args, [])]
    first, second = ToolChoiceFilter(None, parallel), ToolChoiceFilter(None, parallel)
    assert run(first, split) == run(second, whole)
    assert first.repeated == second.repeated
    # What is kept: calls up to (not including) the first word-for-word repeat.
    expected, seen = [], set()
    for call in calls if parallel else calls[:1]:
        if call in seen:
            break
        seen.add(call)
        expected.append(call)
    assert list(run(ToolChoiceFilter(None, parallel), whole).values()) == expected
