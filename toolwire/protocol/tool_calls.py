"""Tool calls as values: whole (`ToolCall`), as streamed deltas (`DeltaToolCall`, `DeltaMessage`), and a
parser's whole result (`ExtractedToolCallInformation`). OpenAI's shapes, which the seeds' parser
interface uses; nothing here knows about HTTP."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolwire.protocol.base import OpenAIModel, random_id


class FunctionCall(OpenAIModel):
    name: str
    # Always a JSON-encoded object, as in OpenAI's API.
    arguments: str


class ToolCall(OpenAIModel):
    id: str = Field(default_factory=lambda: random_id("call_"))
    type: Literal["function"] = "function"
    function: FunctionCall


class DeltaFunctionCall(OpenAIModel):
    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(OpenAIModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: DeltaFunctionCall | None = None


class ExtractedToolCallInformation(OpenAIModel):
    tools_called: bool
    tool_calls: list[ToolCall] = Field(default_factory=list)
    content: str | None = None


class DeltaMessage(OpenAIModel):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[DeltaToolCall] = Field(default_factory=list)
