from tests.formats.format_checks import parse

ARRAY = '[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "search", "arguments": {"q": "x"}}]'
CALLS = [("get_weather", '{"city": "Paris"}'), ("search", '{"q": "x"}')]


def test_granite_30_special_token():
    assert parse("granite", "<|tool_call|>" + ARRAY) == ("", CALLS)


def test_granite_31_plain_tag():
    assert parse("granite", "<tool_call>" + ARRAY) == ("", CALLS)


def test_granite_content_before_and_broken_block():
    assert parse("granite", "Sure. <|tool_call|>" + ARRAY) == ("Sure. ", CALLS)
    assert parse("granite", "<|tool_call|>[{oops}]") == ("<|tool_call|>[{oops}]", [])


def test_granite_20b_fc_repeated():
    text = (
        '<function_call> {"name": "get_weather", "arguments": {"city": "Paris"}}\n'
        '<function_call> {"name": "search", "arguments": {"q": "x"}}'
    )
    assert parse("granite-20b-fc", text) == ("", CALLS)
    assert parse("granite_20b_fc", text) == ("", CALLS)


def test_granite_20b_fc_tool_not_offered():
    text = '<function_call> {"name": "nope", "arguments": {}}'
    assert parse("granite-20b-fc", text) == (text, [])
