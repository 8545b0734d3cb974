"""Examples for the pythonic tool parser (`[f(a=1), g()]`), each checked whole and streamed."""

import json
import re

import pytest

from tests.formats.streaming_harness import (
    assert_stream_matches_whole,
    chunk_text,
    parse_streaming,
    parse_whole,
)
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.families.pythonic.scanner import PythonicToolParser, literal_to_json_value


def make_request(*tool_names: str) -> ChatCompletionRequest:
    tools = [{"type": "function", "function": {"name": name}} for name in tool_names] or None
    return ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=tools)


ANY_TOOL = make_request()  # no tools listed: every name is accepted
WEATHER = make_request("get_weather", "get_time")


def both_ways(text: str, request: ChatCompletionRequest = ANY_TOOL):
    """The whole result, after checking that every chunking streams exactly the same."""
    result = None
    for sizes in ("whole", 1, 2, 3, "random"):
        result = assert_stream_matches_whole(PythonicToolParser, text, request, sizes)
    return result


def test_registered_names():
    """Both families read calls with the same scanner; Llama 4's family writes them wrapped."""
    plain, llama4 = (ToolParserManager.get_tool_parser(name) for name in ("pythonic", "llama4_pythonic"))
    assert issubclass(plain, PythonicToolParser) and issubclass(llama4, PythonicToolParser)
    call = [("f", {"a": 1})]
    assert plain.family.render_calls(call) == "[f(a=1)]"
    assert llama4.family.render_calls(call) == "<|python_start|>[f(a=1)]<|python_end|>"


def test_vllm_docs_example_two_parallel_calls():
    text = "[get_weather(city='San Francisco', metric='celsius'), get_weather(city='Seattle', metric='celsius')]"
    assert both_ways(text, WEATHER) == (
        "",
        [
            ("get_weather", '{"city": "San Francisco", "metric": "celsius"}'),
            ("get_weather", '{"city": "Seattle", "metric": "celsius"}'),
        ],
    )


def test_whole_result_shape_and_ids():
    text = "[get_weather(city='Paris'), get_time()]"
    info = PythonicToolParser().extract_tool_calls(text, WEATHER)
    assert info.tools_called and info.content is None
    assert [c.function.name for c in info.tool_calls] == ["get_weather", "get_time"]
    for call in info.tool_calls:
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call.id) and call.type == "function"
    assert len({c.id for c in info.tool_calls}) == 2
    assert json.loads(info.tool_calls[1].function.arguments) == {}


def test_llama4_python_start_wrapper():
    text = "<|python_start|>[get_weather(city='Oslo')]<|python_end|>"
    assert both_ways(text, WEATHER) == ("", [("get_weather", '{"city": "Oslo"}')])
    spaced = "<|python_start|>\n[get_weather(city='Oslo'), get_time()]\n<|python_end|>"
    assert both_ways(spaced, WEATHER) == ("", [("get_weather", '{"city": "Oslo"}'), ("get_time", "{}")])


def test_python_start_without_a_call_list_stays_content():
    text = "<|python_start|>print('hi')<|python_end|>"
    assert both_ways(text) == (text, [])


def test_python_literals_become_json():
    text = (
        "[f(t=True, f=False, n=None, neg=-3, fl=-2.5e-3, hexa=0x1F, big=1_000, tup=(1, 'a'), "
        "nested={'k': [None, {'deep': (True,)}], 2: 'int key'}, empty=[], s=\"double\")]"
    )
    content, calls = both_ways(text)
    assert content == ""
    assert json.loads(calls[0][1]) == {
        "t": True,
        "f": False,
        "n": None,
        "neg": -3,
        "fl": -0.0025,
        "hexa": 31,
        "big": 1000,
        "tup": [1, "a"],
        "nested": {"k": [None, {"deep": [True]}], "2": "int key"},
        "empty": [],
        "s": "double",
    }
    assert calls[0][1].startswith('{"t": true, "f": false, "n": null, "neg": -3')


def test_strings_quotes_escapes_and_unicode():
    text = (
        "[f(a='it\\'s', b=\"say \\\"hi\\\"\", c='tab\\tnew\\nline', d='''tri'ple \"q\"''', "
        "e=r'C:\\path\\d+', g='x' \"y\", h='naïve ☃ 日本', i='\\u00e9\\N{SNOWMAN}')]"
    )
    content, calls = both_ways(text)
    assert content == ""
    assert json.loads(calls[0][1]) == {
        "a": "it's",
        "b": 'say "hi"',
        "c": "tab\tnew\nline",
        "d": "tri'ple \"q\"",
        "e": "C:\\path\\d+",
        "g": "xy",
        "h": "naïve ☃ 日本",
        "i": "é☃",
    }
    assert "naïve ☃ 日本" in calls[0][1]  # unicode is kept, not \u-escaped


