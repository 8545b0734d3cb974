import re

from tests.formats.format_checks import make_request, parse
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.ids import mistral_history_id

CALLS = [("get_weather", '{"city": "Paris"}'), ("search", '{"q": "x"}')]


def test_array_before_v11_with_and_without_space():
    array = '[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "search", "arguments": {"q": "x"}}]'
    assert parse("mistral", "[TOOL_CALLS] " + array) == ("", CALLS)
    assert parse("mistral", "[TOOL_CALLS]" + array) == ("", CALLS)


def test_arguments_before_name():
    text = '[TOOL_CALLS] [{"arguments": {"city": "Paris"}, "name": "get_weather"}]'
    assert parse("mistral", text) == ("", CALLS[:1])


def test_content_before_calls():
    text = 'Checking.[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]'
    assert parse("mistral", text) == ("Checking.", CALLS[:1])


def test_v11_one_marker_per_call():
    text = '[TOOL_CALLS]get_weather{"city": "Paris"}[TOOL_CALLS]search{"q": "x"}'
    assert parse("mistral", text) == ("", CALLS)


def test_v13_args_marker():
    text = '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]search[ARGS]{"q": "x"}'
    assert parse("mistral", text) == ("", CALLS)


def test_single_object_after_marker():
    assert parse("mistral", '[TOOL_CALLS] {"name": "search", "arguments": {"q": "x"}}') == ("", CALLS[1:])


def test_arguments_as_json_encoded_string():
    text = '[TOOL_CALLS] [{"name": "search", "arguments": "{\\"q\\": \\"x\\"}"}]'
    assert parse("mistral", text) == ("", CALLS[1:])


def test_tool_not_offered_stays_content():
    text = '[TOOL_CALLS]delete_all{"really": true}'
    assert parse("mistral", text) == (text, [])
    text = '[TOOL_CALLS] [{"name": "delete_all", "arguments": {}}]'
    assert parse("mistral", text) == (text, [])


def test_broken_block_stays_content():
    for text in ["[TOOL_CALLS] [oops]", "[TOOL_CALLS] []", "[TOOL_CALLS]", "[TOOL_CALLS] [{]"]:
        assert parse("mistral", text) == (text, []), text


def test_ids_are_exactly_nine_alphanumerics_and_unique():
    parser = ToolParserManager.get_tool_parser("mistral")(None)
    text = "".join(f'[TOOL_CALLS]search{{"q": "{i}"}}' for i in range(20))
    info = parser.extract_tool_calls(text, make_request())
    ids = [call.id for call in info.tool_calls]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9]{9}", i) for i in ids)


def test_foreign_ids_shortened_for_the_history():
    assert mistral_history_id("call_abcdefghijklmnopqrstuvwx") == "pqrstuvwx"
    assert mistral_history_id("abc") == "000000abc"
    assert re.fullmatch(r"[A-Za-z0-9]{9}", mistral_history_id("chatcmpl-tool-1-2"))
