"""The tool-capable chat templates toolwire ships (`--chat-template NAME`), rendered the way the
server renders them: selected with `resolve_chat_template` (as `build_state` does), the tool parser
detected from the template when no `--tool-call-parser` is given, and the request's messages and
tools passed through `render_prompt` (as `ServerState.render_chat` does)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import pytest

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.chat.parser_detection import detect_tool_parser
from toolwire.formats.registry import tool_call_family
from toolwire.chat.prompt import render_prompt
from toolwire.chat.rendering import ChatTemplateError
from toolwire.chat.template_capabilities import tool_support
from toolwire.formats.ids import mistral_history_id
from toolwire.chat.templates import (
    ALIASES,
    TEMPLATE_DIR,
    VARIANTS,
    ChatTemplate,
    ChatTemplateNotFound,
    read_model_templates,
    resolve_chat_template,
    shipped_template_names,
)

SYSTEM_TEXT = "You are a concise weather assistant."
USER_TEXT = "Should I wear a coat in the French capital today?"  # names no argument value
CALL_ID = "call_Xy7Qp2Lm9Rt4Vn8Kd3Wz6Hc5"  # OpenAI style: call_ + 24 alphanumerics
MISTRAL_ID = mistral_history_id(CALL_ID)
RESULT_TEXT = "22 degrees and sunny"
DATE = "26 Jul 2024"  # the Llama templates' date_string, so two renders never straddle midnight

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
# The model's own template: a shipped name given to --chat-template must win over it.
MODEL_DEFAULT = "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}"


def conversation(call_id: str = CALL_ID) -> list[dict[str, Any]]:
    """System + user, an assistant tool call (OpenAI style: arguments a JSON string, here written
    compactly), and its result. Templates print arguments with `tojson` (`{"city": "Paris", ...}`,
    with spaces) or as Python keywords: either shows the string reached the template as a dict."""
    return [
        {"role": "system", "content": SYSTEM_TEXT},
        {"role": "user", "content": USER_TEXT},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'},
        }]},
        {"role": "tool", "tool_call_id": call_id, "content": RESULT_TEXT},
    ]


def select(option: str, model_template: Any = MODEL_DEFAULT) -> ChatTemplate:
    return resolve_chat_template(option, model_template)


def render(
    template: ChatTemplate,
    *,
    messages: list[dict[str, Any]] | None = None,
    tools: Sequence[dict[str, Any]] | None = (WEATHER_TOOL,),
    add_generation_prompt: bool = True,
    parser: str | None = None,
) -> str:
    """The prompt the server builds for a chat request; `parser` None: detected from the template."""
    request = ChatCompletionRequest(
        messages=conversation() if messages is None else messages,
        tools=list(tools) if tools else None,
        add_generation_prompt=add_generation_prompt,
        chat_template_kwargs={"date_string": DATE},
    )
    return render_prompt(
        request.messages, template, tools=request.tools,
        family=tool_call_family(parser) if parser else detect_tool_parser(template).family,
        add_generation_prompt=request.add_generation_prompt,
        chat_template_kwargs=request.chat_template_kwargs,
    )


class Family(NamedTuple):
    parser: str  # the tool parser the server detects from the template
    tools: str  # how the template introduces the tool schemas
    call: str  # the assistant's tool call, as the template writes it
    result: str  # the tool result, as the template writes it
    generation_prompt: str  # what add_generation_prompt appends


_LLAMA_RESULT = f"<|start_header_id|>ipython<|end_header_id|>\n\n{RESULT_TEXT}<|eot_id|>"
_LLAMA_PROMPT = "<|start_header_id|>assistant<|end_header_id|>\n\n"
_PYTHONIC = Family("pythonic", "The functions, in JSON format:\n",
                   '<|end_header_id|>\n\n[get_weather(city="Paris", unit="celsius")]<|eot_id|>',
                   _LLAMA_RESULT, _LLAMA_PROMPT)
_MISTRAL = Family(
    "mistral", "[AVAILABLE_TOOLS] [",
    '[/INST][TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}, '
    f'"id": "{MISTRAL_ID}"}}]</s>',
    f'[TOOL_RESULTS] {{"content": "{RESULT_TEXT}", "call_id": "{MISTRAL_ID}"}}[/TOOL_RESULTS]',
    "",  # Mistral has no generation prompt: the model answers right after [/TOOL_RESULTS]
)
FAMILIES = {
    "hermes": Family(
        "hermes", "<tools>\n",
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", '
        '"unit": "celsius"}}\n</tool_call><|im_end|>',
        f"<|im_start|>tool\n<tool_response>\n{RESULT_TEXT}\n</tool_response><|im_end|>\n",
        "<|im_start|>assistant\n",
    ),
    "llama3.1_json": Family(
        "llama3_json", "<|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n",
        '<|end_header_id|>\n\n{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}<|eot_id|>',
        _LLAMA_RESULT, _LLAMA_PROMPT,
    ),
    "llama3.2_pythonic": _PYTHONIC,
    "toolace": _PYTHONIC,
    "mistral": _MISTRAL,
    "mistral_parallel": _MISTRAL,
    "granite": Family(
        "granite", "<|start_of_role|>available_tools<|end_of_role|>\n",
        '<|start_of_role|>assistant<|end_of_role|><|tool_call|>[{"name": "get_weather", "arguments": '
        '{"city": "Paris", "unit": "celsius"}}]<|end_of_text|>',
        f"<|start_of_role|>tool_response<|end_of_role|>{RESULT_TEXT}<|end_of_text|>\n",
        "<|start_of_role|>assistant<|end_of_role|>",
    ),
    "granite_20b_fc": Family(
        "granite-20b-fc", "<|function_call_library|>\n",
        'ASSISTANT: <function_call> {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}',
        f"FUNCTION RESPONSE: {RESULT_TEXT}\n",
        "ASSISTANT:",
    ),
    "internlm2_tool": Family(
        "internlm", "<|im_start|>system name=<|plugin|>\n",
        '<|im_start|>assistant\n<|action_start|><|plugin|>\n{"name": "get_weather", "parameters": '
        '{"city": "Paris", "unit": "celsius"}}<|action_end|><|im_end|>',
        f"<|im_start|>environment name=<|plugin|>\n{RESULT_TEXT}<|im_end|>\n",
        "<|im_start|>assistant\n",
    ),
}
NAMES = sorted(FAMILIES)
FILE_NAMES = sorted(path.stem for path in TEMPLATE_DIR.glob("*.jinja"))


def test_shipped_templates_are_the_tested_families():
    # The families, each with a row above; a newly shipped template needs one too.
    assert shipped_template_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_renders_tools_call_and_result(name):
    family = FAMILIES[name]
    template = select(name)
    assert template.source == f"shipped {name}"

    prompt = render(template)

    before_user = prompt[: prompt.index(USER_TEXT)]
    for shown in (family.tools, "get_weather", "Current weather in a city.", '"city"', '"unit"', '"fahrenheit"'):
        assert shown in before_user, f"{shown!r} not shown with the tools, before the user's message"
    assert SYSTEM_TEXT in prompt
    after_user = prompt[prompt.index(USER_TEXT):]
    assert family.call in after_user
    assert family.result in after_user[after_user.index(family.call):]
    assert prompt == render(template, add_generation_prompt=False) + family.generation_prompt
    assert prompt.endswith(family.result + family.generation_prompt)


@pytest.mark.parametrize("name", NAMES)
def test_server_detects_the_family_parser_and_adds_nothing(name):
    template = select(name)
    assert detect_tool_parser(template).name == FAMILIES[name].parser
    # The template shows tools, calls and results itself: no injected tool prompt, no calls as text.
    support = tool_support(template.text)
    assert support.renders_tools and support.renders_tool_calls and support.renders_tool_results


def _mistral_ids(prompt: str) -> tuple[list[str], list[str]]:
    """The ids of the calls and of the results in a prompt the mistral template rendered."""
    return re.findall(r'"id": "([^"]*)"', prompt), re.findall(r'"call_id": "([^"]*)"', prompt)


@pytest.mark.parametrize("name", ["mistral", "mistral_parallel"])
def test_mistral_shows_history_ids_as_mistral_history_id_rewrites_them(name):
    prompt = render(select(name))
    assert CALL_ID not in prompt
    assert re.fullmatch(r"[A-Za-z0-9]{9}", MISTRAL_ID)
    assert _mistral_ids(prompt) == ([MISTRAL_ID], [MISTRAL_ID])


@pytest.mark.parametrize("call_id", ["abc123", "", "abc-12345"])
def test_mistral_rewrites_a_short_or_invalid_history_id_alike_in_call_and_result(call_id):
    prompt = render(select("mistral"), messages=conversation(call_id=call_id))
    calls, results = _mistral_ids(prompt)
    assert calls == results
    assert re.fullmatch(r"[A-Za-z0-9]{9}", calls[0])


def test_mistral_history_ids_stay_distinct_and_pair_with_their_results():
    # Two long ids that differ only before their last 9 characters, and two calls without an id
    # (in two turns): each call gets its own 9-alphanumeric id, and its result the same one.
    first, second = "call_1_Rt4Vn8Kd3Wz6Hc5", "call_2_Rt4Vn8Kd3Wz6Hc5"

    def call(call_id):
        return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}

    messages = [
        {"role": "user", "content": USER_TEXT},
        {"role": "assistant", "tool_calls": [call(first), call(second), call("")]},
        {"role": "tool", "tool_call_id": first, "content": "1"},
        {"role": "tool", "tool_call_id": second, "content": "2"},
        {"role": "tool", "tool_call_id": "", "content": "3"},
        {"role": "assistant", "tool_calls": [call("")]},
        {"role": "tool", "tool_call_id": "", "content": "4"},
    ]
    prompt = render(select("mistral"), messages=messages)
    calls, results = _mistral_ids(prompt)
    assert len(calls) == 4 and len(set(calls)) == 4
    assert all(re.fullmatch(r"[A-Za-z0-9]{9}", call_id) for call_id in calls)
    assert results == calls
    assert calls[:2] == [mistral_history_id(first), mistral_history_id(second)]
    assert prompt == render(select("mistral"), messages=messages)  # the same history, the same prompt


def test_mistral_history_ids_reach_a_models_own_template_rewritten_too():
    # A strict template of the kind Mistral's models ship, which refuses other ids: with the mistral
    # parser, it gets the same ids as the shipped template.
    strict = ChatTemplate("""{{ tools | tojson }}
{%- for m in messages %}
  {%- for c in m.tool_calls or [] %}
    {%- if c.id | length != 9 %}{{ raise_exception('Tool call ids must be 9 alphanumerics') }}{% endif %}
    {{- c.function | tojson }} "id": "{{ c.id }}"
  {%- endfor %}
  {%- if m.role == 'tool' %} "call_id": "{{ m.tool_call_id }}" {{ m.content }}{% else %} {{ m.content }}{% endif %}
{%- endfor %}""", "model")
    assert _mistral_ids(render(strict, parser="mistral")) == ([MISTRAL_ID], [MISTRAL_ID])


@pytest.mark.parametrize("call_id", ["abc123", CALL_ID])
def test_mistral_template_rejects_an_id_it_is_given_unchanged(call_id):
    # With another parser (`--tool-call-parser hermes --chat-template mistral`) ids reach the template
    # as they are; it shortens none by a rule of its own, and its check names the problem.
    with pytest.raises(ChatTemplateError, match=f'must be 9 letters or digits; got "{call_id}"'):
        render(select("mistral"), messages=conversation(call_id=call_id), parser="hermes")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_adds_its_prompt_when_tools_are_given(variant):
    base, variables = VARIANTS[variant]
    plain_chat = conversation()[:2]
    with_tools = render(select(variant))
    for text in variables.values():
        assert text in with_tools
        assert text not in render(select(base))
        assert text not in render(select(variant), messages=plain_chat, tools=None)


def test_mistral_parallel_prompt_opens_the_last_user_turn():
    prompt = render(select("mistral_parallel"))
    parallel_prompt = VARIANTS["mistral_parallel"][1]["tool_use_system_prompt"]
    assert f"[/AVAILABLE_TOOLS][INST] {parallel_prompt}\n\n{SYSTEM_TEXT}\n\n{USER_TEXT}[/INST]" in prompt


@pytest.mark.parametrize("name", FILE_NAMES)
def test_selecting_a_shipped_file_by_path_renders_the_same(name):
    path = TEMPLATE_DIR / f"{name}.jinja"
    by_path = select(str(path))
    assert by_path.source == f"file {path}"
    assert render(by_path) == render(select(name))


@pytest.mark.parametrize("name", NAMES)
def test_vllm_example_file_names_select_the_shipped_template(name):
    # The paths vLLM's docs give (`--chat-template examples/tool_chat_template_hermes.jinja`).
    template = select(f"examples/tool_chat_template_{name}.jinja")
    assert template.source == f"shipped {name}"
    assert render(template) == render(select(name))


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases_select_their_template(alias):
    assert select(alias).text == select(ALIASES[alias]).text


def _dict_of_templates(tmp_path, default, tool_use):
    return {"default": default, "tool_use": tool_use}  # a tokenizer's chat_template


def _tokenizer_config_list(tmp_path, default, tool_use):
    config = {"chat_template": [{"name": "default", "template": default}, {"name": "tool_use", "template": tool_use}]}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return read_model_templates(tmp_path)


def _additional_chat_templates(tmp_path, default, tool_use):
    (tmp_path / "chat_template.jinja").write_text(default, encoding="utf-8")
    (tmp_path / "additional_chat_templates").mkdir()
    (tmp_path / "additional_chat_templates" / "tool_use.jinja").write_text(tool_use, encoding="utf-8")
    return read_model_templates(tmp_path)


@pytest.mark.parametrize("model_templates", [_dict_of_templates, _tokenizer_config_list, _additional_chat_templates])
def test_tool_use_picks_the_models_tool_use_template(tmp_path, model_templates):
    hermes = select("hermes").text  # the model's tool-use template happens to be Hermes's
    template = select("tool_use", model_templates(tmp_path, MODEL_DEFAULT, hermes))
    assert template.source == "model tool_use"
    assert template.text == hermes
    assert render(template) == render(select("hermes"))


@pytest.mark.parametrize("model_template", [None, MODEL_DEFAULT, {"default": MODEL_DEFAULT, "rag": MODEL_DEFAULT}],
                         ids=["no template", "one template", "named, no tool_use"])
def test_tool_use_without_one_is_a_clear_error(model_template):
    with pytest.raises(ChatTemplateNotFound, match="no template named tool_use"):
        select("tool_use", model_template)


@pytest.mark.parametrize("option", ["hermes3", "examples/tool_chat_template_nosuchfamily.jinja"])
def test_unknown_template_name_is_a_clear_error(option):
    with pytest.raises(ChatTemplateNotFound) as error:
        select(option)
    message = str(error.value)
    assert repr(option) in message
    assert all(name in message for name in NAMES)  # lists what is shipped


@pytest.mark.parametrize("option", [
    "/no/such/dir/hermes.jinja",  # a shipped template's file name in a folder that does not exist
    "templates/mistral.jinja",
    "hermes.jinja",
    "./hermes",
    "/no/such/dir/tool_chat_template_hermes.txt",
])
def test_a_path_that_does_not_exist_is_an_error_naming_it(option):
    with pytest.raises(ChatTemplateNotFound) as error:
        select(option)
    assert option in str(error.value)


@pytest.mark.parametrize("option", ["/no/such/dir/tool_chat_template_hermes.jinja", "tool_chat_template_hermes.jinja"])
def test_only_vllm_example_file_names_fall_back_to_the_shipped_template(option):
    template = select(option)
    assert template.source == "shipped hermes"
    assert template.text == select("hermes").text


def test_an_existing_file_wins_over_the_shipped_template_of_its_name(tmp_path):
    path = tmp_path / "tool_chat_template_hermes.jinja"
    path.write_text(MODEL_DEFAULT, encoding="utf-8")
    assert select(str(path)).text == MODEL_DEFAULT


def test_a_literal_template_with_a_slash_is_still_a_template():
    literal = "{% for message in messages %}{{ message.content }}</s>{% endfor %}"
    assert select(literal).source == "literal"
