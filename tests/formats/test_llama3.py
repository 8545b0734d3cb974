from tests.formats.format_checks import parse

CALL = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
RESULT = ("get_weather", '{"city": "Paris"}')


def test_plain_json_call():
    assert parse("llama3_json", CALL) == ("", [RESULT])


def test_with_python_tag():
    assert parse("llama3_json", "<|python_tag|>" + CALL) == ("", [RESULT])


def test_several_calls_separated_by_semicolons():
    second = '{"name": "search", "parameters": {"q": "x"}}'
    for separator in [";", "; ", " ;\n", ";\n\n"]:
        assert parse("llama3_json", CALL + separator + second) == ("", [RESULT, ("search", '{"q": "x"}')])


def test_arguments_accepted_for_parameters():
    text = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert parse("llama3_json", text) == ("", [RESULT])


def test_text_around_a_call_is_content():
    assert parse("llama3_json", f"Sure! {CALL} Done.") == ("Sure!  Done.", [RESULT])


def test_braces_and_json_that_are_not_calls_stay_content():
    for text in [
        "Use {braces} freely, and {} too.",
        'The config is {"name": "John", "age": 3}.',  # "John" is not an offered tool
        '{"city": "Paris"} is the answer',  # no name at all
        "{ unfinished",
    ]:
        assert parse("llama3_json", text) == (text, []), text


def test_arrays_emitted_as_strings_are_left_as_written():
    text = '{"name": "search", "parameters": {"tags": "[\\"a\\", \\"b\\"]"}}'
    assert parse("llama3_json", text) == ("", [("search", '{"tags": "[\\"a\\", \\"b\\"]"}')])


def test_llama3_lightllm_repeated_python_tags():
    text = (
        '<|python_tag|>{"name": "get_weather", "arguments": {"city": "Paris"}}'
        '<|python_tag|>{"name": "search", "arguments": {"q": "x"}}'
    )
    assert parse("llama3", text) == ("", [RESULT, ("search", '{"q": "x"}')])


def test_llama3_semicolons():
    text = '<|python_tag|>{"name": "get_weather", "arguments": {"city": "Paris"}}; {"name": "search", "arguments": {}}'
    assert parse("llama3", text) == ("", [RESULT, ("search", "{}")])


def test_python_tag_followed_by_code_is_content():
    text = "<|python_tag|>print(1)"
    assert parse("llama3_json", text) == (text, [])
