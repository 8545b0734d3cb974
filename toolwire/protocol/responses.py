"""OpenAI Responses API (`POST /v1/responses`): the request, its input items, and the response object.

Input items are told apart by `type`; an item without one is a message (OpenAI's "easy input
message"). Items and content parts this server cannot honour (images, files, built-in tool calls)
fail validation with the offending field named. Output items are returned as plain dicts built by
toolwire.api.responses_output; `ResponseObject` documents their shape for /openapi.json.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Discriminator, Field, Tag

from toolwire.protocol.base import OpenAIModel
from toolwire.protocol.fields import RequestBody, StrictModel, finite_number
from toolwire.protocol.limits import check_json_text

# ---------------------------------------------------------------- input items


class TextPart(OpenAIModel):
    """A text content part: `input_text` in requests, `output_text` in assistant turns sent back."""

    type: Literal["input_text", "output_text"]
    text: str


class MessageItem(OpenAIModel):
    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


def _json_within_limits(text: str) -> str:
    check_json_text(text)
    return text


class FunctionCallItem(OpenAIModel):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: Annotated[str, AfterValidator(_json_within_limits)]


class FunctionCallOutputItem(OpenAIModel):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.output, str):
            return self.output
        return "".join(part.text for part in self.output)


class ReasoningText(OpenAIModel):
    type: str = "reasoning_text"
    text: str


class ReasoningItem(OpenAIModel):
    type: Literal["reasoning"]
    summary: list[ReasoningText] = Field(default_factory=list)
    content: list[ReasoningText] | None = None

    def text(self) -> str:
        """The reasoning text; the summary when the item carries no content."""
        parts = self.content if self.content else self.summary
        return "".join(part.text for part in parts)


def _item_tag(value: Any) -> str:
    item_type = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return item_type or "message"


InputItem = Annotated[
    Union[
        Annotated[MessageItem, Tag("message")],
        Annotated[FunctionCallItem, Tag("function_call")],
        Annotated[FunctionCallOutputItem, Tag("function_call_output")],
        Annotated[ReasoningItem, Tag("reasoning")],
    ],
    Discriminator(_item_tag, custom_error_type="unsupported_item",
                  custom_error_message="unsupported input item type; this server takes message, "
                                       "function_call, function_call_output and reasoning items"),
]

# ---------------------------------------------------------------- request


class FunctionTool(StrictModel):
    """A tool as the Responses API spells it: flat, not nested under `function`. Any other `type`
    (web_search, file_search, ...) is refused by the handler with the field named."""

    type: str
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionToolChoice(OpenAIModel):
    type: Literal["function"]
    name: str


class TextFormat(StrictModel):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextConfig(OpenAIModel):
    format: TextFormat | None = None


class ReasoningConfig(OpenAIModel):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: str | None = None


class ResponsesRequest(RequestBody):
    model: str | None = None
    input: str | list[InputItem]
    instructions: str | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | FunctionToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: finite_number(ge=0.0, le=2.0) | None = None
    top_p: finite_number(gt=0.0, le=1.0) | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None


# Fields of OpenAI's Responses API that would change what is generated and that this server does
# not implement: a request that sets one is refused rather than silently answered differently.
UNSUPPORTED_FIELDS = ("n", "background", "conversation", "prompt", "top_logprobs", "max_tool_calls",
                      "context_management")

# ---------------------------------------------------------------- response


class InputTokensDetails(OpenAIModel):
    cached_tokens: int = 0


class OutputTokensDetails(OpenAIModel):
    reasoning_tokens: int = 0


class ResponseUsage(OpenAIModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class IncompleteDetails(OpenAIModel):
    reason: Literal["max_output_tokens"]


class ResponseObject(OpenAIModel):
    """The response as `POST /v1/responses` (not streamed) and `GET /v1/responses/{id}` return it."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["in_progress", "completed", "incomplete"]
    model: str
    # `reasoning`, `message` and `function_call` items, in the order the model wrote them.
    output: list[dict[str, Any]]
    usage: ResponseUsage | None = None
    incomplete_details: IncompleteDetails | None = None
    error: dict[str, Any] | None = None


class DeletedResponse(OpenAIModel):
    id: str
    object: Literal["response.deleted"] = "response.deleted"
    deleted: bool = True
