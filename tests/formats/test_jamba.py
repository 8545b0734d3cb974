from tests.formats.format_checks import parse


def test_leading_space_and_two_calls():
    text = ' <tool_calls>[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "search", "arguments": {}}]</tool_calls>'
    assert parse("jamba", text) == ("", [("get_weather", '{"city": "Paris"}'), ("search", "{}")])


def test_content_before_and_after():
    text = 'Sure. <tool_calls>[{"name": "search", "arguments": {"q": "x"}}]</tool_calls> Done.'
    assert parse("jamba", text) == ("Sure.  Done.", [("search", '{"q": "x"}')])


def test_rejected_call_in_array_keeps_earlier_calls():
    text = '<tool_calls>[{"name": "search", "arguments": {}}, {"name": "nope", "arguments": {}}]</tool_calls>'
    assert parse("jamba", text) == (', {"name": "nope", "arguments": {}}]</tool_calls>', [("search", "{}")])
