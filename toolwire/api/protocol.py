"""The HTTP API's models: OpenAI's chat and completion models (from `toolwire.protocol`, re-exported
here) and the server's own (model list, errors, tokenize)."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field, model_validator

from toolwire.protocol.base import OpenAIModel, random_id
from toolwire.protocol.fields import RequestBody
from toolwire.protocol.chat import (
    ChatCompletionNamedToolChoiceParam,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatCompletionToolParam,
    ChatMessage,
    CompletionRequest,
    FinishReason,
    SamplingFields,
    TokenLogprob,
    TopLogprob,
    UsageInfo,
)
from toolwire.protocol.tool_calls import DeltaMessage, DeltaToolCall

__all__ = [  # re-exported for the HTTP layer
    "ChatCompletionNamedToolChoiceParam", "ChatCompletionRequest", "ChatCompletionResponse", "CompletionRequest",
    "DeltaMessage", "DeltaToolCall", "SamplingFields", "TokenLogprob", "TopLogprob", "UsageInfo", "random_id",
]


class CompletionLogprobs(OpenAIModel):
    text_offset: list[int] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = Field(default_factory=list)


class CompletionChoice(OpenAIModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: FinishReason | None = None
    stop_reason: int | str | None = None


class CompletionResponse(OpenAIModel):
    id: str = Field(default_factory=lambda: random_id("cmpl-"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: UsageInfo | None = None


class ModelCard(OpenAIModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "toolwire"
    root: str | None = None
    max_model_len: int | None = None


class ModelList(OpenAIModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorInfo(OpenAIModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class ErrorResponse(OpenAIModel):
    error: ErrorInfo


# ---------------------------------------------------------------- tokenizer endpoints (vLLM's shapes)


class TokenizeRequest(RequestBody):
    """Either `prompt` (text) or `messages` (rendered with the chat template first)."""

    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    tools: list[ChatCompletionToolParam] | None = None
    add_special_tokens: bool = True
    add_generation_prompt: bool = True
    chat_template_kwargs: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> "TokenizeRequest":
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of `prompt` and `messages`")
        return self


class TokenizeResponse(OpenAIModel):
    count: int
    max_model_len: int
    tokens: list[int]


class DetokenizeRequest(RequestBody):
    model: str | None = None
    tokens: list[int]


class DetokenizeResponse(OpenAIModel):
    prompt: str
