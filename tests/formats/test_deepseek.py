from tests.formats.format_checks import parse
from toolwire.formats.families.deepseek import deepseek_marker


def v3_reply(bar: int) -> str:
    def m(name):
        return deepseek_marker(name)[bar]

    return (
        "Let me check."
        + m("tool▁calls▁begin")
        + m("tool▁call▁begin") + "function" + m("tool▁sep") + 'get_weather\n```json\n{"city": "Paris"}\n```' + m("tool▁call▁end") + "\n"
        + m("tool▁call▁begin") + "function" + m("tool▁sep") + 'search\n```json\n{"q": "```"}\n```' + m("tool▁call▁end")
        + m("tool▁calls▁end")
    )


def v31_reply(bar: int) -> str:
    def m(name):
        return deepseek_marker(name)[bar]

    return (
        "Let me check."
        + m("tool▁calls▁begin")
        + m("tool▁call▁begin") + "get_weather" + m("tool▁sep") + '{"city": "Paris"}' + m("tool▁call▁end")
        + m("tool▁call▁begin") + "search" + m("tool▁sep") + '{"q": "```"}' + m("tool▁call▁end")
        + m("tool▁calls▁end")
    )


EXPECTED = ("Let me check.", [("get_weather", '{"city": "Paris"}'), ("search", '{"q": "```"}')])


def test_markers_are_full_width_bars():
    assert "\uff5c" in deepseek_marker("tool▁sep")[0] and "\u2581" in deepseek_marker("tool▁sep")[0]


def test_v3_full_width_and_ascii_spelling():
    for name in ("deepseekv3", "deepseek_v3"):
        assert parse(name, v3_reply(0)) == EXPECTED
        assert parse(name, v3_reply(1)) == EXPECTED


def test_v31_full_width_and_ascii_spelling():
    for name in ("deepseekv31", "deepseek_v31"):
        assert parse(name, v31_reply(0)) == EXPECTED
        assert parse(name, v31_reply(1)) == EXPECTED


def test_lightllm_seed_layout_with_newlines():
    text = (
        "<|tool▁calls▁begin|>\n<|tool▁call▁begin|>function<|tool▁sep|>get_weather\n"
        '```json\n{"city": "Paris"}\n```\n<|tool▁call▁end|>\n<|tool▁calls▁end|>'
    )
    assert parse("deepseekv3", text) == ("", [("get_weather", '{"city": "Paris"}')])


def test_tool_not_offered_and_partial_marker():
    text = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>nope<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
    assert parse("deepseekv31", text) == (text, [])
    assert parse("deepseekv31", "Hi <｜tool▁calls") == ("Hi <｜tool▁calls", [])


def test_v3_missing_fence_after_arguments_keeps_the_call():
    text = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>search\n```json\n{\"q\": 1}\noops"
    assert parse("deepseekv3", text) == ("oops", [("search", '{"q": 1}')])
