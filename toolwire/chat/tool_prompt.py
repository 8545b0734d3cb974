"""The tool-use system prompt toolwire adds when a chat template does not render `tools`.

It lists the tools' JSON schemas and shows one call in the family's format, so the model knows what it
may call and how to write the call that the parser (and the constraint grammar) expect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from toolwire.formats.family import ToolCallFamily

EXAMPLE_CALL = ("function_name", {"argument_name": "value"})


def tool_system_prompt(tools: Sequence[Mapping[str, Any]], family: ToolCallFamily) -> str:
    """The tool prompt: the tools' schemas within <tools></tools>, then how to call them (a family
    that lists tools its own way, as harmony's does, writes the whole prompt: `family.tool_prompt`)."""
    own_prompt = getattr(family, "tool_prompt", None)
    if own_prompt is not None:
        return own_prompt(tools)
    listing = "\n".join(json.dumps(tool, ensure_ascii=False) for tool in tools)
    return (
        "You may call one or more functions to assist with the user query.\n\n"
        "The functions you can call are listed, as JSON schemas, within <tools></tools> XML tags:\n"
        f"<tools>\n{listing}\n</tools>\n\n"
        f"{family.instruction}\n"
        f"{family.render_calls([EXAMPLE_CALL])}"
    )


def with_system_prompt(messages: list[dict[str, Any]], prompt: str) -> list[dict[str, Any]]:
    """`prompt` appended to the conversation's system message, or as a new first system message."""
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        existing = first.get("content") or ""
        first["content"] = f"{existing}\n\n{prompt}" if existing else prompt
        return [first, *messages[1:]]
    return [{"role": "system", "content": prompt}, *messages]
