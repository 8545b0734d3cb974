import json

from tests.formats.format_checks import parse, stream_deltas

WEATHER = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'


def test_formats_md_example():
    assert parse("hermes", f"<tool_call>\n{WEATHER}\n</tool_call>") == (
        "",
        [("get_weather", '{"city": "Paris", "unit": "celsius"}')],
    )


def test_qwen25_is_the_same_format():
    assert parse("qwen25", f"<tool_call>\n{WEATHER}\n</tool_call>") == parse(
        "hermes", f"<tool_call>\n{WEATHER}\n</tool_call>"
    )


def test_content_before_and_two_calls():
    text = (
        "Let me check both.\n\n"
        f"<tool_call>\n{WEATHER}\n</tool_call>\n"
        '<tool_call>\n{"name": "search", "arguments": {"q": "Paris events"}}\n</tool_call>'
    )
    content, calls = parse("hermes", text)
    assert content == "Let me check both.\n\n"
    assert calls == [
        ("get_weather", '{"city": "Paris", "unit": "celsius"}'),
        ("search", '{"q": "Paris events"}'),
    ]


def test_text_between_and_after_calls_is_content():
    text = f"A<tool_call>{WEATHER}</tool_call>B<tool_call>{WEATHER}</tool_call> C"
    content, calls = parse("hermes", text)
    assert content == "AB C"
    assert len(calls) == 2


def test_parameters_alias():
    text = '<tool_call>{"name": "search", "parameters": {"q": "x"}}</tool_call>'
    assert parse("hermes", text) == ("", [("search", '{"q": "x"}')])


def test_arguments_as_json_encoded_string_are_decoded_once():
    text = '<tool_call>{"name": "search", "arguments": "{\\"q\\": \\"a \\\\\\"b\\\\\\"\\"}"}</tool_call>'
    content, calls = parse("hermes", text)
    assert calls == [("search", '{"q": "a \\"b\\""}')]
    assert json.loads(calls[0][1]) == {"q": 'a "b"'}


def test_arguments_before_name():
    text = '<tool_call>{"arguments": {"q": "x"}, "name": "search"}</tool_call>'
    assert parse("hermes", text) == ("", [("search", '{"q": "x"}')])


def test_missing_or_null_arguments_are_an_empty_object():
    text = '<tool_call>{"name": "search"}</tool_call><tool_call>{"name": "search", "arguments": null}</tool_call>'
    assert parse("hermes", text) == ("", [("search", "{}"), ("search", "{}")])


def test_tool_not_offered_stays_content():
    text = f'Hi <tool_call>{{"name": "rm_rf", "arguments": {{}}}}</tool_call> and <tool_call>{WEATHER}</tool_call>'
    content, calls = parse("hermes", text)
    assert content == 'Hi <tool_call>{"name": "rm_rf", "arguments": {}}</tool_call> and '
    assert [name for name, _ in calls] == ["get_weather"]


def test_any_name_is_accepted_when_the_request_offers_no_tools():
    text = '<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>'
    assert parse("hermes", text, tools=()) == ("", [("rm_rf", "{}")])


def test_broken_block_stays_content():
    for text in [
        "<tool_call>not json</tool_call>",
        '<tool_call>{"name" "search"}</tool_call>',
        '<tool_call>{"arguments": {"q": 1}, "nam": "search"}</tool_call>',
        '<tool_call>{"arguments": {"q": tru}, "name": "search"}</tool_call>',
        '<tool_call>{"name": 42}</tool_call>',
        "<tool_call>",
    ]:
        assert parse("hermes", "x " + text) == ("x " + text, []), text


def test_markup_looking_content_is_untouched():
    text = "Use <b>bold</b>, note a < b and {braces} [brackets] <tool_ or </tool_call> alone."
    assert parse("hermes", text) == (text, [])


