"""What a request asks the model's output to be: the specs the grammar backend compiles.

A spec is plain data. Its canonical JSON (`spec.key()`) is the compile cache's key, so two requests
that ask for the same thing share one compiled grammar. Key order inside schemas is kept (a JSON
schema's property order is the order the model is steered to write them in).

- `ToolCallsSpec`: tool calls in a family's own format (`format` is the name of a registered tool
  parser; its family supplies the grammar).
- `JsonSpec`, `RegexSpec`, `ChoiceSpec`, `GrammarSpec`: `response_format` and vLLM's `guided_*`.

Every spec may carry a `Reasoning` (from the reasoning parser's `reasoning_region`): the constraint
then starts only after the reasoning ends.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal, Union

from toolwire.formats.family import ToolCallFamily
from toolwire.formats.reasoning import Reasoning
from toolwire.formats.registry import tool_call_family
from toolwire.guided.errors import GuidedDecodingError
from toolwire.guided.limits import check_schema

ToolMode = Literal["auto", "required", "named"]


@dataclass(frozen=True)
class Tool:
    """One offered function: `parameters` is its JSON schema (None: any JSON object)."""

    name: str
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class JsonSpec:
    """A JSON value held to `schema`; None: any JSON object (`response_format` json_object)."""

    schema: dict[str, Any] | None = None
    reasoning: Reasoning | None = None
    kind: Literal["json"] = "json"

    def __post_init__(self) -> None:
        if self.schema is not None:
            check_schema(self.schema, param="response_format")


@dataclass(frozen=True)
class RegexSpec:
    pattern: str
    reasoning: Reasoning | None = None
    kind: Literal["regex"] = "regex"


@dataclass(frozen=True)
class ChoiceSpec:
    """Exactly one of the strings (vLLM's guided_choice)."""

    choices: tuple[str, ...]
    reasoning: Reasoning | None = None
    kind: Literal["choice"] = "choice"

    def __post_init__(self) -> None:
        if not self.choices:
            raise GuidedDecodingError("guided_choice needs at least one choice", param="guided_choice")
        object.__setattr__(self, "choices", tuple(self.choices))


@dataclass(frozen=True)
class GrammarSpec:
    """A context-free grammar: EBNF/GBNF (rules written `name ::= ...`, root rule `root`) or Lark
    (rules written `name: ...`, root rule `start`), told apart by `::=`."""

    grammar: str
    reasoning: Reasoning | None = None
    kind: Literal["grammar"] = "grammar"

    @property
    def syntax(self) -> Literal["ebnf", "lark"]:
        return "ebnf" if "::=" in self.grammar else "lark"


TextSpec = Union[JsonSpec, RegexSpec, ChoiceSpec, GrammarSpec]


@dataclass(frozen=True)
class ToolCallsSpec:
    """Tool calls written in a family's trained format: `format` is the family, or the name of a
    registered tool parser (replaced by its family).

    - mode `required`: optional leading whitespace, then one or more calls (exactly one when
      `parallel` is false), then the end of the output. `named`: exactly one call, of `name`.
      `auto`: free text; once the format's start marker appears, the calls that follow are
      constrained (and with `parallel` false, the output ends after the first call).
    - Names are limited to `tools`; arguments are held to each tool's `parameters` schema unless
      `enforce_arguments` is false (then any JSON object; only allowed in `auto` mode).
    - Properties a schema does not list are rejected, for strict and non-strict tools alike, unless
      the schema itself allows them (`additionalProperties`). `allow_extra_properties` relaxes this
      for the non-strict tools (`strict` not true) only.
    - `content`: in `auto` mode, what a reply that makes no call must look like (a `response_format`);
      the calls may then only come first. None: free text.
    - `payload`: one of the format's payload kinds (`Payload.value`) to write instead of its canonical
      first one, for model versions that write another (mistral v11+: "name_then_json").
    """

    format: ToolCallFamily | str
    tools: tuple[Tool, ...]
    mode: ToolMode = "auto"
    name: str | None = None
    parallel: bool = True
    enforce_arguments: bool = True
    allow_extra_properties: bool = False
    content: TextSpec | None = None
    reasoning: Reasoning | None = None
    payload: str | None = None
    kind: Literal["tool_calls"] = "tool_calls"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tools", tuple(self.tools))
        if isinstance(self.format, str):
            try:
                object.__setattr__(self, "format", tool_call_family(self.format))
            except KeyError as exc:
                raise GuidedDecodingError(exc.args[0], param="tool_choice") from None
        if self.mode not in ("auto", "required", "named"):
            raise GuidedDecodingError(f"unknown tool mode {self.mode!r}", param="tool_choice")
        names = [tool.name for tool in self.tools]
        if not names:
            raise GuidedDecodingError("tool calls were requested but no tools were offered", param="tools")
        if len(set(names)) != len(names):
            duplicate = next(name for name in names if names.count(name) > 1)
            raise GuidedDecodingError(f"tool {duplicate!r} is offered twice", tool=duplicate, param="tools")
        if self.mode == "named":
            if self.name not in names:
                raise GuidedDecodingError(
                    f"tool_choice names {self.name!r}, which is not among the offered tools",
                    tool=self.name, param="tool_choice")
        elif self.name is not None:
            raise GuidedDecodingError("a tool name is only given with mode 'named'", param="tool_choice")
        if not self.enforce_arguments and self.mode != "auto":
            raise GuidedDecodingError("argument enforcement can only be switched off in auto mode",
                                      param="tool_choice")
        if self.content is not None and self.mode != "auto":
            raise GuidedDecodingError("a content constraint only applies in auto mode", param="response_format")
        for tool in self.tools:
            _check_parameters(tool)

    @property
    def callable_tools(self) -> tuple[Tool, ...]:
        """The tools the model may call: all of them, or only the named one."""
        if self.mode == "named":
            return tuple(tool for tool in self.tools if tool.name == self.name)
        return self.tools


GuidedSpec = Union[ToolCallsSpec, TextSpec]


def spec_key(spec: GuidedSpec) -> str:
    """The canonical JSON of a spec: equal for equal specs (dict key order is significant; a family
    is its name)."""
    return json.dumps(asdict(spec), separators=(",", ":"), ensure_ascii=False, default=_reject)


def _reject(value: Any) -> Any:
    if isinstance(value, ToolCallFamily):
        return value.name
    raise GuidedDecodingError(f"a guided decoding spec holds a value that is not JSON: {value!r}")


def _check_parameters(tool: Tool) -> None:
    schema = tool.parameters
    if schema is None:
        return
    if not isinstance(schema, dict):
        raise GuidedDecodingError(f"tool {tool.name!r}: parameters must be a JSON schema object",
                                  tool=tool.name, param="tools")
    kind = schema.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and "object" in kind):
        raise GuidedDecodingError(
            f"tool {tool.name!r}: parameters must describe a JSON object (got type {kind!r})",
            tool=tool.name, param="tools")
    check_schema(schema, param="tools", tool=tool.name)


__all__ = [
    "ChoiceSpec", "GrammarSpec", "GuidedSpec", "JsonSpec", "Reasoning", "RegexSpec", "TextSpec",
    "Tool", "ToolCallsSpec", "ToolMode", "spec_key",
]
