"""The grammar language a family writes its calls in: structural-tag nodes, as JSON data.

A family's grammar (`ToolCallFamily.calls_grammar`) is built from these nodes: sequences,
alternatives, constant strings, JSON-schema, regex and EBNF slots, free text dispatched on a trigger.
`toolwire.guided` composes them into the grammar for a request and hands it to the backend
(xgrammar's structural tags take exactly this shape).
"""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]

# Whitespace between the parts of a call. Bounded, so that a model cannot spend its budget on blanks.
WS = r"[ \t\r\n]{0,2}"
# The most consecutive whitespace characters inside a call's JSON arguments: every trained format
# writes arguments on one line (and a larger bound costs compile time).
MAX_ARGUMENTS_WHITESPACE = 4
# The same inside a JSON reply (response_format), which may be pretty-printed a few levels deep.
MAX_JSON_WHITESPACE = 16


class GuidedDecodingError(ValueError):
    """A request's constraint cannot be built: a bad spec, or a schema the backend cannot compile.

    The server answers it with a 400. `tool` names the offending tool when there is one and `param`
    names the request field (``tools``, ``tool_choice``, ``response_format``, ``guided_json`` ...).
    """

    def __init__(self, message: str, *, tool: str | None = None, param: str | None = None):
        super().__init__(message)
        self.tool = tool
        self.param = param


def const(text: str) -> Node:
    return {"type": "const_string", "value": text}


def regex(pattern: str) -> Node:
    return {"type": "regex", "pattern": pattern}


def seq(*elements: Node | None) -> Node:
    """The elements in order; None and empty strings are left out."""
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


def tag(begin: str, content: Node, end: str) -> Node:
    return {"type": "tag", "begin": begin, "content": content, "end": end}


def ebnf_literal(text: str) -> str:
    """`text` as an EBNF string literal."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
