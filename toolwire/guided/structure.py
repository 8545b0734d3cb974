"""From a spec to a grammar request: what the backend compiles.

Tool calls become an xgrammar structural tag (`toolwire.formats.grammar` nodes). The family of the
spec's tool parser supplies the calls' own grammar (`ToolCallFamily.calls_grammar`: a trigger, then
the body of a block), so the model is steered to write exactly what the family's parser reads; this
module composes it by tool_choice:

- `required` / named: up to LEADING_WS, then the calls (blocks repeated when the family writes one
  call per block and several calls are allowed), then only a stop token. With `parallel` false, or a
  named tool, exactly one call.
- `auto`: free text in which the trigger opens a block (the reply may go on after it, or must end
  when parallel calls are off). Families whose block may open without its trigger (llama3_json's bare
  `{`, pythonic's `[`): a reply that opens with that character is calls; any other reply is free text.

The other specs map onto json_schema / regex / ebnf / lark requests, or onto a structural tag when a
reasoning block comes first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from toolwire.formats.grammar import (
    WS, GuidedDecodingError, Node, any_text, const, dispatch, ebnf, ebnf_literal, either,
    json_schema, optional, regex, seq, star, tag,
)
from toolwire.guided.schema import arguments_schema
from toolwire.guided.specs import (
    ChoiceSpec, GrammarSpec, GuidedSpec, JsonSpec, Reasoning, RegexSpec, ToolCallsSpec,
)

GrammarKind = Literal["structural_tag", "json_schema", "regex", "ebnf", "lark"]

# Whitespace before the first call when calls are required.
LEADING_WS = r"[ \t\r\n]{0,3}"


@dataclass(frozen=True)
class GrammarRequest:
    """What the backend compiles: `source` is JSON for structural tags and schemas, else text."""

    kind: GrammarKind
    source: str


Node = dict[str, Any]


def build_grammar(spec: GuidedSpec) -> GrammarRequest:
    if isinstance(spec, ToolCallsSpec):
        return _structural(tool_calls_node(spec), spec.reasoning)
    if spec.reasoning is not None:  # the blank line after the reasoning is not part of the reply
        return _structural(seq(regex(LEADING_WS), text_node(spec)), spec.reasoning)
    if isinstance(spec, JsonSpec):
        return GrammarRequest("json_schema", _dumps(spec.schema if spec.schema is not None else {"type": "object"}))
    if isinstance(spec, RegexSpec):
        return GrammarRequest("regex", spec.pattern)
    if isinstance(spec, ChoiceSpec):
        return GrammarRequest("ebnf", "root ::= " + " | ".join(ebnf_literal(c) for c in spec.choices))
    if isinstance(spec, GrammarSpec):
        return GrammarRequest(spec.syntax, spec.grammar)
    raise TypeError(f"not a guided decoding spec: {spec!r}")


def _structural(node: Node, reasoning: Reasoning | None) -> GrammarRequest:
    if reasoning is not None:
        node = seq(reasoning_node(reasoning), node)
    return GrammarRequest("structural_tag", _dumps({"type": "structural_tag", "format": node}))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def reasoning_node(reasoning: Reasoning) -> Node:
    if reasoning.opened_in_prompt:
        return tag("", any_text([reasoning.end]), reasoning.end)
    block = tag(reasoning.start, any_text([reasoning.end]), reasoning.end)
    return optional(block) if reasoning.optional else block


def text_node(spec: GuidedSpec) -> Node:
    if isinstance(spec, JsonSpec):
        return json_schema(spec.schema if spec.schema is not None else {"type": "object"})
    if isinstance(spec, RegexSpec):
        return regex(spec.pattern)
    if isinstance(spec, ChoiceSpec):
        return either(*[const(choice) for choice in spec.choices])
    if isinstance(spec, GrammarSpec):
        if spec.syntax != "ebnf":
            raise GuidedDecodingError("a Lark grammar cannot follow reasoning or tool calls; write it in EBNF",
                                      param="guided_grammar")
        return ebnf(spec.grammar)
    raise GuidedDecodingError(f"{spec.kind} cannot be used as a reply's content")


# ---------------------------------------------------------------- tool calls


def tool_calls_node(spec: ToolCallsSpec) -> Node:
    parallel = _parallel(spec)
    tools = [(tool.name, arguments_schema(tool, spec)) for tool in spec.callable_tools]
    grammar = spec.format.calls_grammar(tools, parallel=parallel, payload=spec.payload)
    marker, bare, body = grammar.trigger, grammar.bare_start, grammar.body
    start = optional(const(marker)) if bare and marker else const(marker)
    block = seq(const(grammar.lead), start, body)
    calls = seq(block, star(seq(regex(WS), block))) if parallel and grammar.one_call_per_block else block
    if spec.mode != "auto":
        return seq(regex(LEADING_WS), calls)
    if spec.content is not None:
        return either(seq(regex(LEADING_WS), calls), text_node(spec.content))
    # Free text in which the trigger opens a block of calls (and with parallel calls off, the reply
    # ends after that one block's single call).
    free = dispatch(marker, body, loop=parallel) if marker else any_text()
    if not bare:
        return free
    # A block may also open with its bare payload ("{" or "["): a reply that opens that way must be
    # calls. Any other reply is free text (the trigger still opens calls in it).
    first = "[^" + _class_escape(bare + marker[:1]) + r" \t\r\n]"
    branches = [seq(regex(LEADING_WS), calls), seq(regex(LEADING_WS + first), free), regex(LEADING_WS)]
    if marker:  # replies that begin like the trigger, then leave it
        branches.append(seq(regex(LEADING_WS + _leaving(marker)), free))
    return either(*branches)


def call_openers(spec: ToolCallsSpec) -> tuple[str, ...]:
    """What opens a block of calls in free text (tool_choice auto): the trigger, and the bare start of
    families whose blocks may leave the trigger out."""
    tools = [(tool.name, arguments_schema(tool, spec)) for tool in spec.callable_tools]
    grammar = spec.format.calls_grammar(tools, parallel=_parallel(spec), payload=spec.payload)
    return tuple(opener for opener in (grammar.trigger, grammar.bare_start) if opener)


def _parallel(spec: ToolCallsSpec) -> bool:
    """Whether several calls may be written: a named tool_choice asks for exactly one call."""
    return spec.parallel and spec.mode != "named"


def _leaving(marker: str) -> str:
    """A regex for a proper prefix of `marker` followed by a character that leaves it."""
    alternatives = [_regex_escape(marker[:k]) + "[^" + _class_escape(marker[k]) + "]"
                    for k in range(1, len(marker))]
    return "(" + "|".join(alternatives) + ")"


def _regex_escape(text: str) -> str:
    return "".join("\\" + ch if ch in ".^$*+?()[]{}|\\/" else ch for ch in text)


def _class_escape(chars: str) -> str:
    return "".join("\\" + ch if ch in "]\\^-[" else ch for ch in chars)
