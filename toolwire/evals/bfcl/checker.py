"""Judging a model's tool calls against a BFCL possible answer (the leaderboard's "AST" check). BFCL's
own checker (`bfcl_eval.eval_checker.ast_eval.ast_checker`) cannot be imported without bfcl-eval's
heavy dependencies; tests/evals/test_official_checker.py holds this one to its verdicts.

One call against one expected call:

- the function name must match (the model's name is mapped back to BFCL's dotted form first);
- the arguments must be a JSON object;
- every parameter the function's schema marks `required` is present;
- every parameter given is one the function's schema lists and appears in the answer's map (no
  extra parameters);
- every answer parameter left out lists `""` among its allowed values;
- every parameter given equals one of its allowed values (`""` is only the "may be left out" marker,
  never a value to compare with), where equality is:
  - strings: case-insensitive, ignoring the space character and `,./-_*^`, with `'` read as `"`; but
    a string given for a parameter whose schema says another type (BFCL's "variable" case, e.g.
    `"dontcare"` for an integer) must equal an allowed value exactly;
  - numbers: where the schema says float (`number`), an int is accepted and compared numerically;
    where it says integer, a float is rejected (`5.0` for an integer is wrong); otherwise the
    two must both be ints or both floats;
  - booleans: only a boolean of the same value (`1` is not `true`);
  - lists: the same length and equal element by element, with these same rules (strings inside are
    normalised too; nested lists and dicts recurse, using the schema's `items`);
  - dicts (our choice; the README leaves it open): the answer's dict is read like a parameter map,
    each key listing its allowed values (a key whose value is not a list holds that single value);
    the model's dict may not have keys the answer lacks, may leave out only keys that allow `""`,
    and each key's value must equal one allowed value, recursively, using the schema's
    `properties`.

A whole reply: its calls must pair one-to-one with the expected calls (same count, any order; a
perfect bipartite matching of "call passes against expected call"), which covers the parallel
categories and reduces to the single check in the simple ones. In `irrelevance` and
`live_irrelevance`, the right reply is no call at all; in `live_relevance` (no answers), at least one
call, each with a JSON object for arguments (BFCL: the reply decodes as calls), whatever it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolwire.evals.bfcl.data import ANY_CALL_CATEGORIES, NO_CALL_CATEGORIES
from toolwire.evals.bfcl.schema import json_type

IGNORED_CHARACTERS = " ,./-_*^"
_STRIP_TABLE = str.maketrans("", "", IGNORED_CHARACTERS)
OMITTED = ""  # among allowed values: the parameter may be left out


@dataclass(frozen=True)
class Call:
    """One call of the model's reply: BFCL's name for the function, and the parsed arguments
    (None when the arguments string was not JSON)."""

    name: str
    arguments: Any


@dataclass(frozen=True)
class Verdict:
    correct: bool
    reason: str


def normalize_string(text: str) -> str:
    return text.lower().translate(_STRIP_TABLE).replace("'", '"')


def judge(category: str, functions: list[dict[str, Any]], ground_truth: list[dict[str, Any]] | None,
          calls: list[Call]) -> Verdict:
    """The verdict on a whole reply's calls."""
    if category in NO_CALL_CATEGORIES:
        if not calls:
            return Verdict(True, "no call, as expected")
        return Verdict(False, f"called {', '.join(c.name for c in calls)} where no call is right")
    if not calls:
        return Verdict(False, "no tool call")
    if category in ANY_CALL_CATEGORIES:
        if all(isinstance(c.arguments, dict) for c in calls):
            return Verdict(True, "called a tool, as expected")
        return Verdict(False, "arguments are not a JSON object")
    if ground_truth is None:
        raise ValueError(f"{category}: no possible answer to judge against")
    expected = [next(iter(item.items())) for item in ground_truth]
    if len(calls) != len(expected):
        return Verdict(False, f"expected {len(expected)} call(s), got {len(calls)}")
    docs = {f["name"]: f for f in functions}
    reasons = [[check_call(call, name, params, docs.get(name)) for call in calls]
               for name, params in expected]
    unmatched = _unmatched_expected([[r is None for r in row] for row in reasons])
    if unmatched is None:
        return Verdict(True, "all calls match" if len(calls) > 1 else "call matches")
    name = expected[unmatched][0]
    row = reasons[unmatched]
    # Explain with the call that came closest: one to the same function, else the first.
    same_name = [r for call, r in zip(calls, row) if call.name == name]
    reason = (same_name or row)[0] or f"no call left to pair with {name}"
    if len(calls) > 1:
        reason = f"expected call {unmatched + 1} ({name}) unmatched: {reason}"
    return Verdict(False, reason)