def test_end_marker_and_braces_inside_strings():
    arguments = '{"code": "print(\\"</tool_call>\\") if a < b else {}", "x": ["]", "}"]}'
    text = f'<tool_call>{{"name": "search", "arguments": {arguments}}}</tool_call>'
    assert parse("hermes", text) == ("", [("search", arguments)])


def test_missing_closing_tag_at_end_of_output():
    assert parse("hermes", f"Sure.\n<tool_call>\n{WEATHER}\n") == (
        "Sure.\n",
        [("get_weather", '{"city": "Paris", "unit": "celsius"}')],
    )


def test_missing_closing_tag_before_the_next_block():
    text = f"<tool_call>\n{WEATHER}\n<tool_call>\n{WEATHER}\n</tool_call>"
    assert len(parse("hermes", text)[1]) == 2


def test_two_objects_in_one_block_separated_by_comma():
    text = f'<tool_call>\n{WEATHER}, {{"name": "search", "arguments": {{"q": "x"}}}}\n</tool_call>'
    content, calls = parse("hermes", text)
    assert content == ""
    assert [name for name, _ in calls] == ["get_weather", "search"]


def test_partial_marker_is_held_back_and_released_at_finish():
    deltas = stream_deltas("hermes", ["Hello <tool", "_ca"])
    assert deltas[0].content == "Hello "
    assert deltas[1] is None  # "<tool_ca" could still become "<tool_call>"
    assert deltas[2].content == "<tool_ca"  # released when the output ends


def test_partial_marker_released_as_soon_as_it_cannot_be_a_marker():
    deltas = stream_deltas("hermes", ["a <tool", "box> b"])
    assert deltas[0].content == "a "
    assert deltas[1].content == "<toolbox> b"


def test_call_streams_incrementally():
    long_text = "x" * 400
    text = f'<tool_call>{{"name": "search", "arguments": {{"q": "{long_text}"}}}}</tool_call>'
    chunks = [text[i : i + 4] for i in range(0, len(text), 4)]
    deltas = [d for d in stream_deltas("hermes", chunks) if d is not None]
    first = deltas[0].tool_calls[0]
    assert first.index == 0 and first.id.startswith("call_") and first.type == "function"
    assert first.function.name == "search" and first.function.arguments in ("", '{"')
    fragments = [tc.function.arguments for d in deltas for tc in d.tool_calls if tc.function.arguments]
    assert len(fragments) > 90  # arguments flow as they arrive, not at the end
    assert "".join(fragments) == f'{{"q": "{long_text}"}}'
    assert all(d.content is None for d in deltas)


def test_truncated_call_is_closed_at_its_last_safe_point():
    text = '<tool_call>{"name": "search", "arguments": {"q": "par'
    assert parse("hermes", text) == ("", [("search", '{"q": "par"}')])
    text = '<tool_call>{"name": "search", "arguments": {"q": "paris", "n": 1'
    assert parse("hermes", text) == ("", [("search", '{"q": "paris", "n": 1}')])
    text = '<tool_call>{"name": "search", "arguments": {"q": "paris", "lim'
    assert parse("hermes", text) == ("", [("search", '{"q": "paris"}')])


def test_call_broken_after_its_name_stays_a_call_and_the_rest_is_content():
    text = '<tool_call>{"name": "search", "arguments": {"q": "x", oops}}</tool_call> after'
    assert parse("hermes", text) == ("oops}}</tool_call> after", [("search", '{"q": "x"}')])


def test_raw_control_characters_in_strings_are_escaped():
    text = '<tool_call>{"name": "search", "arguments": {"code": "a\n\tb"}}</tool_call>'
    content, calls = parse("hermes", text)
    assert calls == [("search", '{"code": "a\\n\\tb"}')]
    assert json.loads(calls[0][1]) == {"code": "a\n\tb"}


def test_whitespace_only_text_around_blocks_is_not_content():
    text = f"\n\n<tool_call>{WEATHER}</tool_call>\n\n<tool_call>{WEATHER}</tool_call>\n"
    content, calls = parse("hermes", text)
    assert content == "" and len(calls) == 2
