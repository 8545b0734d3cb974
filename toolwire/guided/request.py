"""From an OpenAI chat request to the spec its reply is held to (or None: unconstrained).

Precedence, following OpenAI's semantics:
- tool_choice `required` / a named tool: the reply is tool calls; `response_format` (which shapes a
  text reply) does not apply. vLLM's `guided_*` fields do not combine with it: a 400.
- tool_choice `auto` with tools: free text in which the format's start marker opens constrained calls;
  with a `response_format` / `guided_*`, either calls or a reply in that format.
- tool_choice `none`, or no tools: `response_format` / `guided_*` alone.
At most one of `response_format` (json_object / json_schema) and the `guided_*` fields may be set.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.guided.errors import GuidedDecodingError
from toolwire.formats.family import ToolCallFamily
from toolwire.guided.specs import (
    ChoiceSpec, GrammarSpec, GuidedSpec, JsonSpec, Reasoning, RegexSpec, TextSpec, Tool, ToolCallsSpec,
)


def spec_from_request(
    request: ChatCompletionRequest,
    family: ToolCallFamily | None,
    *,
    reasoning: Reasoning | None = None,
    constrain_auto: bool = True,
    enforce_auto_arguments: bool = True,
    allow_extra_properties: bool = False,
    payload: str | None = None,
) -> GuidedSpec | None:
    """The spec for `request`, whose tool calls are written in `family`'s format (None: no tool parser).

    `reasoning`: the reply starts with reasoning, after which the constraint applies (the reasoning
    parser's `reasoning_region`). `constrain_auto`: whether tool_choice auto constrains the calls the model
    chooses to make; `enforce_auto_arguments`: whether those calls' arguments are held to their
    schemas (names always are). `allow_extra_properties`: non-strict tools' arguments may carry
    properties their schema does not list. `payload`: the format's payload kind the served model
    writes, when not the format's canonical one (see ToolCallsSpec).
    """
    text = text_spec(request)
    choice = request.effective_tool_choice
    tools = request.tools or []
    named = request.named_tool
    if (choice == "required" or named) and not tools:
        raise GuidedDecodingError(f"tool_choice {'required' if choice == 'required' else named!r} "
                                  "needs tools", param="tool_choice")
    if choice == "none" or not tools:
        return _with_reasoning(text, reasoning)
    mode = "named" if named else choice
    if mode == "auto" and (not constrain_auto or family is None or not family.constrainable):
        return _with_reasoning(text, reasoning)
    if mode != "auto":
        if _guided_fields(request):
            raise GuidedDecodingError("guided_json / guided_regex / guided_choice / guided_grammar cannot "
                                      "be combined with a required or named tool_choice", param="tool_choice")
        if family is None:
            raise GuidedDecodingError("tool_choice 'required' or a named tool needs a tool-call parser "
                                      "(start the server with --tool-call-parser)", param="tool_choice")
        if not family.constrainable:
            family.calls_grammar((), parallel=False)  # raises the family's own reason
        text = None
    return ToolCallsSpec(
        format=family,
        tools=tuple(Tool(t.function.name, t.function.parameters, t.function.strict) for t in tools),
        mode=mode,
        name=named,
        parallel=request.parallel_tool_calls,
        enforce_arguments=enforce_auto_arguments or mode != "auto",
        allow_extra_properties=allow_extra_properties,
        content=text,
        reasoning=reasoning,
        payload=payload,
    )


def text_spec(request: Any) -> TextSpec | None:
    """The constraint on a text reply: `response_format` or one of vLLM's `guided_*` fields."""
    guided = _guided_fields(request)
    if len(guided) > 1:
        raise GuidedDecodingError(f"only one of {', '.join(guided)} may be set", param=guided[1])
    response_format = getattr(request, "response_format", None)
    format_type = response_format.type if response_format is not None else "text"
    if guided and format_type != "text":
        raise GuidedDecodingError(f"{guided[0]} cannot be combined with response_format {format_type}",
                                  param=guided[0])
    if format_type == "json_object":
        return JsonSpec(None)
    if format_type == "json_schema":
        schema = response_format.json_schema.schema_ if response_format.json_schema else None
        if not isinstance(schema, dict):
            raise GuidedDecodingError("response_format json_schema needs a schema object",
                                      param="response_format")
        return JsonSpec(schema)
    if request.guided_json is not None:
        schema = request.guided_json
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's limit
                raise GuidedDecodingError(f"guided_json is not valid JSON: {exc}", param="guided_json") from exc
        if not isinstance(schema, dict):
            raise GuidedDecodingError("guided_json must be a JSON schema object", param="guided_json")
        return JsonSpec(schema)
    if request.guided_regex is not None:
        return RegexSpec(request.guided_regex)
    if request.guided_choice is not None:
        return ChoiceSpec(tuple(request.guided_choice))
    if request.guided_grammar is not None:
        return GrammarSpec(request.guided_grammar)
    return None


def _guided_fields(request: Any) -> list[str]:
    names = ("guided_json", "guided_regex", "guided_choice", "guided_grammar")
    return [name for name in names if getattr(request, name, None) is not None]


def _with_reasoning(spec: TextSpec | None, reasoning: Reasoning | None) -> TextSpec | None:
    if spec is None or reasoning is None:
        return spec
    return dataclasses.replace(spec, reasoning=reasoning)
