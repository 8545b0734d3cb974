"""OpenAI chat and text completion requests and responses: the chat layer's input and output.

These pydantic models are the API's documentation: FastAPI renders them into /openapi.json. Field
names and defaults follow OpenAI's API, plus the extensions the seeds use (LightLLM's
`separate_reasoning`, `chat_template_kwargs`) and vLLM's common sampling extras.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from toolwire.protocol.base import OpenAIModel, random_id
from toolwire.protocol.fields import RequestBody, Seed, StrictModel, finite_number
from toolwire.protocol.limits import check_json_text
from toolwire.protocol.tool_calls import (
    DeltaFunctionCall, DeltaMessage, DeltaToolCall, ExtractedToolCallInformation, FunctionCall, ToolCall,
)


# ---------------------------------------------------------------- tools and tool calls


class FunctionDefinition(StrictModel):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ChatCompletionToolParam(OpenAIModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(OpenAIModel):
    name: str


class ChatCompletionNamedToolChoiceParam(OpenAIModel):
    type: Literal["function"] = "function"
    function: NamedFunction


ToolChoice = Union[Literal["none", "auto", "required"], ChatCompletionNamedToolChoiceParam]




# ---------------------------------------------------------------- messages


class TextContentPart(OpenAIModel):
    type: Literal["text"] = "text"
    text: str


class ImageURL(OpenAIModel):
    url: str
    detail: str | None = None


class ImageContentPart(OpenAIModel):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


ContentPart = Union[TextContentPart, ImageContentPart]
MessageContent = Union[str, list[ContentPart], None]


class BaseMessage(OpenAIModel):
    name: str | None = None

    def text(self) -> str | None:
        """The message's content as one string (text parts joined)."""
        content = getattr(self, "content", None)
        if content is None or isinstance(content, str):
            return content
        return "".join(part.text for part in content if isinstance(part, TextContentPart))


class SystemMessage(BaseMessage):
    role: Literal["system"]
    content: str | list[TextContentPart]


class DeveloperMessage(BaseMessage):
    role: Literal["developer"]
    content: str | list[TextContentPart]


class UserMessage(BaseMessage):
    role: Literal["user"]
    content: str | list[ContentPart]


def _arguments_within_limits(call: ToolCall) -> ToolCall:
    check_json_text(call.function.arguments, "function.arguments")
    return call


class AssistantMessage(BaseMessage):
    role: Literal["assistant"]
    content: str | list[TextContentPart] | None = None
    reasoning_content: str | None = None
    # The same text under the name some clients (and --reasoning-field reasoning) use.
    reasoning: str | None = None
    tool_calls: list[Annotated[ToolCall, AfterValidator(_arguments_within_limits)]] | None = None
    refusal: str | None = None

    @property
    def reasoning_text(self) -> str | None:
        return self.reasoning_content if self.reasoning_content is not None else self.reasoning


class ToolMessage(BaseMessage):
    role: Literal["tool"]
    content: str | list[TextContentPart]
    tool_call_id: str


class FunctionMessage(BaseMessage):
    """The deprecated `function` role, still sent by some clients."""

    role: Literal["function"]
    content: str | None
    name: str


ChatMessage = Union[
    SystemMessage, DeveloperMessage, UserMessage, AssistantMessage, ToolMessage, FunctionMessage
]


# ---------------------------------------------------------------- request


class StreamOptions(StrictModel):
    include_usage: bool = False
    continuous_usage_stats: bool = False


class JsonSchemaFormat(StrictModel):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(populate_by_name=True)


class ResponseFormat(OpenAIModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class SamplingFields(RequestBody):
    """Sampling fields shared by chat and text completions (OpenAI's and vLLM's extras), each held
    to the range where the sampling math is defined."""

    max_tokens: int | None = Field(default=None, ge=1)
    temperature: finite_number(ge=0.0, le=2.0) | None = None
    top_p: finite_number(gt=0.0, le=1.0) | None = None
    n: int = Field(default=1, ge=1, le=128)
    stop: str | list[str] | None = None
    seed: Seed | None = None
    presence_penalty: finite_number(ge=-2.0, le=2.0) | None = None
    frequency_penalty: finite_number(ge=-2.0, le=2.0) | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    # vLLM extensions
    # -1 and 0: no top-k cut (vLLM's meaning).
    top_k: int | None = Field(default=None, ge=-1)
    min_p: finite_number(ge=0.0, le=1.0) | None = None
    # Logits are divided or multiplied by it: within [0.01, 100] both stay finite.
    repetition_penalty: finite_number(ge=0.01, le=100.0) | None = None
    min_tokens: int = Field(default=0, ge=0)
    ignore_eos: bool = False
    stop_token_ids: list[int] | None = None
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    guided_json: dict[str, Any] | str | None = None
    guided_regex: str | None = None
    guided_choice: list[str] | None = None
    guided_grammar: str | None = None
    # Admission order while requests wait for the running batch: lower first (vLLM's meaning), then
    # arrival order.
    priority: int = Field(default=0, ge=-(2**63), le=2**63 - 1)

    def stop_strings(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(SamplingFields):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    tools: list[ChatCompletionToolParam] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    # Extensions: chat template arguments (e.g. enable_thinking), LightLLM's reasoning switch,
    # and vLLM's template controls.
    chat_template_kwargs: dict[str, Any] | None = None
    separate_reasoning: bool = True
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    echo: bool = False

    @model_validator(mode="after")
    def _check_logprobs(self) -> "ChatCompletionRequest":
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs requires logprobs to be true")
        return self

    @property
    def effective_tool_choice(self) -> ToolChoice:
        """OpenAI's default: `auto` when tools are given, else `none`."""
        if self.tool_choice is not None:
            return self.tool_choice
        return "auto" if self.tools else "none"

    @property
    def named_tool(self) -> str | None:
        choice = self.tool_choice
        return choice.function.name if isinstance(choice, ChatCompletionNamedToolChoiceParam) else None

    @property
    def max_new_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens



class CompletionRequest(SamplingFields):
    model: str | None = None
    prompt: str | list[str] | list[int] | list[list[int]]
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=20)
    suffix: str | None = None
    best_of: int | None = None
    response_format: ResponseFormat | None = None


# ---------------------------------------------------------------- responses


class UsageInfo(OpenAIModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class PromptTokensDetails(OpenAIModel):
    cached_tokens: int = 0


class CompletionTokensDetails(OpenAIModel):
    reasoning_tokens: int = 0


class ChatUsageInfo(UsageInfo):
    """A chat completion's usage: prompt tokens served from the prefix cache, and the reply's
    reasoning tokens (its reasoning text, tokenized)."""

    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class TopLogprob(OpenAIModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChoiceLogprobs(OpenAIModel):
    content: list[TokenLogprob] | None = None


class ChatCompletionMessage(OpenAIModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "abort"]


class ChatCompletionChoice(OpenAIModel):
    index: int
    message: ChatCompletionMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None
    stop_reason: int | str | None = None


class ChatCompletionResponse(OpenAIModel):
    id: str = Field(default_factory=lambda: random_id("chatcmpl-"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatCompletionChoice]
    usage: ChatUsageInfo
    system_fingerprint: str | None = None



    def is_empty(self) -> bool:
        return not (self.role or self.content or self.reasoning_content or self.tool_calls)


class ChatCompletionStreamChoice(OpenAIModel):
    index: int
    delta: DeltaMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None
    stop_reason: int | str | None = None


class ChatCompletionChunk(OpenAIModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatCompletionStreamChoice]
    usage: UsageInfo | None = None
    system_fingerprint: str | None = None
