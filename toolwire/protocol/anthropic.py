"""Anthropic Messages API requests (`POST /v1/messages`, `/v1/messages/count_tokens`).

Only what the chat layer can honour is modelled: text, tool_use, tool_result and thinking blocks,
custom tools, tool_choice and the sampling fields. Content blocks and tools of any other kind
(images, documents, server tools...) are refused by name rather than silently ignored; unknown
top-level fields are accepted and ignored, as elsewhere.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from toolwire.protocol.base import OpenAIModel
from toolwire.protocol.fields import RequestBody, StrictModel, finite_number

_BLOCK_TYPES = {"text", "tool_use", "tool_result", "thinking", "redacted_thinking"}
# Top-level fields that would change the reply in ways this server does not implement.
_UNSUPPORTED_FIELDS = ("output_format", "container", "mcp_servers")


def _refuse_unknown_blocks(value: Any) -> Any:
    """A clear 'not supported' for block types this server does not handle (instead of pydantic's
    union noise)."""
    if isinstance(value, list):
        for block in value:
            kind = block.get("type") if isinstance(block, dict) else None
            if isinstance(kind, str) and kind not in _BLOCK_TYPES:
                raise ValueError(f"content blocks of type '{kind}' are not supported by this server")
    return value


class TextBlock(OpenAIModel):
    type: Literal["text"]
    text: str


class ToolUseBlock(OpenAIModel):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(StrictModel):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[TextBlock] | None = None
    is_error: bool = False

    @field_validator("content", mode="before")
    @classmethod
    def _known_blocks_only(cls, value: Any) -> Any:
        return _refuse_unknown_blocks(value)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(block.text for block in self.content)


class ThinkingBlock(OpenAIModel):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(OpenAIModel):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[
    Union[TextBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock],
    Field(discriminator="type"),
]


class Message(OpenAIModel):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]

    @field_validator("content", mode="before")
    @classmethod
    def _known_blocks_only(cls, value: Any) -> Any:
        return _refuse_unknown_blocks(value)


class Tool(OpenAIModel):
    """A client tool. Anthropic's server tools (web search, bash, text editor...) carry a versioned
    `type` and are refused."""

    type: Literal["custom"] | None = None
    name: str
    description: str | None = None
    input_schema: dict[str, Any]

    @field_validator("type", mode="before")
    @classmethod
    def _client_tools_only(cls, value: Any) -> Any:
        if value not in (None, "custom"):
            raise ValueError(f"tools of type '{value}' (server tools) are not supported by this server")
        return value


class ToolChoiceAuto(StrictModel):
    type: Literal["auto"]
    disable_parallel_tool_use: bool = False


class ToolChoiceAny(StrictModel):
    type: Literal["any"]
    disable_parallel_tool_use: bool = False


class ToolChoiceTool(StrictModel):
    type: Literal["tool"]
    name: str
    disable_parallel_tool_use: bool = False


class ToolChoiceNone(OpenAIModel):
    type: Literal["none"]


ToolChoice = Annotated[Union[ToolChoiceAuto, ToolChoiceAny, ToolChoiceTool, ToolChoiceNone],
                       Field(discriminator="type")]


class ThinkingEnabled(StrictModel):
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=1)


class ThinkingDisabled(OpenAIModel):
    type: Literal["disabled"]


class ThinkingAdaptive(OpenAIModel):
    """The model decides whether to think: here, the chat template's default."""

    type: Literal["adaptive"]


Thinking = Annotated[Union[ThinkingEnabled, ThinkingDisabled, ThinkingAdaptive], Field(discriminator="type")]


class Metadata(OpenAIModel):
    user_id: str | None = None


class CountTokensRequest(RequestBody):
    """What decides the prompt: `/v1/messages/count_tokens` takes just this."""

    model: str
    messages: list[Message] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in _UNSUPPORTED_FIELDS:
                if data.get(name) is not None:
                    raise ValueError(f"`{name}` is not supported by this server")
            if isinstance(data.get("output_config"), dict) and data["output_config"].get("format") is not None:
                raise ValueError("`output_config.format` (structured outputs) is not supported by this server")
        return data


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    temperature: finite_number(ge=0.0, le=1.0) | None = None
    top_p: finite_number(gt=0.0, le=1.0) | None = None
    top_k: int | None = Field(default=None, ge=0)
    stream: bool = False
    metadata: Metadata | None = None
