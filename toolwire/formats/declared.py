"""`DeclaredFamily`: a family whose format is described as data (a `ToolCallFormat`).

From that one value come the streaming parser (`FormatToolParser` runs `streaming.FormatStream` over
it), the grammar and the prompt's rendering of calls, below. The grammar and the rendering write the
canonical form (first spellings, first payload kind, first keys), which the parser reads back.

The shape of the calls, per the format's fields (`ws` is a little optional whitespace):

    block     := start ws payload ws end            (start optional when the format says so)
    JSON_OBJECTS:   object (ws separator ws object)*   (one object when the block ends with a marker)
    JSON_ARRAY:     "[" ws object ("," ws object)* ws "]"
    NAME_THEN_JSON: named (ws named)*                (one when named.call_start is empty)
    object    := {"<name key>": "<tool>", "<arguments key>": <arguments schema>}
    named     := call_start ws name_prefix <tool> index? ws args_start ws <arguments> ws args_end ws call_end
    index     := index_separator digits          (Kimi K2: the call's index, part of its id)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from toolwire.formats.family import DEFAULT_INSTRUCTION, Call, CallableTool, CallsGrammar, TemplateMarker, \
    ToolCallFamily
from toolwire.formats.grammar import (
    MAX_ARGUMENTS_WHITESPACE, WS, GuidedDecodingError, Node, const, either, json_schema, optional, regex, seq,
    star,
)
from toolwire.formats.spec import Payload, ToolCallFormat

_BARE_START = {Payload.JSON_OBJECTS: "{", Payload.JSON_ARRAY: "["}

CALL_INDEX = r"[0-9]{1,6}"
"""A call's index where the format writes one after its name (Kimi K2's `functions.f:0`)."""


class DeclaredFamily(ToolCallFamily):
    def __init__(self, fmt: ToolCallFormat, *, template_markers: Sequence[TemplateMarker] = (),
                 instruction: str = DEFAULT_INSTRUCTION):
        self.format = fmt
        self.name = fmt.name
        self.id_style = fmt.id_style
        self.template_markers = tuple(template_markers)
        self.instruction = instruction

    # ------------------------------------------------------------ grammar

    def calls_grammar(self, tools: Sequence[CallableTool], *, parallel: bool,
                      payload: str | None = None) -> CallsGrammar:
        fmt = self.format
        kind = self._payload_kind(payload)
        if kind is Payload.NAME_THEN_JSON:
            one = either(*[self._named_call(name, schema) for name, schema in tools])
            many_per_block = bool(fmt.named_call.call_start)
            calls = seq(one, star(seq(regex(WS), one))) if parallel and many_per_block else one
        else:
            one = either(*[self._object_call(name, schema) for name, schema in tools])
            if kind is Payload.JSON_ARRAY:
                many_per_block = True
                more = star(seq(regex(WS), const(","), regex(WS), one)) if parallel else None
                calls = seq(const("["), regex(WS), one, more, regex(WS), const("]"))
            else:
                # A separator joins several objects in one block only where no end marker closes the
                # block (llama3 `{...}; {...}`); a format with an end marker writes one block per call
                # (hermes `<tool_call>...</tool_call>` repeated), its separator being a parsing tolerance.
                many_per_block = bool(fmt.separator) and not fmt.end
                more = star(seq(regex(WS), const(fmt.separator), regex(WS), one))
                calls = seq(one, more) if parallel and many_per_block else one
        body = seq(regex(WS), calls, regex(WS) if fmt.end else None, const(_first(fmt.end)))
        # The bare payload the grammar writes: its own first character, not every one the parser reads.
        bare_start = _BARE_START.get(kind, "") if fmt.start_optional else ""
        return CallsGrammar(trigger=_first(fmt.start), body=body, bare_start=bare_start,
                            one_call_per_block=not many_per_block)

    def _payload_kind(self, payload: str | None) -> Payload:
        kinds = self.format.payloads
        if payload is None:
            return kinds[0]
        for kind in kinds:
            if kind.value == payload:
                return kind
        raise GuidedDecodingError(f"format {self.name!r} has no payload kind {payload!r} (it has "
                                  f"{', '.join(k.value for k in kinds)})", param="tool_choice")

    def _object_call(self, name: str, schema: dict[str, Any]) -> Node:
        fmt = self.format
        head = "{%s: %s, %s: " % (json.dumps(fmt.name_keys[0]), json.dumps(name), json.dumps(fmt.argument_keys[0]))
        return seq(const(head), json_schema(schema, MAX_ARGUMENTS_WHITESPACE), const("}"))

    def _named_call(self, name: str, schema: dict[str, Any]) -> Node:
        named = self.format.named_call
        args_start = seq(const(_first(named.args_start)), regex(WS)) if named.args_start else None
        if args_start is not None and named.args_start_optional:
            args_start = optional(args_start)  # mistral v13 writes [ARGS] between name and arguments, v11 not
        index = seq(const(named.index_separator), regex(CALL_INDEX)) if named.index_separator else None
        return seq(const(_first(named.call_start)), regex(WS) if named.call_start else None,
                   const(_first(named.name_prefix) + name), index, regex(WS), args_start,
                   json_schema(schema, MAX_ARGUMENTS_WHITESPACE),
                   regex(WS) if named.args_end else None, const(_first(named.args_end)),
                   regex(WS) if named.call_end else None, const(_first(named.call_end)))

    # ------------------------------------------------------------ rendering

    def render_calls(self, calls: Sequence[Call]) -> str:
        fmt = self.format
        payload = fmt.payloads[0]
        if payload is Payload.NAME_THEN_JSON:
            return self._named_calls_text(calls)
        objects = [_json({fmt.name_keys[0]: name, fmt.argument_keys[0]: dict(arguments)})
                   for name, arguments in calls]
        if payload is Payload.JSON_ARRAY:
            bodies = ["[" + ", ".join(objects) + "]"]
        elif fmt.separator and not fmt.end:
            bodies = [f"{fmt.separator} ".join(objects)]  # llama3_json: `{...}; {...}`
        else:
            bodies = objects  # one block per call: hermes, granite-20b-fc, internlm
        return "\n".join(self._block(body) for body in bodies)

    def _block(self, body: str) -> str:
        fmt = self.format
        if fmt.start_optional:
            return body  # the start marker may be left out (llama3_json's <|python_tag|>)
        if fmt.end:
            return f"{fmt.start[0]}\n{body}\n{fmt.end[0]}"
        return f"{fmt.start[0]} {body}"

    def _named_calls_text(self, calls: Sequence[Call]) -> str:
        fmt, named = self.format, self.format.named_call
        parts = []
        for position, (name, arguments) in enumerate(calls):
            if named.index_separator:
                name = f"{name}{named.index_separator}{position}"  # Kimi K2: functions.f:0
            args_start, args_end = _first(named.args_start), _first(named.args_end)
            if args_start.startswith("```"):  # a code fence needs lines of its own
                args_start, args_end = f"\n{args_start}\n", f"\n{args_end}"
            parts.append(_first(named.call_start) + _first(named.name_prefix) + name + args_start
                         + _json(dict(arguments)) + args_end + _first(named.call_end))
        if named.call_start:
            return fmt.start[0] + "".join(parts) + _first(fmt.end)
        return "".join(fmt.start[0] + part for part in parts)  # mistral v11: a marker per call


def _first(spellings: tuple[str, ...]) -> str:
    return spellings[0] if spellings else ""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
