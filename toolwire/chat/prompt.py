"""render_prompt: a chat request's messages and tools -> the prompt text, through the chat template.

Where the template cannot show tools, toolwire fills the gap (found by probing the template, see
template_capabilities): the tools go into a system prompt that teaches the family's format,
and earlier tool calls and results are written into the history as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from toolwire.chat.conversation import template_messages
from toolwire.chat.rendering import render_template
from toolwire.chat.template_capabilities import tool_support
from toolwire.chat.templates import ChatTemplate
from toolwire.chat.tool_history import calls_as_text, results_as_user_text
from toolwire.chat.tool_prompt import tool_system_prompt, with_system_prompt
from toolwire.formats.family import ToolCallFamily
from toolwire.formats.registry import default_tool_call_family
from toolwire.protocol.chat import ChatMessage

EMPTY_PARAMETERS = {"type": "object", "properties": {}}


def render_prompt(
    messages: Sequence[ChatMessage | Mapping[str, Any]],
    template: ChatTemplate | str,
    *,
    tools: Sequence[BaseModel | Mapping[str, Any]] | None = None,
    family: ToolCallFamily | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
    chat_template_kwargs: Mapping[str, Any] | None = None,
    special_tokens: Mapping[str, str] | None = None,
) -> str:
    """The prompt for a chat request.

    `family` is the tool parser's family (None: no tool parser; the default family writes the tool
    calls the template cannot). `special_tokens` are the tokenizer's (`rendering.special_tokens_of`).
    Raises PromptError (a ValueError) for anything the request got wrong, template errors included.
    """
    tool_dicts = [_tool_dict(tool) for tool in tools or []]
    text = template.for_request(bool(tool_dicts)) if isinstance(template, ChatTemplate) else template
    family = family or default_tool_call_family()
    chat = template_messages(messages, history_call_id=family.history_call_id)

    support = tool_support(text)
    if not support.renders_tool_calls:
        chat = calls_as_text(chat, family)
    if not support.renders_tool_results:
        chat = results_as_user_text(chat)
    if tool_dicts and not support.renders_tools:
        chat = with_system_prompt(chat, tool_system_prompt(tool_dicts, family))

    return render_template(
        text,
        chat,
        tools=tool_dicts or None,
        add_generation_prompt=add_generation_prompt,
        continue_final_message=continue_final_message,
        special_tokens=special_tokens,
        template_kwargs=chat_template_kwargs,
    )


def _tool_dict(tool: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    tool = tool.model_dump(exclude_none=True) if isinstance(tool, BaseModel) else dict(tool)
    function = dict(tool.get("function") or {})
    function.setdefault("parameters", EMPTY_PARAMETERS)  # templates read parameters.properties
    return {**tool, "type": tool.get("type", "function"), "function": function}
