"""Request messages -> the message dicts that chat templates read (Hugging Face conventions).

- content: one string (text parts joined); a message without content has no `content` key, as
  apply_chat_template drops None values (templates handle a missing key better than None);
- assistant tool calls: `{"id", "type": "function", "function": {"name", "arguments": dict}}`, the
  arguments parsed from their JSON string, since templates write them with `| tojson`;
- tool results keep `tool_call_id`, and `name` (taken from the matching call when the client left it out);
- `developer` becomes `system` (OpenAI's newer name for it, unknown to open models' templates);
  the deprecated `function` role becomes a tool result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from toolwire.protocol.chat import (
    AssistantMessage,
    ChatMessage,
    DeveloperMessage,
    FunctionMessage,
    ImageContentPart,
    SystemMessage,
    ToolMessage,
    UserMessage,
)
from toolwire.protocol.tool_calls import ToolCall
from toolwire.chat.rendering import PromptError

_MESSAGE = TypeAdapter(ChatMessage)


def template_messages(
    messages: Sequence[ChatMessage | Mapping[str, Any]],
    history_call_id: Callable[[str], str] | None = None,
) -> list[dict[str, Any]]:
    """The template dicts for a request's messages.

    `history_call_id` rewrites the tool-call ids of the history (Mistral's 9-character ids).
    """
    call_id = history_call_id or (lambda value: value)
    names_by_call_id: dict[str, str] = {}
    converted = []
    for index, message in enumerate(messages):
        message = _validated(message, index)
        if isinstance(message, (SystemMessage, DeveloperMessage)):
            entry = {"role": "system", "content": message.text(), "name": message.name}
        elif isinstance(message, UserMessage):
            if not isinstance(message.content, str) and any(
                isinstance(part, ImageContentPart) for part in message.content
            ):
                raise PromptError(f"messages[{index}]: image content is not supported by this server")
            entry = {"role": "user", "content": message.text(), "name": message.name}
        elif isinstance(message, AssistantMessage):
            calls = [_template_tool_call(call, index, position, call_id)
                     for position, call in enumerate(message.tool_calls or [])]
            names_by_call_id.update((call.id, call.function.name) for call in message.tool_calls or [])
            entry = {"role": "assistant", "content": message.text(), "name": message.name,
                     "reasoning_content": message.reasoning_content, "tool_calls": calls or None}
        elif isinstance(message, ToolMessage):
            entry = {"role": "tool", "tool_call_id": call_id(message.tool_call_id),
                     "name": message.name or names_by_call_id.get(message.tool_call_id), "content": message.text()}
        elif isinstance(message, FunctionMessage):
            entry = {"role": "tool", "name": message.name, "content": message.text() or ""}
        else:  # pragma: no cover - ChatMessage is a closed union
            raise PromptError(f"messages[{index}]: unsupported message {type(message).__name__}")
        converted.append({key: value for key, value in entry.items() if value is not None})
    return converted


def parse_arguments(arguments: str) -> dict[str, Any]:
    """A tool call's JSON-encoded arguments as a dict ("" means no arguments)."""
    if not arguments.strip():
        return {}
    value = json.loads(arguments)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _template_tool_call(call: ToolCall, index: int, position: int, call_id: Callable[[str], str]) -> dict:
    try:
        arguments = parse_arguments(call.function.arguments)
    except ValueError as error:
        raise PromptError(
            f"messages[{index}].tool_calls[{position}].function.arguments is not a JSON object: {error}"
        ) from None
    return {"id": call_id(call.id), "type": "function",
            "function": {"name": call.function.name, "arguments": arguments}}


def _validated(message: ChatMessage | Mapping[str, Any], index: int) -> ChatMessage:
    if not isinstance(message, Mapping):
        return message
    try:
        return _MESSAGE.validate_python(dict(message))
    except ValidationError as error:
        raise PromptError(f"messages[{index}] is not a valid chat message: {error}") from None
