from tests.formats.format_checks import parse


def test_formats_md_example_with_content_before():
    text = 'I will look it up.<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": {"city": "Paris"}}<|action_end|>'
    assert parse("internlm", text) == ("I will look it up.", [("get_weather", '{"city": "Paris"}')])


def test_partial_markers_and_broken_block():
    assert parse("internlm", "<|action_start|>") == ("<|action_start|>", [])
    text = "<|action_start|><|plugin|>\nnot json<|action_end|>"
    assert parse("internlm", text) == (text, [])


def test_missing_end_marker():
    text = '<|action_start|><|plugin|>{"name": "search", "arguments": {"q": "x"}}'
    assert parse("internlm", text) == ("", [("search", '{"q": "x"}')])
