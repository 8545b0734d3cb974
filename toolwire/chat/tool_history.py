"""Tool calls and tool results in the history, as plain text, for templates that only know content.

A template like SmolLM2's renders `role` and `content` and nothing else: an assistant message that
carries only tool calls fails on the missing content (or loses the calls), and a `tool` message
becomes a role the model never saw. For such templates:

- an assistant message's tool calls are appended to its content, written in the family's format (so the model sees its earlier calls in the form it is asked to write them);
- a run of consecutive tool results becomes one user message with a `<tool_response>` block per result.
"""

from __future__ import annotations

from typing import Any

from toolwire.formats.family import ToolCallFamily


def calls_as_text(messages: list[dict[str, Any]], family: ToolCallFamily) -> list[dict[str, Any]]:
    converted = []
    for message in messages:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            message = dict(message)
            calls = [(call["function"]["name"], call["function"]["arguments"]) for call in message.pop("tool_calls")]
            content = message.get("content") or ""
            message["content"] = (content + "\n" if content else "") + family.render_calls(calls)
        converted.append(message)
    return converted


def results_as_user_text(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    after_tool_result = False
    for message in messages:
        if message.get("role") != "tool":
            converted.append(message)
            after_tool_result = False
            continue
        block = f"<tool_response>\n{message.get('content', '')}\n</tool_response>"
        if after_tool_result:
            converted[-1] = {"role": "user", "content": converted[-1]["content"] + "\n" + block}
        else:
            converted.append({"role": "user", "content": block})
        after_tool_result = True
    return converted
