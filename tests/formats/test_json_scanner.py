import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.formats.generated_replies import json_values, tricky_text
from toolwire.formats.json_scanner import JsonScanner, apply_fixes, object_text_in_json_string


def scan(text: str, chunk_sizes) -> JsonScanner:
    """Feed text in chunks until the value completes or breaks; then end the text."""
    scanner, at = JsonScanner(0), 0
    while at < len(text):
        size = chunk_sizes() if callable(chunk_sizes) else chunk_sizes
        chunk = text[at : at + size]
        scanner.feed(chunk, 0, at)
        if scanner.done or scanner.failed:
            return scanner
        at += len(chunk)
    scanner.finish()
    return scanner


def closed_prefix(text: str, scanner: JsonScanner) -> str:
    return apply_fixes(text[: scanner.safe], 0, scanner.fixes)[0] + scanner.closer()


@pytest.mark.parametrize(
    "text",
    ['{"a": 1, "b": [1, 2.5e-3, {"c": "x\\"y}"}], "d": null, "e": true}', "[]", "{}", '"a\\u00e9"', "-0.5", "0"],
)
def test_complete_values(text):
    for size in (1, 2, 7, 1000):
        scanner = scan(text, size)
        assert scanner.done and scanner.end == len(text)


@pytest.mark.parametrize(
    "text, error_at",
    [('{"a":01}', 6), ('{"a": tru}', 9), ('{"a" 1}', 5), ("[1,]", 3), ('{"a": "\\x"}', 8), ("{,}", 1), ("1.e5", 2)],
)
def test_invalid_values_fail_at_the_offending_character(text, error_at):
    for size in (1, 3, 1000):
        scanner = scan(text, size)
        assert scanner.failed and scanner.error == error_at


def test_value_ends_before_trailing_text():
    scanner = scan('{"a": 1} and more', 1000)
    assert scanner.done and scanner.end == 8


def test_raw_control_characters_and_quote_escapes_are_fixed():
    text = '{"a": "line\nbreak\tand it\\\'s"}'
    scanner = scan(text, 3)
    assert scanner.done
    fixed, _ = apply_fixes(text, 0, scanner.fixes)
    assert json.loads(fixed) == {"a": "line\nbreak\tand it's"}


@pytest.mark.parametrize(
    "prefix, closed",
    [
        ('{"a": [1, {"b": "hel', '{"a": [1, {"b": "hel"}]}'),
        ('{"a": [1, {"b": "hello"}, 2', '{"a": [1, {"b": "hello"}, 2]}'),  # a number at the end of the text
        ('{"a": [1, {"b": "hello"}, ', '{"a": [1, {"b": "hello"}]}'),
        ('{"a": "x\\u00', '{"a": "x"}'),
        ('{"a": 1, "b', '{"a": 1}'),
        ('{"a": 1.', '{}'),
        ('{"a": tr', '{}'),
    ],
)
def test_closing_a_cut_value(prefix, closed):
    for size in (1, 2, 1000):
        assert closed_prefix(prefix, scan(prefix, size)) == closed


@settings(max_examples=150, deadline=None)
@given(value=st.dictionaries(tricky_text, json_values, max_size=4), data=st.data())
def test_cut_or_broken_values_close_the_same_under_any_chunking(value, data):
    text = json.dumps(value, ensure_ascii=data.draw(st.booleans()))
    cut = data.draw(st.integers(1, len(text)))
    text = text[:cut] + data.draw(st.sampled_from(["", "x", "\\q", "}", "]]", ", ,"]))
    seed = data.draw(st.integers(0, 1000))
    rng = random.Random(seed)
    results = {closed_prefix(text, scan(text, size)) for size in (1, 2, 5, len(text))}
    results.add(closed_prefix(text, scan(text, lambda: rng.randint(1, 16))))
    assert len(results) == 1
    closed = results.pop()
    assert isinstance(json.loads(closed), dict)


def test_arguments_written_as_a_json_string():
    assert object_text_in_json_string('"{\\"a\\": 1}"') == '{"a": 1}'
    assert object_text_in_json_string('" {\\"a\\": 1} "') == '{"a": 1}'
    assert object_text_in_json_string('"[1, 2]"') is None
    assert object_text_in_json_string('"hello"') is None
    # a raw newline inside the inner object's string: re-encoded so that the arguments parse
    assert object_text_in_json_string('"{\\"a\\": \\"x\\ny\\"}"') == '{"a": "x\\ny"}'