def check_call(call: Call, name: str, params: dict[str, list[Any]], function: dict[str, Any] | None) -> str | None:
    """None when `call` is a right call to `name` with `params`; otherwise why not."""
    if call.name != name:
        return f"wrong function: expected {name}, got {call.name}"
    if not isinstance(call.arguments, dict):
        return "arguments are not a JSON object"
    schema = (function or {}).get("parameters") or {}
    properties = schema.get("properties") or {}
    for required in schema.get("required") or ():
        if required not in call.arguments:
            return f"missing required parameter {required!r}"
    for given in call.arguments:
        if given not in params or (function is not None and given not in properties):
            return f"unexpected parameter {given!r}"
    for param, allowed in params.items():
        if param not in call.arguments and OMITTED not in allowed:
            return f"missing parameter {param!r}"
    for param, value in call.arguments.items():
        schema = properties.get(param) or {}
        if isinstance(value, str) and isinstance(schema.get("type"), str) and json_type(schema["type"]) != "string":
            allowed = [a for a in params[param] if not (isinstance(a, str) and a == OMITTED)]
            problem = None if value in allowed else f"{_short(value)} is none of the allowed values {_short(allowed)}"
        else:
            problem = _match_any(value, params[param], schema)
        if problem:
            return f"parameter {param!r}: {problem}"
    return None


def _match_any(value: Any, allowed: list[Any], schema: dict[str, Any]) -> str | None:
    candidates = [a for a in allowed if not (isinstance(a, str) and a == OMITTED)]
    problems = []
    for candidate in candidates:
        problem = match_value(value, candidate, schema)
        if problem is None:
            return None
        problems.append(problem)
    if len(candidates) == 1:
        return problems[0]
    return f"{_short(value)} is none of the allowed values {_short(candidates)}"


def match_value(value: Any, expected: Any, schema: dict[str, Any] | None = None) -> str | None:
    """None when `value` (from the model) equals `expected` (one allowed value) under the rules
    above; otherwise why not. `schema` is BFCL's schema for the value (BFCL type names)."""
    schema = schema if isinstance(schema, dict) else {}
    kind = json_type(schema["type"]) if isinstance(schema.get("type"), str) else None
    if isinstance(expected, bool):
        if isinstance(value, bool) and value == expected:
            return None
        return f"expected {_short(expected)}, got {_short(value)}"
    if isinstance(expected, (int, float)):
        return _match_number(value, expected, kind)
    if isinstance(expected, str):
        if not isinstance(value, str):
            return f"expected the string {_short(expected)}, got {_short(value)}"
        if normalize_string(value) == normalize_string(expected):
            return None
        return f"expected {_short(expected)}, got {_short(value)}"
    if expected is None:
        return None if value is None else f"expected null, got {_short(value)}"
    if isinstance(expected, list):
        return _match_list(value, expected, schema)
    if isinstance(expected, dict):
        return _match_dict(value, expected, schema)
    return None if value == expected else f"expected {_short(expected)}, got {_short(value)}"


def _match_number(value: Any, expected: int | float, kind: str | None) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected the number {_short(expected)}, got {_short(value)}"
    if kind == "integer" and isinstance(value, float):
        return f"a float ({_short(value)}) for an integer parameter"
    if kind != "number" and isinstance(value, int) != isinstance(expected, int):
        return f"expected {_short(expected)}, got {_short(value)} (int and float differ here)"
    if value == expected:
        return None
    return f"expected {_short(expected)}, got {_short(value)}"


def _match_list(value: Any, expected: list[Any], schema: dict[str, Any]) -> str | None:
    if not isinstance(value, list):
        return f"expected a list {_short(expected)}, got {_short(value)}"
    if len(value) != len(expected):
        return f"expected {len(expected)} element(s) {_short(expected)}, got {len(value)} {_short(value)}"
    items = schema.get("items")
    for position, (item, wanted) in enumerate(zip(value, expected)):
        item_schema = items[position] if isinstance(items, list) and position < len(items) else items
        problem = match_value(item, wanted, item_schema if isinstance(item_schema, dict) else {})
        if problem:
            return f"element {position}: {problem}"
    return None


def _match_dict(value: Any, expected: dict[str, Any], schema: dict[str, Any]) -> str | None:
    if not isinstance(value, dict):
        return f"expected an object, got {_short(value)}"
    properties = schema.get("properties") or {}
    for key in value:
        if key not in expected:
            return f"unexpected key {key!r}"
    for key, allowed in expected.items():
        alternatives = allowed if isinstance(allowed, list) else [allowed]
        if key not in value:
            if OMITTED in alternatives:
                continue
            return f"missing key {key!r}"
        problem = _match_any(value[key], alternatives, properties.get(key) or {})
        if problem:
            return f"key {key!r}: {problem}"
    return None


def _unmatched_expected(ok: list[list[bool]]) -> int | None:
    """A perfect matching of expected calls (rows) to calls (columns) by augmenting paths: None when
    one exists, else the index of an expected call left without a partner."""
    owner: dict[int, int] = {}  # call -> expected

    def place(row: int, seen: set[int]) -> bool:
        for column, fits in enumerate(ok[row]):
            if fits and column not in seen:
                seen.add(column)
                if column not in owner or place(owner[column], seen):
                    owner[column] = row
                    return True
        return False

    for row in range(len(ok)):
        if not place(row, set()):
            return row
    return None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
