"""Request messages -> the message dicts that chat templates read (Hugging Face conventions).

- content: one string (text parts joined); a message without content has no `content` key, as
  apply_chat_template drops None values (templates handle a missing key better than None);
- assistant tool calls: `{"id", "type": "function", "function": {"name", "arguments": dict}}`, the
  arguments parsed from their JSON string, since templates write them with `| tojson`;
- assistant reasoning: `reasoning_content`, or `reasoning` (the name some clients send it under); the
  templates read it as `reasoning_content` (Qwen3, GLM, DeepSeek) or `thinking` (gpt-oss), so both are set;
- tool results keep `tool_call_id`, and `name` (taken from the matching call when the client left it out);
- the family may rewrite the history's tool-call ids (`history_call_id`: Mistral's 9-character ids); a
  call and its result are rewritten alike, and, while rewriting, no id is left empty (`_HistoryIds`);
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
    history_call_id: Callable[[str, str | None], str] | None = None,
) -> list[dict[str, Any]]:
    """The template dicts for a request's messages.

    `history_call_id` rewrites the tool-call ids of the history (Mistral's 9-character ids, Kimi's
    `functions.NAME:IDX`): called with each call's id and function name, and each result's id and None.
    """
    ids = _HistoryIds(history_call_id)
    names_by_call_id: dict[str, str] = {}  # by the id the template gets
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
            tool_calls = message.tool_calls or []
            calls = [_template_tool_call(call, call_id, index, position)
                     for position, (call, call_id) in enumerate(zip(tool_calls, ids.of_calls(tool_calls, index)))]
            names_by_call_id.update((call["id"], call["function"]["name"]) for call in calls)
            entry = {"role": "assistant", "content": message.text(), "name": message.name,
                     "reasoning_content": message.reasoning_text, "thinking": message.reasoning_text,
                     "tool_calls": calls or None}
        elif isinstance(message, ToolMessage):
            call_id = ids.of_result(message.tool_call_id, index)
            entry = {"role": "tool", "tool_call_id": call_id,
                     "name": message.name or names_by_call_id.get(call_id), "content": message.text()}
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


class _HistoryIds:
    """The history's tool-call ids as the template gets them: as they are, or rewritten by `rewrite`.

    While rewriting, a call without an id is named after its place (`messages[2].tool_calls[0]`)
    before the rewrite, and a tool result without one answers the first unanswered such call of the
    assistant message before it: id-less calls stay distinct, and still pair with their results.
    """

    def __init__(self, rewrite: Callable[[str, str | None], str] | None):
        self.rewrite = rewrite
        self.unanswered: list[str] = []  # the names given to the last assistant message's id-less calls

    def of_calls(self, calls: Sequence[ToolCall], index: int) -> list[str]:
        """The ids of the calls of the assistant message `messages[index]`."""
        if self.rewrite is None:
            return [call.id for call in calls]
        self.unanswered = []
        ids = []
        for position, call in enumerate(calls):
            call_id = call.id if "id" in call.model_fields_set else ""  # not the random default
            if not call_id:
                call_id = f"messages[{index}].tool_calls[{position}]"
                self.unanswered.append(call_id)
            ids.append(self.rewrite(call_id, call.function.name))
        return ids

    def of_result(self, tool_call_id: str, index: int) -> str:
        """The id of the tool result `messages[index]`."""
        if self.rewrite is None:
            return tool_call_id
        if not tool_call_id:
            tool_call_id = self.unanswered.pop(0) if self.unanswered else f"messages[{index}].tool_call_id"
        return self.rewrite(tool_call_id, None)


def _template_tool_call(call: ToolCall, call_id: str, index: int, position: int) -> dict:
    try:
        arguments = parse_arguments(call.function.arguments)
    except ValueError as error:
        raise PromptError(
            f"messages[{index}].tool_calls[{position}].function.arguments is not a JSON object: {error}"
        ) from None
    return {"id": call_id, "type": "function",
            "function": {"name": call.function.name, "arguments": arguments}}


def _validated(message: ChatMessage | Mapping[str, Any], index: int) -> ChatMessage:
    if not isinstance(message, Mapping):
        return message
    try:
        return _MESSAGE.validate_python(dict(message))
    except ValidationError as error:
        raise PromptError(f"messages[{index}] is not a valid chat message: {error}") from None
