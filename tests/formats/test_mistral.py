import re

import pytest

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


def test_an_id_of_nine_alphanumerics_is_kept_in_the_history():
    assert mistral_history_id("a1B2c3D4e") == "a1B2c3D4e"


@pytest.mark.parametrize("foreign", ["call_abcdefghijklmnopqrstuvwx", "abc", "", "chatcmpl-tool-1-2", "abc-12345",
                                     "é" * 9, "\ud800"])
def test_foreign_ids_become_nine_alphanumerics_the_same_every_time(foreign):
    short = mistral_history_id(foreign)
    assert re.fullmatch(r"[A-Za-z0-9]{9}", short)
    assert mistral_history_id(foreign) == short


def test_distinct_foreign_ids_stay_distinct():
    # Ids that share their last characters (the old rule kept only those) or differ in one place.
    ids = [f"call_{i}_Rt4Vn8Kd3Wz6Hc5" for i in range(1000)]
    ids += [f"call_Xy7Qp2Lm9Rt4Vn8Kd3Wz6Hc5_{i}" for i in range(1000)]
    assert len({mistral_history_id(i) for i in ids}) == len(ids)