def test_brackets_and_commas_inside_strings_do_not_split():
    text = "[f(q='a, b) ] [c', r=\"}{)(\", s=['x,y', ('(', ')')])]"
    assert both_ways(text)[1] == [("f", '{"q": "a, b) ] [c", "r": "}{)(", "s": ["x,y", ["(", ")"]]}')]


def test_whitespace_and_trailing_commas():
    text = "[ f ( a = 1 , b = 'x' , ) , g( ) , ]"
    assert both_ways(text) == ("", [("f", '{"a": 1, "b": "x"}'), ("g", "{}")])


def test_dotted_names():
    assert both_ways("[math.factorial(n=5)]") == ("", [("math.factorial", '{"n": 5}')])


@pytest.mark.parametrize(
    "text",
    [
        "[get_weather(city=San_Francisco)]",  # a name, not a literal
        "[get_weather(city='Paris' + suffix)]",
        "[get_weather(city=f'{x}')]",  # f-string
        "[get_weather(city=lookup('Paris'))]",
        "[get_weather('Paris')]",  # positional argument
        "[get_weather(**kwargs)]",
        "[get_weather(city='a', city='b')]",  # repeated keyword
        "[get_weather(city={1, 2})]",  # a set has no JSON form
        "[get_weather(city=b'bytes')]",
        "[get_weather(city=1j)]",
        "[get_weather(city=1e999)]",  # infinity
        "[get_weather(city=)]",
    ],
)
def test_a_call_with_a_non_literal_value_is_dropped(text):
    # The list's only call is dropped, so the list is not a call list: its text is content.
    assert both_ways(text, WEATHER) == (text, [])


def test_a_dropped_call_among_kept_ones_vanishes():
    text = "[get_weather(city=somewhere), get_time(zone='UTC'), get_weather(city='Rome')]"
    assert both_ways(text, WEATHER) == (
        "",
        [("get_time", '{"zone": "UTC"}'), ("get_weather", '{"city": "Rome"}')],
    )


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2, 3]",
        "[]",
        "['a', 'b']",
        "See [the docs](https://example.com) for more.",
        "- [ ] todo\n- [x] done",
        "[Note: nothing to call here]",
        "[str(x) for x in items]",
        "Arrays look like [a, b] and calls like f(a=1).",
        "plain prose, no brackets at all",
        "unclosed [get_weather(city='Paris'",
        "a < b and <|python_end|> and <|python",
    ],
)
def test_text_that_is_not_a_call_list_stays_content_untouched(text):
    assert both_ways(text) == (text, [])


def test_content_before_and_after_the_list_stays_content():
    text = "Let me check.\n[get_weather(city='Paris')] Done."
    assert both_ways(text, WEATHER) == ("Let me check.\n Done.", [("get_weather", '{"city": "Paris"}')])


def test_a_tool_the_request_does_not_offer_is_not_a_call():
    text = "[delete_everything(confirm=True)]"
    assert both_ways(text, WEATHER) == (text, [])
    mixed = "[delete_everything(confirm=True), get_time()]"
    assert both_ways(mixed, WEATHER) == ("", [("get_time", "{}")])


def test_malformed_elements_after_a_kept_call_are_skipped():
    assert both_ways("[f(a=1), 2, g(c=2)]") == ("", [("f", '{"a": 1}'), ("g", '{"c": 2}')])
    assert both_ways("[f(a=1), g(b=[1,2)]\n\nDone") == ("\n\nDone", [("f", '{"a": 1}')])


def test_output_cut_off_inside_the_list():
    # Kept calls stay; the unfinished one is dropped.
    assert both_ways("[f(a=1), g(b='unfini") == ("", [("f", '{"a": 1}')])
    assert both_ways("[f(a=1)\n\nI called f.") == ("\n\nI called f.", [("f", '{"a": 1}')])


def test_partial_start_marker_is_held_back_then_released():
    parser = PythonicToolParser()
    first = parser.extract_tool_calls_streaming("", "Hi <|python_st", "Hi <|python_st", [], [], [], ANY_TOOL)
    assert first.content == "Hi "  # the partial marker is not leaked
    end = parser.finish_streaming("Hi <|python_st", ANY_TOOL)
    assert end.content == "<|python_st"


