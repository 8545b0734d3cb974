"""The grammar of XML-style calls: each call's head and end as constants, its parameters held to the
tool's schema by xgrammar's XML styles of a JSON schema (`json_schema` with `style`).

The style writes the schema's properties in the family's tags, in the schema's order: listed
properties only, the required ones present, each value to its type (a string is any text without the
value's end marker; integers, numbers, booleans and null as JSON; objects and arrays as JSON text).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolwire.formats.family import CallableTool, CallsGrammar
from toolwire.formats.families.xml_calls.syntax import FUNCTION_NAME, XmlCallSyntax
from toolwire.formats.grammar import MAX_ARGUMENTS_WHITESPACE, GuidedDecodingError, Node, const, either, seq, \
    star


def xml_calls_grammar(syntax: XmlCallSyntax, tools: Sequence[CallableTool], *, parallel: bool) -> CallsGrammar:
    one = either(*[_call(syntax, name, schema) for name, schema in tools])
    calls = seq(one, star(one)) if parallel and not syntax.one_call_per_block else one
    body = seq(const(syntax.after_block_start), calls, const(syntax.block_end))
    return CallsGrammar(trigger=syntax.block_start, body=body, one_call_per_block=syntax.one_call_per_block)


def _call(syntax: XmlCallSyntax, name: str, schema: dict[str, Any]) -> Node:
    if not FUNCTION_NAME.fullmatch(name):
        raise GuidedDecodingError(f"tool {name!r}: this format cannot write that function name", tool=name)
    properties = schema.get("properties") if isinstance(schema, dict) else None
    for key in properties if isinstance(properties, dict) else ():
        if not key.strip() or "\n" in key or syntax.key_stops in key:
            raise GuidedDecodingError(f"tool {name!r}: this format cannot write the parameter name {key!r}", tool=name)
    arguments = {"type": "json_schema", "json_schema": schema, "style": syntax.grammar_style,
                 "max_whitespace_cnt": MAX_ARGUMENTS_WHITESPACE}
    return seq(const(syntax.call_start + name + syntax.name_end + syntax.after_name), arguments,
               const(syntax.call_end + syntax.after_call))
