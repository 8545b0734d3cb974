"""An Anthropic Messages request -> the ChatCompletionRequest the chat layer runs.

- `system` (a string or text blocks) is a system message before everything else;
- in a user turn, each `tool_result` block is a tool message (in place: text around it is a user
  message before or after it); a result with `is_error: true` reaches the model prefixed "Error: ";
- in an assistant turn, text blocks are its content, `tool_use` blocks its tool calls (`input` as
  JSON arguments), `thinking` blocks its reasoning_content (the template decides whether to show
  it); `redacted_thinking` blocks are dropped (their text is not readable);
- tool_choice: auto -> "auto", any -> "required", tool -> that function, none -> "none";
  `disable_parallel_tool_use` -> parallel_tool_calls false;
- `thinking` enabled / disabled -> `chat_template_kwargs.enable_thinking` true / false, which the
  template and the reasoning parser both read; adaptive, or no `thinking`, leaves it to the template.
  budget_tokens is accepted but not enforced (max_tokens bounds the whole reply, reasoning included).
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from toolwire.api.errors import APIError
from toolwire.protocol.anthropic import (
    CountTokensRequest,
    Message,
    MessagesRequest,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ThinkingAdaptive,
    ThinkingEnabled,
    ToolChoiceAny,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
)
from toolwire.protocol.chat import (
    AssistantMessage,
    ChatCompletionNamedToolChoiceParam,
    ChatCompletionRequest,
    ChatCompletionToolParam,
    ChatMessage,
    FunctionDefinition,
    NamedFunction,
    SystemMessage,
    ToolMessage,
    UserMessage,
)
from toolwire.protocol.tool_calls import FunctionCall, ToolCall

ERROR_PREFIX = "Error: "


def chat_request(request: CountTokensRequest) -> ChatCompletionRequest:
    """The chat request that runs `request` (a MessagesRequest), or renders its prompt (a
    CountTokensRequest: no sampling fields)."""
    messages: list[ChatMessage] = []
    if request.system:
        system = request.system if isinstance(request.system, str) else "".join(b.text for b in request.system)
        messages.append(SystemMessage(role="system", content=system))
    for i, message in enumerate(request.messages):
        messages.extend(_turn(message, i))
    fields = dict(model=request.model, messages=messages, tools=_tools(request),
                  chat_template_kwargs=_template_kwargs(request), **_tool_choice(request))
    if isinstance(request, MessagesRequest):
        fields.update(max_tokens=request.max_tokens, stop=request.stop_sequences or None,
                      temperature=request.temperature, top_p=request.top_p, top_k=request.top_k,
                      stream=request.stream, user=request.metadata.user_id if request.metadata else None)
    try:
        return ChatCompletionRequest(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ()))
        raise APIError(f"invalid request: {where}: {error.get('msg', exc)}", 400) from None


def _turn(message: Message, index: int) -> list[ChatMessage]:
    if isinstance(message.content, str):
        return [UserMessage(role="user", content=message.content) if message.role == "user"
                else AssistantMessage(role="assistant", content=message.content)]
    if not message.content:
        raise APIError(f"messages[{index}].content is empty: give a string or at least one content block", 400,
                       param=f"messages[{index}].content")
    if message.role == "user":
        return _user_turn(message, index)
    return [_assistant_turn(message, index)]


def _user_turn(message: Message, index: int) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    text: list[str] = []

    def flush_text() -> None:
        if text:
            out.append(UserMessage(role="user", content="".join(text)))
            text.clear()

    for j, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ToolResultBlock):
            flush_text()
            result = block.text()
            out.append(ToolMessage(role="tool", tool_call_id=block.tool_use_id,
                                   content=ERROR_PREFIX + result if block.is_error else result))
        else:
            raise _misplaced(block.type, "user", index, j)
    flush_text()
    return out


def _assistant_turn(message: Message, index: int) -> AssistantMessage:
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ToolUseBlock):
            calls.append(ToolCall(id=block.id, function=FunctionCall(
                name=block.name, arguments=json.dumps(block.input, ensure_ascii=False))))
        elif isinstance(block, ThinkingBlock):
            thinking.append(block.thinking)
        elif not isinstance(block, RedactedThinkingBlock):
            raise _misplaced(block.type, "assistant", index, j)
    return AssistantMessage(role="assistant", content="".join(text) if text or not calls else None,
                            reasoning_content="".join(thinking) or None, tool_calls=calls or None)


def _misplaced(kind: str, role: str, index: int, block: int) -> APIError:
    return APIError(f"messages[{index}].content[{block}]: a '{kind}' block cannot appear in a {role} turn",
                    400, param=f"messages[{index}].content[{block}]")


def _tools(request: CountTokensRequest) -> list[ChatCompletionToolParam] | None:
    if not request.tools:
        return None
    return [ChatCompletionToolParam(function=FunctionDefinition(
        name=tool.name, description=tool.description, parameters=tool.input_schema)) for tool in request.tools]


def _tool_choice(request: CountTokensRequest) -> dict:
    choice = request.tool_choice
    if choice is None:
        return {}
    fields: dict = {"parallel_tool_calls": not getattr(choice, "disable_parallel_tool_use", False)}
    if isinstance(choice, ToolChoiceTool):
        fields["tool_choice"] = ChatCompletionNamedToolChoiceParam(function=NamedFunction(name=choice.name))
    elif isinstance(choice, ToolChoiceAny):
        fields["tool_choice"] = "required"
    elif isinstance(choice, ToolChoiceNone):
        fields["tool_choice"] = "none"
    else:
        fields["tool_choice"] = "auto"
    return fields


def _template_kwargs(request: CountTokensRequest) -> dict | None:
    if request.thinking is None or isinstance(request.thinking, ThinkingAdaptive):
        return None
    return {"enable_thinking": isinstance(request.thinking, ThinkingEnabled)}
