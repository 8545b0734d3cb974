"""What a chat template does with tools, found by rendering probe conversations.

Reading the template's source for `tools` would be fooled by templates that mention a name and never
print it; rendering is not: a sentinel tool, call or result either appears in the output or it does
not. A probe that raises counts as "not rendered". Results are cached per template text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from toolwire.chat.rendering import SPECIAL_TOKEN_NAMES, ChatTemplateError, render_template

_SENTINEL_TOOL = "toolwire_probe_tool_7d1c"
_SENTINEL_ARGUMENT = "toolwire_probe_argument_5e2a"
_SENTINEL_RESULT = "toolwire_probe_result_9b4f"
_PROBE_CALL_ID = "a1b2c3d4e"  # 9 alphanumerics: Mistral's templates reject any other id
_PROBE_TOOLS = [{
    "type": "function",
    "function": {
        "name": _SENTINEL_TOOL,
        "description": "A probe function.",
        "parameters": {"type": "object", "properties": {"value": {"type": "string"}}, "required": ["value"]},
    },
}]
# Templates may concatenate special tokens (`bos_token + ...`), which fails on an undefined one.
_PLACEHOLDER_SPECIAL_TOKENS = {name: f"<{name}>" for name in SPECIAL_TOKEN_NAMES}
_USER = {"role": "user", "content": "Hello."}
_CALL = {
    "role": "assistant",
    "tool_calls": [{"id": _PROBE_CALL_ID, "type": "function",
                    "function": {"name": _SENTINEL_TOOL, "arguments": {"value": _SENTINEL_ARGUMENT}}}],
}
_RESULT = {"role": "tool", "tool_call_id": _PROBE_CALL_ID, "name": _SENTINEL_TOOL, "content": _SENTINEL_RESULT}


@dataclass(frozen=True)
class TemplateToolSupport:
    renders_tools: bool  # the tool schemas reach the prompt
    renders_tool_calls: bool  # an assistant message's tool calls (name and arguments) reach the prompt
    renders_tool_results: bool  # a tool message's content reaches the prompt, in a template that knows calls


@lru_cache(maxsize=64)
def tool_support(template: str) -> TemplateToolSupport:
    renders_tools = any(
        _SENTINEL_TOOL in _render_or_empty(template, messages, tools=_PROBE_TOOLS)
        for messages in ([_USER], [{"role": "system", "content": "Be brief."}, _USER])
    )
    with_call = _render_or_empty(template, [_USER, _CALL], tools=_PROBE_TOOLS)
    renders_tool_calls = _SENTINEL_TOOL in with_call and _SENTINEL_ARGUMENT in with_call
    # A template that knows nothing of tool calls may still print a `tool` role verbatim (SmolLM2's
    # does); that is not support: the model never saw such a turn. So results count only with calls.
    renders_tool_results = renders_tool_calls and _SENTINEL_RESULT in _render_or_empty(
        template, [_USER, _CALL, _RESULT], tools=_PROBE_TOOLS
    )
    return TemplateToolSupport(renders_tools, renders_tool_calls, renders_tool_results)


def _render_or_empty(template: str, messages: list[dict], tools: list[dict]) -> str:
    try:
        return render_template(template, messages, tools=tools, add_generation_prompt=True,
                               special_tokens=_PLACEHOLDER_SPECIAL_TOKENS)
    except ChatTemplateError:
        return ""
