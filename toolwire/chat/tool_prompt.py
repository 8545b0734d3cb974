"""The tool-use system prompt toolwire adds when a chat template does not render `tools`.

It lists the tools' JSON schemas and shows one call in the active parser's format, so the model knows
what it may call and how to write the call that the parser (and the constraint grammar) expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from toolwire.chat.call_text import call_format, tool_calls_text
from toolwire.formats.spec import Payload

EXAMPLE_CALL = ("function_name", {"argument_name": "value"})
_XML_TAG = re.compile(r"<([A-Za-z_][\w-]*)>")


def tool_system_prompt(tools: Sequence[Mapping[str, Any]], parser_name: str | None) -> str:
    """The tool prompt: the tools' schemas within <tools></tools>, then how to call them."""
    listing = "\n".join(json.dumps(tool, ensure_ascii=False) for tool in tools)
    return (
        "You may call one or more functions to assist with the user query.\n\n"
        "The functions you can call are listed, as JSON schemas, within <tools></tools> XML tags:\n"
        f"<tools>\n{listing}\n</tools>\n\n"
        f"{_call_instruction(parser_name)}\n"
        f"{tool_calls_text(parser_name, [EXAMPLE_CALL])}"
    )


def with_system_prompt(messages: list[dict[str, Any]], prompt: str) -> list[dict[str, Any]]:
    """`prompt` appended to the conversation's system message, or as a new first system message."""
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        existing = first.get("content") or ""
        first["content"] = f"{existing}\n\n{prompt}" if existing else prompt
        return [first, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]


def _call_instruction(parser_name: str | None) -> str:
    fmt = call_format(parser_name)
    if fmt is not None and fmt.payloads[0] is Payload.JSON_OBJECTS and fmt.end and not fmt.start_optional:
        opening = _XML_TAG.fullmatch(fmt.start[0])
        if opening and fmt.end[0] == f"</{opening.group(1)}>":  # hermes: <tool_call>...</tool_call>
            return ("For each function call, return a json object with the function name and arguments "
                    f"within {fmt.start[0]}{fmt.end[0]} XML tags, like this:")
    return "To call functions, write the calls exactly in this format, for example:"
