"""Tool calls written out as text, in the format of a tool parser, derived from its ToolCallFormat.

Used where toolwire must show calls to a model whose chat template cannot: the example call of the
injected tool prompt, and assistant tool calls in the history. The text is the canonical form of the
format (first spellings, first payload kind, first keys), so the active parser reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from toolwire.formats.base import ToolParserManager
from toolwire.formats.hermes import HERMES
from toolwire.formats.pythonic import PythonicToolParser
from toolwire.formats.spec import Payload, ToolCallFormat

Call = tuple[str, Mapping[str, Any]]  # (function name, arguments)


def call_format(parser_name: str | None) -> ToolCallFormat | None:
    """The declared format of a parser; None for pythonic. Parsers without one (plugins) get hermes."""
    if parser_name is None:
        return HERMES
    parser_class = ToolParserManager.get_tool_parser(parser_name)
    if issubclass(parser_class, PythonicToolParser):
        return None
    return getattr(parser_class, "format", None) or HERMES


def tool_calls_text(parser_name: str | None, calls: Sequence[Call]) -> str:
    """`calls` as the model of `parser_name` writes them (hermes when no parser is active)."""
    fmt = call_format(parser_name)
    return pythonic_text(calls) if fmt is None else format_text(fmt, calls)


def pythonic_text(calls: Sequence[Call]) -> str:
    # repr() of JSON values is their Python literal: True, None, 'single-quoted strings'.
    return "[" + ", ".join(
        f"{name}(" + ", ".join(f"{key}={value!r}" for key, value in arguments.items()) + ")"
        for name, arguments in calls
    ) + "]"


def format_text(fmt: ToolCallFormat, calls: Sequence[Call]) -> str:
    payload = fmt.payloads[0]
    if payload is Payload.NAME_THEN_JSON:
        return _named_calls_text(fmt, calls)
    objects = [_json({fmt.name_keys[0]: name, fmt.argument_keys[0]: dict(arguments)}) for name, arguments in calls]
    if payload is Payload.JSON_ARRAY:
        bodies = ["[" + ", ".join(objects) + "]"]
    elif fmt.separator and not fmt.end:
        bodies = [f"{fmt.separator} ".join(objects)]  # llama3_json: `{...}; {...}`
    else:
        bodies = objects  # one block per call: hermes, granite-20b-fc, internlm
    return "\n".join(_block(fmt, body) for body in bodies)


def _block(fmt: ToolCallFormat, body: str) -> str:
    if fmt.start_optional:
        return body  # the start marker may be left out (llama3_json's <|python_tag|>)
    if fmt.end:
        return f"{fmt.start[0]}\n{body}\n{fmt.end[0]}"
    return f"{fmt.start[0]} {body}"


def _named_calls_text(fmt: ToolCallFormat, calls: Sequence[Call]) -> str:
    named = fmt.named_call
    assert named is not None
    parts = []
    for name, arguments in calls:
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
