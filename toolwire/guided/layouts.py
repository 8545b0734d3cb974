"""Finds the declared format behind a tool parser's name: what the grammar is built from.

A format is the `ToolCallFormat` value its parser interprets (`toolwire.formats.spec`); pythonic
formats, which are not declared as data, are a `PythonicLayout`. Plugins may declare theirs with
`register_format`. A parser with neither cannot be constrained: asking for it is an error that names it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from toolwire.guided.errors import GuidedDecodingError


@dataclass(frozen=True)
class PythonicLayout:
    """`start[f(a=1), g()]end`: a Python list of calls with keyword arguments."""

    name: str
    start: str = ""
    end: str = ""


_registered: dict[str, Any] = {}


def register_format(name: str, layout: Any) -> None:
    """Declare the format (a `ToolCallFormat` or `PythonicLayout`) of the parser called `name`."""
    _registered[name] = layout


def resolve_layout(parser_name: str) -> Any:
    if parser_name in _registered:
        return _registered[parser_name]
    if parser_name in ("pythonic", "llama4_pythonic"):
        from toolwire.formats import pythonic

        if parser_name == "pythonic":
            return PythonicLayout(parser_name)
        return PythonicLayout(parser_name, pythonic.PYTHON_START, pythonic.PYTHON_END)
    found = _declared_format(parser_name)
    if found is None:
        raise GuidedDecodingError(
            f"tool parser {parser_name!r} declares no format that a grammar can be built from, so its "
            "tool calls cannot be constrained (tool_choice 'required' or a named tool)", param="tool_choice")
    return found


def _declared_format(parser_name: str) -> Any:
    from toolwire.formats import spec as format_spec

    fmt_type = format_spec.ToolCallFormat
    for attribute in ("get_format", "format_for", "lookup"):
        lookup = getattr(format_spec, attribute, None)
        if callable(lookup):
            try:
                found = lookup(parser_name)
            except (KeyError, LookupError, ValueError):
                found = None
            if isinstance(found, fmt_type):
                return found
    for attribute in ("FORMATS", "BUILTIN_FORMATS", "formats"):
        table = getattr(format_spec, attribute, None)
        if isinstance(table, dict) and isinstance(table.get(parser_name), fmt_type):
            return table[parser_name]
    try:
        from toolwire.formats.base import ToolParserManager

        parser_class = ToolParserManager.get_tool_parser(parser_name)
    except (KeyError, ImportError):
        return None
    for attribute in ("format", "tool_call_format", "FORMAT", "spec"):
        value = getattr(parser_class, attribute, None)
        if isinstance(value, fmt_type):
            return value
    module = sys.modules.get(parser_class.__module__)
    candidates = [v for v in vars(module).values() if isinstance(v, fmt_type)] if module else []
    named = [fmt for fmt in candidates if fmt.name == parser_name]
    if named:
        return named[0]
    return candidates[0] if len(candidates) == 1 else None