def test_an_undecided_list_is_held_back_not_leaked():
    parser = PythonicToolParser()
    pieces = ["Sure ", "[get_wea", "ther(city='Pa", "ris')", "]"]
    deltas, previous = [], ""
    for piece in pieces:
        deltas.append(parser.extract_tool_calls_streaming(previous, previous + piece, piece, [], [], [], WEATHER))
        previous += piece
    assert deltas[0].content == "Sure "
    assert deltas[1] is None and deltas[2] is None  # held while undecided
    first, arguments = deltas[3].tool_calls  # the call is announced when its ")" arrives
    assert first.index == 0 and first.type == "function" and first.id.startswith("call_")
    assert first.function.name == "get_weather" and first.function.arguments == ""
    assert arguments.id is None and arguments.function.arguments == '{"city": "Paris"}'
    assert deltas[4] is None
    assert parser.finish_streaming(previous, WEATHER) is None


def test_each_call_streams_as_soon_as_it_closes():
    parser = PythonicToolParser()
    text = "[get_time(), get_weather(city='Paris')]"
    chunks = chunk_text(text, 1)
    announced_at = []
    previous = ""
    for position, chunk in enumerate(chunks):
        delta = parser.extract_tool_calls_streaming(previous, previous + chunk, chunk, [], [], [], WEATHER)
        previous += chunk
        if delta is not None and delta.tool_calls:
            announced_at.append(position)
    assert announced_at == [text.index(")"), text.rindex(")")]


def test_extract_tool_calls_does_not_disturb_a_streaming_instance():
    parser = PythonicToolParser()
    parser.extract_tool_calls_streaming("", "[f(a=1", "[f(a=1", [], [], [], ANY_TOOL)
    assert parse_whole(PythonicToolParser, "[g()]", ANY_TOOL) == ("", [("g", "{}")])
    assert parser.extract_tool_calls("[h()]", ANY_TOOL).tool_calls[0].function.name == "h"
    delta = parser.extract_tool_calls_streaming("[f(a=1", "[f(a=1)]", ")]", [], [], [], ANY_TOOL)
    assert delta.tool_calls[0].function.name == "f"


def test_ids_are_unique_within_a_response():
    text = "[" + ", ".join(f"f(i={i})" for i in range(50)) + "]"
    reply = parse_streaming(PythonicToolParser, text, ANY_TOOL, chunk_text(text, 7))
    assert len({call.id for call in reply.calls.values()}) == 50


def test_an_internal_error_degrades_to_content(monkeypatch):
    parser = PythonicToolParser()
    parser.extract_tool_calls_streaming("", "ok [f(", "ok [f(", [], [], [], ANY_TOOL)

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(parser._scanner, "_scan", broken)
    delta = parser.extract_tool_calls_streaming("ok [f(", "ok [f(a=1)]", "a=1)]", [], [], [], ANY_TOOL)
    assert delta.content == "[f(a=1)]" and not delta.tool_calls  # held text given back, nothing lost
    later = parser.extract_tool_calls_streaming("", "", " more", [], [], [], ANY_TOOL)
    assert later.content == " more"


def test_literal_to_json_value():
    assert literal_to_json_value(" (1, [True, None]) ") == (1, [True, None])
    for bad in ["x", "1 +", "{1}", "float('nan')", "...", "b''", "'\\d'x"]:
        with pytest.raises(ValueError):
            literal_to_json_value(bad)
    assert literal_to_json_value("'\\d'") == "\\d"  # an invalid escape still parses (no warning escapes)


def test_long_reply_streams_in_linear_time():
    # 100 KB of argument text and 2000 calls, fed 4 characters at a time. The parser reads only
    # delta_text, so the texts passed are left empty here (the harness would rebuild them, which is
    # itself quadratic). A quadratic parser would take minutes; this takes well under a second.
    text = "[write(path='a.txt', body='" + "x" * 100_000 + "'), " + ", ".join(["g()"] * 2000) + "]"
    parser = PythonicToolParser()
    names, content = [], []
    for chunk in chunk_text(text, 4) + [None]:
        if chunk is None:
            delta = parser.finish_streaming("", ANY_TOOL)
        else:
            delta = parser.extract_tool_calls_streaming("", "", chunk, [], [], [], ANY_TOOL)
        if delta is not None:
            content.append(delta.content or "")
            names += [c.function.name for c in delta.tool_calls if c.function.name]
    assert "".join(content) == "" and len(names) == 2001 and names[0] == "write"


def test_surrogate_pairs_join_and_lone_surrogates_drop_the_call():
    # Models used to JSON sometimes write a character as its JSON surrogate-pair escape.
    assert both_ways("[f(s='\\ud83d\\ude00')]") == ("", [("f", '{"s": "😀"}')])
    assert both_ways("[f(s='\\ud800')]") == ("[f(s='\\ud800')]", [])
