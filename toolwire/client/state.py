"""The tool loop's bookkeeping, free of I/O: the transcript, the steps, the next request's fields,
and what a reply (streamed or not) asked for. The drivers in ``loop`` do the I/O around it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from toolwire.client.results import Step, ToolCall, ToolExecution, ToolRunResult
from toolwire.client.stream import ChoiceBuffer
from toolwire.client.tools import Tool, Toolbox

ToolsArg = Iterable[Tool[..., Any] | Callable[..., Any] | Mapping[str, Any]] | Toolbox

_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal")


class ToolLoopError(RuntimeError):
    """The server's reply cannot drive the loop (no choices at all)."""


@dataclass
class Reply:
    content: str | None
    calls: list[tuple[str, str, str]]  # (id, name, arguments)
    finish_reason: str | None
    reasoning: str | None = None
    usage: Any = None

    @classmethod
    def from_completion(cls, completion: Any) -> Reply:
        choices = _get(completion, "choices")
        if not choices:
            raise ToolLoopError(f"the server's reply has no choices: {completion!r}")
        choice = choices[0]
        message = _get(choice, "message")
        calls = []
        for call in _get(message, "tool_calls") or ():
            function = _get(call, "function") or _get(call, "custom")
            arguments = _get(function, "arguments")
            if arguments is None:
                arguments = _get(function, "input")
            calls.append((_get(call, "id") or "", _get(function, "name") or "", arguments or ""))
        reasoning = _get(message, "reasoning_content") or _get(message, "reasoning")
        return cls(_get(message, "content"), calls, _get(choice, "finish_reason"),
                   reasoning if isinstance(reasoning, str) else None, _get(completion, "usage"))

    @classmethod
    def from_stream(cls, buffer: ChoiceBuffer, usage: Any) -> Reply:
        calls = [(call.id, call.name, call.arguments) for call in buffer.tool_calls]
        return cls(buffer.content, calls, buffer.finish_reason, buffer.reasoning, usage)


class LoopState:
    """The transcript and step bookkeeping; the drivers do the I/O."""

    def __init__(self, model: str, messages: Iterable[Any], tools: ToolsArg, *,
                 functions: Mapping[str, Callable[..., Any]] | None, max_steps: int, stream: bool,
                 reset_tool_choice: bool, concurrent: bool, tool_message_name: bool,
                 request_fields: dict[str, Any]):
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if request_fields.get("n") not in (None, 1):
            raise ValueError("run_tools follows one choice; n must be 1")
        if isinstance(tools, Toolbox):
            if functions:
                raise TypeError("give functions to the Toolbox, not beside it")
            self.toolbox = tools
        else:
            self.toolbox = Toolbox(tools, functions)
        self.model = model
        self.max_steps = max_steps
        self.stream = stream
        self.reset_tool_choice = reset_tool_choice
        self.concurrent = concurrent
        self.tool_message_name = tool_message_name
        self.request_fields = dict(request_fields)
        self.tool_choice = _tool_choice(self.request_fields.pop("tool_choice", None), self.toolbox)
        self.definitions = self.toolbox.definitions
        self.messages: list[dict[str, Any]] = [_message_dict(m) for m in messages]
        self.input_length = len(self.messages)
        self.steps: list[Step] = []
        self.finished = False
        self.cut_off = False

    def request(self) -> dict[str, Any]:
        """The keyword arguments of the next ``chat.completions.create`` call."""
        fields = {**self.request_fields, "model": self.model, "messages": list(self.messages)}
        if self.definitions:
            fields["tools"] = self.definitions
            choice = self.tool_choice
            if self.steps and self.reset_tool_choice and _is_forced(choice):
                choice = "auto"
            if choice is not None:
                fields["tool_choice"] = choice
        if self.stream:
            fields["stream"] = True
        return fields

    def take_reply(self, reply: Reply, tool_choice: Any) -> Step:
        seen: set[str] = set()
        calls = []
        for position, (call_id, name, arguments) in enumerate(reply.calls):
            if not call_id or call_id in seen:  # a server that sends no id, or the same one twice
                call_id = f"call_{uuid.uuid4().hex[:24]}"
            seen.add(call_id)
            calls.append(ToolCall(call_id, name, arguments, position))
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in calls
            ]
        elif message["content"] is None:
            message["content"] = ""  # an assistant message without tool calls needs content
        self.messages.append(message)
        step = Step(len(self.steps), message, reply.finish_reason, tool_choice, calls,
                    reasoning=reply.reasoning, usage=reply.usage)
        self.steps.append(step)
        if not calls:
            self.finished = True
        return step

    def take_executions(self, step: Step, executions: list[ToolExecution]) -> None:
        step.executions = executions
        for execution in executions:
            message = {"role": "tool", "tool_call_id": execution.call_id, "content": execution.content}
            if self.tool_message_name:
                message["name"] = execution.name
            self.messages.append(message)
        if len(self.steps) >= self.max_steps:
            self.finished = self.cut_off = True

    def result(self) -> ToolRunResult:
        return ToolRunResult(list(self.messages), list(self.steps), self.cut_off, self.input_length)


def _tool_choice(choice: Any, toolbox: Toolbox) -> Any:
    """``tool_choice`` as the API wants it; a tool's name or a Tool means that named function."""
    if isinstance(choice, Tool):
        choice = choice.name
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        if choice not in toolbox:
            raise ValueError(f"tool_choice {choice!r} is not one of the tools: {sorted(toolbox.tools)}")
        return {"type": "function", "function": {"name": choice}}
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        if name is not None and name not in toolbox:
            raise ValueError(f"tool_choice names {name!r}, which is not one of the tools")
        return dict(choice)
    return choice


def _is_forced(choice: Any) -> bool:
    return choice == "required" or isinstance(choice, Mapping)


def _message_dict(message: Any) -> dict[str, Any]:
    if isinstance(message, Mapping):
        return dict(message)
    if hasattr(message, "model_dump"):  # an SDK message object, e.g. a previous reply's message
        data = message.model_dump()
        return {key: data[key] for key in _MESSAGE_KEYS
                if key in data and (data[key] is not None or key == "content")}
    raise TypeError(f"a message must be a dict or an SDK message object, not {message!r}")


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)
