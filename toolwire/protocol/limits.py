"""What every request body must be before any work starts for it: JSON no deeper than
MAX_JSON_DEPTH levels and text that is valid Unicode (no lone UTF-16 surrogate, which JSON's
`\\ud800` escape can spell but no tokenizer can encode).

A request model checks its raw body with `check_request_body` (a pydantic `before` validator, so a
violation is a 400 naming the field); JSON that arrives inside a string (a tool call's `arguments`)
is checked with `check_json_text`. Both walk iteratively: a hostile depth cannot exhaust the stack
here, and the limit keeps the recursive code after it (schema checks, template rendering, grammar
compiling) far from Python's recursion limit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_core import PydanticCustomError

# Levels of nesting (objects and arrays) allowed in a request body, and in JSON inside its strings.
MAX_JSON_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
_SCALARS = frozenset({int, float, bool, type(None)})


class JsonLimitError(ValueError):
    """JSON beyond the limits: `where` is the path of the offending value ("" for the root), its
    middle cut out when long (a path 64 levels deep is mostly repetition)."""

    def __init__(self, problem: str, where: str):
        if len(where) > 100:
            where = where[:60] + "..." + where[-30:]
        super().__init__(f"{where}: {problem}" if where else problem)
        self.problem, self.where = problem, where


def check_json_value(value: Any, where: str = "") -> None:
    """Raise JsonLimitError if `value` (parsed JSON) nests deeper than MAX_JSON_DEPTH or holds a
    string (or an object key) with a lone surrogate."""
    stack = [(value, 0, where)]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            _check_text(value, path)
            continue
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            # A list of numbers (token ids: millions of them) is passed over in C.
            items = () if _SCALARS.issuperset(map(type, value)) else enumerate(value)
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            raise _too_deep(path)
        for key, item in items:
            if isinstance(key, str):
                _check_text(key, path)
            if isinstance(item, (str, dict, list)):
                stack.append((item, depth + 1, _join(path, key)))


def check_json_text(text: str, where: str = "") -> None:
    """The same limits for JSON held in a string; text that is not JSON at all is left for the
    caller to report."""
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than the parser goes
        raise _too_deep(where) from None
    except ValueError:
        return
    check_json_value(value, where)


def check_request_body(data: Any) -> Any:
    """For a request model's `before` validator: the raw body within the limits, or a validation
    error (type `request_limit`) that carries the offending field as `param`."""
    try:
        check_json_value(data)
    except JsonLimitError as exc:
        raise PydanticCustomError("request_limit", "{problem}", {"problem": exc.problem, "param": exc.where}) from None
    return data


def _too_deep(path: str) -> JsonLimitError:
    return JsonLimitError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep (the limit is {MAX_JSON_DEPTH})",
                          path)


def _check_text(text: str, path: str) -> None:
    if not text.isascii() and _SURROGATE.search(text):
        raise JsonLimitError("the text holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape that is not "
                             "half of a pair), which is not valid Unicode", path)


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
