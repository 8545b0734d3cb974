"""A Responses API request -> the ChatCompletionRequest the chat layer runs.

- `instructions` is a system message before everything else (not carried over by
  previous_response_id, as OpenAI does);
- `function_call` items join the assistant message before them (or start one); a
  `function_call_output` item is a tool message;
- a `reasoning` item becomes the reasoning_content of the assistant message that follows it (dropped
  when no assistant turn follows);
- `reasoning.effort` "none" / "minimal" turn thinking off (`chat_template_kwargs.enable_thinking:
  false`), any other effort turns it on; without an effort the template decides.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from toolwire.api.errors import APIError
from toolwire.protocol.chat import (
    AssistantMessage,
    ChatCompletionNamedToolChoiceParam,
    ChatCompletionRequest,
    ChatCompletionToolParam,
    ChatMessage,
    DeveloperMessage,
    FunctionDefinition,
    JsonSchemaFormat,
    NamedFunction,
    ResponseFormat,
    SystemMessage,
    ToolMessage,
    UserMessage,
)
from toolwire.protocol.responses import (
    UNSUPPORTED_FIELDS,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionToolChoice,
    InputItem,
    MessageItem,
    ReasoningItem,
    ResponsesRequest,
)
from toolwire.protocol.tool_calls import FunctionCall, ToolCall

_THINKING_OFF = {"none", "minimal"}


def input_items(request: ResponsesRequest) -> list[InputItem]:
    """The request's input as items (a string is one user message)."""
    if isinstance(request.input, str):
        return [MessageItem(role="user", content=request.input)]
    return list(request.input)


def chat_request(request: ResponsesRequest, conversation: list[InputItem]) -> ChatCompletionRequest:
    """The chat request for `conversation` (stored history, then this request's input items)."""
    for name in UNSUPPORTED_FIELDS:
        if (request.model_extra or {}).get(name) is not None:
            raise APIError(f"`{name}` is not supported by this server's Responses API", 400, param=name,
                           code="unsupported_parameter")
    messages = _messages(conversation)
    if request.instructions:
        messages.insert(0, SystemMessage(role="system", content=request.instructions))
    if not messages:
        raise APIError("input is empty: give at least one input item", 400, param="input")
    fields = dict(
        model=request.model, messages=messages, tools=_tools(request), tool_choice=_tool_choice(request),
        max_completion_tokens=request.max_output_tokens, temperature=request.temperature,
        top_p=request.top_p, response_format=_response_format(request), user=request.user,
        chat_template_kwargs=_template_kwargs(request))
    if request.parallel_tool_calls is not None:
        fields["parallel_tool_calls"] = request.parallel_tool_calls
    try:
        return ChatCompletionRequest(**fields)
    except ValidationError as exc:
        raise APIError(f"invalid request: {exc.errors()[0].get('msg', exc)}", 400) from None


def _messages(items: list[InputItem]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    reasoning: str | None = None  # a reasoning item's text, waiting for its assistant turn

    def assistant_turn() -> AssistantMessage:
        nonlocal reasoning
        last = messages[-1] if messages else None
        if isinstance(last, AssistantMessage) and reasoning is None:
            return last
        turn = AssistantMessage(role="assistant", reasoning_content=reasoning)
        reasoning = None
        messages.append(turn)
        return turn

    for item in items:
        if isinstance(item, ReasoningItem):
            reasoning = (reasoning or "") + item.text()
        elif isinstance(item, FunctionCallItem):
            turn = assistant_turn()
            call = ToolCall(id=item.call_id, function=FunctionCall(name=item.name, arguments=item.arguments))
            turn.tool_calls = [*(turn.tool_calls or []), call]
        elif isinstance(item, FunctionCallOutputItem):
            messages.append(ToolMessage(role="tool", tool_call_id=item.call_id, content=item.text()))
        elif item.role == "assistant":
            turn = AssistantMessage(role="assistant", content=item.text(), reasoning_content=reasoning)
            reasoning = None
            messages.append(turn)
        else:
            reasoning = None
            message_class = {"user": UserMessage, "system": SystemMessage, "developer": DeveloperMessage}[item.role]
            messages.append(message_class(role=item.role, content=item.text()))
    return messages


def _tools(request: ResponsesRequest) -> list[ChatCompletionToolParam] | None:
    if request.tools is None:
        return None
    tools = []
    for i, tool in enumerate(request.tools):
        if tool.type != "function":
            raise APIError(f"tools[{i}]: tool type {tool.type!r} is not supported by this server; only "
                           "`function` tools are", 400, param=f"tools[{i}].type", code="unsupported_tool")
        if not tool.name:
            raise APIError(f"tools[{i}].name is required", 400, param=f"tools[{i}].name")
        tools.append(ChatCompletionToolParam(function=FunctionDefinition(
            name=tool.name, description=tool.description, parameters=tool.parameters, strict=tool.strict)))
    return tools


def _tool_choice(request: ResponsesRequest):
    choice = request.tool_choice
    if isinstance(choice, FunctionToolChoice):
        return ChatCompletionNamedToolChoiceParam(function=NamedFunction(name=choice.name))
    return choice


def _response_format(request: ResponsesRequest) -> ResponseFormat | None:
    text_format = request.text.format if request.text else None
    if text_format is None or text_format.type == "text":
        return None
    if text_format.type == "json_object":
        return ResponseFormat(type="json_object")
    if text_format.schema_ is None:
        raise APIError("text.format of type json_schema needs a `schema`", 400, param="text.format.schema")
    return ResponseFormat(type="json_schema", json_schema=JsonSchemaFormat(
        name=text_format.name or "response", description=text_format.description, schema=text_format.schema_,
        strict=text_format.strict))


def _template_kwargs(request: ResponsesRequest) -> dict | None:
    effort = request.reasoning.effort if request.reasoning else None
    if effort is None:
        return None
    return {"enable_thinking": effort not in _THINKING_OFF}


_TOOL_FIELD = re.compile(r"^tools\[(\d+)\]\.function\.")
_PARAMS = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens",
           "response_format": "text.format"}


def responses_param(param: str | None) -> str | None:
    """A chat request's field name (in an APIError) as the Responses request spells it. The chat
    messages do not map one to one onto input items: any of them is `input`."""
    if param is None:
        return None
    if param.startswith("messages"):
        return "input"
    param = _TOOL_FIELD.sub(r"tools[\1].", param)
    head, dot, rest = param.partition(".")
    return _PARAMS.get(head, head) + dot + rest
