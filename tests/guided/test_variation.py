"""Loops with variation are steered to close (guided/variation.py); legitimate repetition is left alone."""

from __future__ import annotations

import pytest
import xgrammar as xgr

from tests.guided.helpers import allowed_ids
from toolwire.guided import JsonSpec, RepetitionGuard
from toolwire.guided.variation import is_variant

LIST = {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}},
                                          "counts": {"type": "array", "items": {"type": "integer"}},
                                          "note": {"type": "string"}}}


@pytest.mark.parametrize("item, before", [("restaurant_name_id", "restaurant_name"), ("E.g.", "e.g."),
                                          ("Eg.", "E.g."), ("paris ", "Paris")])
def test_variants(item, before):
    assert is_variant(item, before)


@pytest.mark.parametrize("item, before", [("Paris", "Paris"), ("2024-01-02", "2024-01-01"), ("file2", "file1"),
                                          ("Lyon", "Paris"), ("na", "name")])
def test_not_variants(item, before):
    assert not is_variant(item, before)


def fed(guided, tokenizer, text: str):
    constraint = guided.compile(JsonSpec(schema=LIST))()
    for token_id in tokenizer.encode(text, add_special_tokens=False):
        assert constraint.accept_token(token_id), text
    return constraint


def allowed_texts(constraint, tokenizer) -> list[str]:
    bitmask = xgr.allocate_token_bitmask(1, len(tokenizer))
    constraint.fill_bitmask(bitmask[0])
    return [tokenizer.decode([i]) for i in allowed_ids(bitmask[0], len(tokenizer))]


def test_an_array_of_growing_variants_may_only_close(guided, tokenizer):
    constraint = fed(guided, tokenizer, '{"names": ["restaurant", "restaurant_name", "restaurant_name_id", '
                                        '"restaurant_name_id_id", "restaurant_name_id_id_id"')
    allowed = allowed_texts(constraint, tokenizer)
    assert allowed and not any("," in text for text in allowed)
    assert any("]" in text for text in allowed)


def test_inside_the_next_variant_the_string_may_end_but_not_with_a_separator(guided, tokenizer):
    constraint = fed(guided, tokenizer, '{"names": ["e.g.", "E.g.", "Eg.", "eg", "EG')
    allowed = allowed_texts(constraint, tokenizer)
    assert any(text.startswith('"') for text in allowed)
    assert not any(text.startswith('",') for text in allowed)


@pytest.mark.parametrize("prefix", [
    '{"counts": [' + ", ".join(["7"] * 20),  # twenty equal numbers, as asked
    '{"names": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"',  # a sequence, not a loop
    '{"names": ["Paris", "Lyon", "Paris", "Lyon"',
])
def test_legitimate_repetition_may_go_on(guided, tokenizer, prefix):
    allowed = allowed_texts(fed(guided, tokenizer, prefix), tokenizer)
    assert any("," in text for text in allowed), prefix


def test_the_same_object_again_and_again_closes_its_array(guided, tokenizer):
    item = '{"city": "SANTORA", "nights": 2}'
    schema = {"type": "array", "items": {"type": "object"}}
    constraint = guided.compile(JsonSpec(schema=schema))()
    for token_id in tokenizer.encode("[" + ", ".join([item] * 5), add_special_tokens=False):
        assert constraint.accept_token(token_id)
    allowed = allowed_texts(constraint, tokenizer)
    assert allowed and not any("," in text for text in allowed)


def test_a_restarted_sentence_ends_its_string(guided, tokenizer):
    note = ("Find the weather in the city for today. Find the weather for the city for today. "
            "Find the weather of the city for today.")
    allowed = allowed_texts(fed(guided, tokenizer, '{"note": "' + note), tokenizer)
    assert allowed and all('"' in text for text in allowed)


def test_different_sentences_go_on(guided, tokenizer):
    note = "Book a table for two. Ask for a window seat. Pay by card at the restaurant."
    allowed = allowed_texts(fed(guided, tokenizer, '{"note": "' + note), tokenizer)
    assert any('"' not in text for text in allowed)


def test_the_exact_guard_leaves_a_run_of_equal_numbers_alone(tokenizer):
    unit = tokenizer.encode(", 7", add_special_tokens=False)
    history = tokenizer.encode("[7", add_special_tokens=False) + unit * 20
    text_of = lambda token_id: tokenizer.decode([token_id])  # noqa: E731
    assert RepetitionGuard().looping_token(history, text_of) is None
    words = tokenizer.encode(' "ab"', add_special_tokens=False) + tokenizer.encode(",", add_special_tokens=False)
    assert RepetitionGuard().looping_token(words * 20, text_of) is not None
