"""What a tool run produces: the transcript, each step, each tool execution, and the events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for, as it appears in the assistant message."""

    id: str
    name: str
    arguments: str  # the JSON text, as the model wrote it
    index: int = 0  # position in the reply's tool_calls


@dataclass
class ToolExecution:
    """One executed call: what was asked, what came back, and what was sent to the model."""

    call_id: str
    name: str
    arguments: str  # the raw JSON text from the model
    args: dict[str, Any] | None  # that text parsed (before coercion); None when it did not parse
    result: Any = None  # what the function returned (None on error)
    error: str | None = None  # why it failed, as told to the model; None on success
    content: str = ""  # the `tool` message content sent back
    step: int = 0  # the index of the step whose reply asked for it

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Step:
    """One model call and the tool executions its reply asked for."""

    index: int  # 0-based
    message: dict[str, Any]  # the assistant message appended to the transcript
    finish_reason: str | None
    tool_choice: Any  # the tool_choice this request sent (None when it sent none)
    tool_calls: list[ToolCall] = field(default_factory=list)
    executions: list[ToolExecution] = field(default_factory=list)
    reasoning: str | None = None  # reasoning text, when the server splits it out (not sent back)
    usage: Any = None

    @property
    def text(self) -> str | None:
        return self.message.get("content")


@dataclass
class ToolRunResult:
    """The outcome of ``run_tools``.

    ``messages`` is the whole transcript: the messages given, then per step the assistant message
    and one ``tool`` message per call. It is always valid to send again (every tool call has its
    result), so a run that was cut off can be continued with ``run_tools(..., result.messages, ...)``.
    """

    messages: list[dict[str, Any]]
    steps: list[Step]
    cut_off: bool  # True when max_steps was reached while the model still asked for tools
    input_length: int  # how many of `messages` were given to run_tools

    @property
    def final_text(self) -> str | None:
        """The text of the reply that asked for no tools; None when the run was cut off."""
        if self.cut_off or not self.steps:
            return None
        return self.steps[-1].text

    @property
    def executions(self) -> list[ToolExecution]:
        return [execution for step in self.steps for execution in step.executions]

    @property
    def new_messages(self) -> list[dict[str, Any]]:
        return self.messages[self.input_length:]


# --- events, for iter_tools / aiter_tools ---------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    """Reply text as it arrives (whole per step when not streaming)."""

    text: str
    step: int


@dataclass(frozen=True)
class ToolCallRequested:
    """A fully assembled call, about to be executed."""

    call: ToolCall
    step: int


@dataclass(frozen=True)
class ToolCallFinished:
    execution: ToolExecution


@dataclass(frozen=True)
class StepFinished:
    step: Step


RunEvent = Union[TextDelta, ToolCallRequested, ToolCallFinished, StepFinished]
