"""Calls written as the family's models write them: for the prompt's example and for earlier calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolwire.formats.family import Call
from toolwire.formats.families.xml_calls.syntax import XmlCallSyntax
from toolwire.formats.families.xml_calls.values import json_dumps


def xml_calls_text(syntax: XmlCallSyntax, calls: Sequence[Call]) -> str:
    written = [_call_text(syntax, name, arguments) for name, arguments in calls]
    blocks = [[call] for call in written] if syntax.one_call_per_block else [written]
    return syntax.between_blocks.join(
        syntax.block_start + syntax.after_block_start + "".join(block) + syntax.block_end for block in blocks)


def _call_text(syntax: XmlCallSyntax, name: str, arguments: dict[str, Any]) -> str:
    parameters = "".join(
        syntax.key_start + key + syntax.key_end + syntax.after_key + syntax.value_start + _value_text(syntax, value)
        + syntax.value_end + syntax.after_value
        for key, value in arguments.items())
    return syntax.call_start + name + syntax.name_end + syntax.after_name + parameters + syntax.call_end \
        + syntax.after_call


def _value_text(syntax: XmlCallSyntax, value: Any) -> str:
    # Strings as they are, everything else as JSON (what the schema-typed parser reads back).
    text = value if isinstance(value, str) else json_dumps(value)
    return f"\n{text}\n" if syntax.value_between_newlines else text
