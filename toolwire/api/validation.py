"""Request checks that pydantic's field types cannot express: the model name, tools and tool_choice,
tool schemas, context length, and sampling values that depend on the model (logit_bias ids).

Each failure raises APIError with OpenAI's status and a message that names the offending field."""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from toolwire.api.errors import APIError
from toolwire.api.protocol import (
    ChatCompletionNamedToolChoiceParam,
    ChatCompletionRequest,
    CompletionRequest,
    SamplingFields,
)


def check_model(requested: str | None, served_names: list[str]) -> None:
    """No model, or one of the served names (clients that omit `model` get the served one)."""
    if requested is None or requested in served_names:
        return
    raise APIError(f"The model `{requested}` does not exist. Served models: {', '.join(served_names)}.",
                   404, param="model", code="model_not_found")


def check_tool_schema(parameters: dict[str, Any] | None, index: int) -> None:
    if parameters is None:
        return
    param = f"tools[{index}].function.parameters"
    if not isinstance(parameters, dict):
        raise APIError("a tool's parameters must be a JSON Schema object", 400, param=param,
                       code="invalid_tool_schema")
    validator_class = jsonschema.validators.validator_for(parameters, default=jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(parameters)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise APIError(f"{param} is not a valid JSON Schema: {exc.message} (at {where})", 400, param=param,
                       code="invalid_tool_schema") from None
    if parameters.get("type", "object") != "object":
        raise APIError(f"{param} must describe an object (\"type\": \"object\"), got type "
                       f"{parameters.get('type')!r}", 400, param=param, code="invalid_tool_schema")


def check_tools(request: ChatCompletionRequest, tool_parser_available: bool) -> None:
    tools = request.tools or []
    names: set[str] = set()
    for i, tool in enumerate(tools):
        name = tool.function.name
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            raise APIError(f"tools[{i}].function.name must be 1 to 64 characters without spaces, got {name!r}",
                           400, param=f"tools[{i}].function.name")
        if name in names:
            raise APIError(f"tools[{i}].function.name {name!r} is defined twice", 400,
                           param=f"tools[{i}].function.name")
        names.add(name)
        check_tool_schema(tool.function.parameters, i)

    choice = request.tool_choice
    if isinstance(choice, ChatCompletionNamedToolChoiceParam):
        if not tools:
            raise APIError("tool_choice names a function but no tools were given", 400, param="tool_choice")
        if choice.function.name not in names:
            raise APIError(f"tool_choice names function {choice.function.name!r}, which is not among the "
                           f"tools offered ({', '.join(sorted(names))})", 400, param="tool_choice")
    elif choice == "required" and not tools:
        raise APIError("tool_choice \"required\" needs at least one tool in `tools`", 400, param="tool_choice")

    if tools and request.effective_tool_choice != "none" and not tool_parser_available:
        raise APIError(
            "this server cannot parse tool calls for its model: start it with --tool-call-parser NAME "
            "(or a --chat-template whose tool markers identify the format)", 400, param="tool_choice")


def check_sampling(request: SamplingFields, vocab_size: int | None) -> None:
    if request.logit_bias:
        for key, bias in request.logit_bias.items():
            try:
                token_id = int(key)
            except (TypeError, ValueError):
                raise APIError(f"logit_bias keys must be token ids, got {key!r}", 400, param="logit_bias") from None
            if token_id < 0 or (vocab_size is not None and token_id >= vocab_size):
                raise APIError(f"logit_bias token id {token_id} is outside the vocabulary (0..{vocab_size - 1})"
                               if vocab_size else f"logit_bias token id {token_id} is negative",
                               400, param="logit_bias")
            if not -100 <= bias <= 100:
                raise APIError(f"logit_bias values must be in [-100, 100], got {bias}", 400, param="logit_bias")
    if request.stop_token_ids and vocab_size is not None:
        for token_id in request.stop_token_ids:
            if not 0 <= token_id < vocab_size:
                raise APIError(f"stop_token_ids: {token_id} is outside the vocabulary", 400, param="stop_token_ids")
    if request.stream_options is not None and not request.stream:
        raise APIError("stream_options is only allowed when stream is true", 400, param="stream_options")


def check_length(prompt_tokens: int, max_tokens: int | None, max_model_len: int, param: str) -> int:
    """Returns the max_tokens to use: the request's, or all the context that is left."""
    if prompt_tokens >= max_model_len:
        raise APIError(
            f"This model's maximum context length is {max_model_len} tokens. However, your prompt has "
            f"{prompt_tokens} tokens, which leaves no room for a reply. Please shorten the prompt.",
            400, param=param, code="context_length_exceeded")
    if max_tokens is None:
        return max_model_len - prompt_tokens
    if prompt_tokens + max_tokens > max_model_len:
        raise APIError(
            f"This model's maximum context length is {max_model_len} tokens. However, you requested "
            f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the prompt, {max_tokens} for the "
            f"completion). Please reduce the prompt or max_tokens.",
            400, param="max_tokens", code="context_length_exceeded")
    return max_tokens


def check_room_for_output(constraint, max_tokens: int) -> None:
    """A grammar-held output that cannot be complete within max_tokens is refused up front (the
    grammar's shortest complete output says what would do) rather than answered invalid."""
    shortest = constraint.shortest_output_tokens() if constraint is not None else None
    if shortest is not None and max_tokens < shortest:
        raise APIError(
            f"max_tokens is {max_tokens}, but the shortest output this request's constraint (its "
            f"tool_choice or response_format) allows takes {shortest} tokens: set max_tokens to at least "
            f"{shortest}.", 400, param="max_tokens", code="max_tokens_too_small")


def check_completion_request(request: CompletionRequest) -> None:
    if request.suffix:
        raise APIError("suffix is not supported", 400, param="suffix")
    if request.best_of is not None and request.best_of != request.n:
        raise APIError("best_of other than n is not supported", 400, param="best_of")
