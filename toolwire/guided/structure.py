"""From a spec to a grammar request: what the backend compiles.

Tool calls become an xgrammar-style structural tag (JSON data: sequences, alternatives, constant
strings, JSON-schema and EBNF slots, free text dispatched on a trigger), built from the family's
`ToolCallFormat` — the same value its streaming parser interprets — so the model is steered to write
exactly what the parser reads. The other specs map onto json_schema / regex / ebnf / lark requests, or
onto a structural tag when a reasoning block comes first.

The shape of the calls, per the format's fields (`ws` is a little optional whitespace; the first
spelling of every marker, payload kind and key is the one written):

    calls     := block (ws block)*       when a block holds one call, else one block
    block     := start ws payload ws end            (start optional when the format says so)
    JSON_OBJECTS:   object (ws separator ws object)*   (one object when the separator is "")
    JSON_ARRAY:     "[" ws object ("," ws object)* ws "]"
    NAME_THEN_JSON: named (ws named)*                (one when named.call_start is empty)
    object    := {"<name key>": "<tool>", "<arguments key>": <arguments schema>}
    named     := call_start ws name_prefix <tool> ws args_start ws <arguments> ws args_end ws call_end

With `parallel` false, or a named tool, every repetition above is dropped: exactly one call. Pythonic
formats (not declared as data) are `start [f(a=1), ...] end`, their arguments' grammar built from the
schemas as Python literals (see pythonic.py).

tool_choice `required` / named: up to LEADING_WS, then the calls, then only a stop token. `auto`: free
text in which the start marker opens a block (the reply may go on after it, or must end when parallel
calls are off). Formats whose block may open without a marker (llama3_json's bare `{`, pythonic's `[`):
a reply that opens with that character is calls; any other reply is free text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from toolwire.guided.errors import GuidedDecodingError
from toolwire.guided.layouts import PythonicLayout, resolve_layout
from toolwire.guided.pythonic import ebnf_literal, pythonic_calls_ebnf
from toolwire.guided.schema import arguments_schema
from toolwire.guided.specs import (
    ChoiceSpec, GrammarSpec, GuidedSpec, JsonSpec, Reasoning, RegexSpec, ToolCallsSpec,
)

GrammarKind = Literal["structural_tag", "json_schema", "regex", "ebnf", "lark"]

# Whitespace between the parts of a call, and before the first call when calls are required. Bounded,
# so that a model cannot spend its whole budget on blanks.
WS = r"[ \t\r\n]{0,2}"
LEADING_WS = r"[ \t\r\n]{0,3}"
# The most consecutive whitespace characters inside JSON: not room for a model stuck writing blanks.
# Arguments are written on one line in every trained format (and a larger bound costs compile time);
# a reply in a response_format may be pretty-printed a few levels deep.
MAX_ARGUMENTS_WHITESPACE = 4
MAX_JSON_WHITESPACE = 16


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


# ---------------------------------------------------------------- structural tag nodes


def const(text: str) -> Node:
    return {"type": "const_string", "value": text}


def regex(pattern: str) -> Node:
    return {"type": "regex", "pattern": pattern}


def seq(*elements: Node | None) -> Node:
    flat: list[Node] = []
    for element in elements:
        if element is None or element == const(""):
            continue
        flat.extend(element["elements"] if element["type"] == "sequence" else [element])
    if not flat:
        return const("")
    return flat[0] if len(flat) == 1 else {"type": "sequence", "elements": flat}


def either(*elements: Node) -> Node:
    return elements[0] if len(elements) == 1 else {"type": "or", "elements": list(elements)}


def star(content: Node) -> Node:
    return {"type": "star", "content": content}


def optional(content: Node) -> Node:
    return {"type": "optional", "content": content}


def json_schema(schema: Any, max_whitespace: int = MAX_JSON_WHITESPACE) -> Node:
    return {"type": "json_schema", "json_schema": schema, "max_whitespace_cnt": max_whitespace}


def any_text(excludes: list[str] | None = None) -> Node:
    return {"type": "any_text", "excludes": excludes or []}


def ebnf(grammar: str) -> Node:
    return {"type": "grammar", "grammar": grammar}


def dispatch(trigger: str, then: Node, *, loop: bool) -> Node:
    """Free text; whenever `trigger` is written, `then` must follow (only once unless `loop`)."""
    return {"type": "dispatch", "rules": [[trigger, then]], "loop": loop, "excludes": []}


def reasoning_node(reasoning: Reasoning) -> Node:
    if reasoning.opened_in_prompt:
        return {"type": "tag", "begin": "", "content": any_text([reasoning.end]), "end": reasoning.end}
    block = {"type": "tag", "begin": reasoning.start, "content": any_text([reasoning.end]), "end": reasoning.end}
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
    layout = resolve_layout(spec.format)
    if isinstance(layout, PythonicLayout):
        marker, bare = layout.start, ("" if layout.start else "[")
        start, body, many_per_block = const(marker), _pythonic_body(spec, layout), True
    else:
        marker, bare = _marker(layout.start), layout.block_start_characters
        start, body, many_per_block = _format_parts(spec, layout)
    block = seq(start, body)
    calls = seq(block, star(seq(regex(WS), block))) if _parallel(spec) and not many_per_block else block
    if spec.mode != "auto":
        return seq(regex(LEADING_WS), calls)
    if spec.content is not None:
        return either(seq(regex(LEADING_WS), calls), text_node(spec.content))
    # Free text in which the start marker opens a block of calls (and with parallel calls off, the
    # reply ends after that one block's single call).
    free = dispatch(marker, body, loop=_parallel(spec)) if marker else any_text()
    if not bare:
        return free
    # A block may also open with its bare payload ("{" or "["): a reply that opens that way must be
    # calls. Any other reply is free text (the marker still opens calls in it).
    first = "[^" + _class_escape(bare + marker[:1]) + r" \t\r\n]"
    branches = [seq(regex(LEADING_WS), calls), seq(regex(LEADING_WS + first), free), regex(LEADING_WS)]
    if marker:  # replies that begin like the marker, then leave it
        branches.append(seq(regex(LEADING_WS + _leaving(marker)), free))
    return either(*branches)


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


def _format_parts(spec: ToolCallsSpec, layout: Any) -> tuple[Node, Node, bool]:
    """The start marker, the rest of a block after it, and whether a block holds several calls."""
    from toolwire.formats.spec import Payload

    payload_kind = layout.payloads[0]
    if spec.payload is not None:
        chosen = [p for p in layout.payloads if p.value == spec.payload]
        if not chosen:
            raise GuidedDecodingError(
                f"format {layout.name!r} has no payload kind {spec.payload!r} (it has "
                f"{', '.join(p.value for p in layout.payloads)})", param="tool_choice")
        payload_kind = chosen[0]
    tools = spec.callable_tools
    if payload_kind is Payload.NAME_THEN_JSON:
        one = either(*[_named_call(spec, layout, tool) for tool in tools])
        many_per_block = bool(layout.named_call.call_start)
        payload = seq(one, star(seq(regex(WS), one))) if _parallel(spec) and many_per_block else one
    else:
        one = either(*[_object_call(spec, layout, tool) for tool in tools])
        if payload_kind is Payload.JSON_ARRAY:
            many_per_block = True
            more = star(seq(regex(WS), const(","), regex(WS), one)) if _parallel(spec) else None
            payload = seq(const("["), regex(WS), one, more, regex(WS), const("]"))
        else:
            # A separator joins several objects in one block only where no end marker closes the
            # block (llama3 `{...}; {...}`); a format with an end marker writes one block per call
            # (hermes `<tool_call>...</tool_call>` repeated), its separator being a parsing tolerance.
            many_per_block = bool(layout.separator) and not layout.end
            more = star(seq(regex(WS), const(layout.separator), regex(WS), one))
            payload = seq(one, more) if _parallel(spec) and many_per_block else one
    start = const(_marker(layout.start))
    if layout.start_optional:
        start = optional(start)
    body = seq(regex(WS), payload, regex(WS) if layout.end else None, const(_marker(layout.end)))
    return start, body, many_per_block


def _object_call(spec: ToolCallsSpec, layout: Any, tool) -> Node:
    head = "{%s: %s, %s: " % (json.dumps(layout.name_keys[0]), json.dumps(tool.name),
                              json.dumps(layout.argument_keys[0]))
    return seq(const(head), json_schema(arguments_schema(tool, spec), MAX_ARGUMENTS_WHITESPACE), const("}"))


def _named_call(spec: ToolCallsSpec, layout: Any, tool) -> Node:
    named = layout.named_call
    args_start = seq(const(_marker(named.args_start)), regex(WS)) if named.args_start else None
    if args_start is not None and named.args_start_optional:
        args_start = optional(args_start)  # mistral v13 writes [ARGS] between name and arguments, v11 not
    return seq(const(_marker(named.call_start)), regex(WS) if named.call_start else None,
               const(_marker(named.name_prefix) + tool.name), regex(WS), args_start,
               json_schema(arguments_schema(tool, spec), MAX_ARGUMENTS_WHITESPACE),
               regex(WS) if named.args_end else None, const(_marker(named.args_end)),
               regex(WS) if named.call_end else None, const(_marker(named.call_end)))


def _marker(spellings: tuple[str, ...]) -> str:
    return spellings[0] if spellings else ""


def _pythonic_body(spec: ToolCallsSpec, layout: PythonicLayout) -> Node:
    """The call list and the closing marker: what follows the opening marker (if any)."""
    tools = [(tool.name, arguments_schema(tool, spec)) for tool in spec.callable_tools]
    return ebnf(pythonic_calls_ebnf(tools, parallel=_parallel(spec), end=layout.end))
