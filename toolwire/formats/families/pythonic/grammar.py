"""EBNF for pythonic tool calls, `[f(a=1, b='x'), g()]`, with arguments as Python literals.

Each argument's JSON schema is mapped to Python literal syntax: string -> '...' or "..." (escapes as
Python writes them), integer / number -> Python numbers, boolean -> True / False, null -> None,
array -> [...], object -> {'key': value} (listed properties in schema order, optional ones may be
left out), enum / const -> exactly those literals, type lists and anyOf / oneOf -> alternatives, local
$refs -> their definitions. What Python literals cannot say cheaply is not enforced here: string
patterns and formats, numeric bounds, array lengths (beyond "not empty" for minItems >= 1). Floats are kept finite (at most 16 integer digits
and a two-digit exponent): a literal that overflows to infinity has no JSON rendering. A schema with
nothing to go on (no type, `{}`) admits any literal.
"""

from __future__ import annotations

import keyword
from typing import Any

from toolwire.formats.grammar import GuidedDecodingError, ebnf_literal

_SEP = '"," " "?'  # between list items, dict items and keyword arguments: Python writes ", "

# Strings are right-recursive with a lookahead for what may follow them, the shape xgrammar's own JSON
# strings have: written as a starred alternative with escapes, a string costs ~45 ms per mask.
_BASE_RULES = r"""
py_sq_str ::= "'" py_sq_rest
py_sq_rest ::= ("'" | [^'\\\r\n\0] py_sq_rest | "\\" py_esc py_sq_rest) (= " "? [,)\]}:])
py_dq_str ::= "\"" py_dq_rest
py_dq_rest ::= ("\"" | [^"\\\r\n\0] py_dq_rest | "\\" py_esc py_dq_rest) (= " "? [,)\]}:])
py_esc ::= ["'\\abfnrtv0] | "x" py_hex py_hex | "u" py_hex py_hex py_hex py_hex
py_hex ::= [0-9a-fA-F]
py_str ::= py_sq_str | py_dq_str
py_int ::= "-"? ("0" | [1-9] [0-9]*)
py_num ::= py_int | "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,17} | "." [0-9]{1,17} py_exp | py_exp)
py_exp ::= [eE] [+-]? [0-9]{1,2}
py_bool ::= "True" | "False"
py_none ::= "None"
py_list ::= "[" (py_any ("," " "? py_any)*)? "]"
py_dict ::= "{" (py_str ":" " "? py_any ("," " "? py_str ":" " "? py_any)*)? "}"
py_any ::= py_str | py_num | py_bool | py_none | py_list | py_dict
"""


def python_literal(value: Any) -> str:
    """The canonical Python source of a JSON value (what `repr` writes)."""
    if value is True:
        return "True"
    if value is False:
        return "False"
    if value is None:
        return "None"
    if isinstance(value, (int, float, str)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {python_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


class _Rules:
    """Collects the rules of one grammar; each schema gets a rule named after its place."""

    def __init__(self, root_schema: dict[str, Any], prefix: str):
        self.root_schema = root_schema
        self.prefix = prefix
        self.rules: list[str] = []
        self.count = 0
        self.refs: dict[str, str] = {}

    def new_name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}r{self.count}_{hint}"

    def add(self, name: str, body: str) -> str:
        self.rules.append(f"{name} ::= {body}")
        return name

    def value(self, schema: Any, hint: str) -> str:
        """The name of a rule (or an inline expression) for the values `schema` admits."""
        if schema is False:
            raise GuidedDecodingError("a schema that admits nothing cannot be called")
        if schema is True or not isinstance(schema, dict):
            return "py_any"
        if "$ref" in schema:
            return self.ref(schema["$ref"])
        if "const" in schema:
            return ebnf_literal(python_literal(schema["const"]))
        if "enum" in schema:
            values = schema["enum"]
            if not values:
                raise GuidedDecodingError("an empty enum admits nothing")
            return "(" + " | ".join(ebnf_literal(python_literal(v)) for v in values) + ")"
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return "(" + " | ".join(self.value(s, hint) for s in schema[key]) + ")"
        if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            return self.value(schema["allOf"][0], hint)
        kind = schema.get("type")
        if isinstance(kind, list):
            return "(" + " | ".join(self.value({**schema, "type": k}, hint) for k in kind) + ")"
        if kind is None:
            if "properties" in schema:
                kind = "object"
            elif "items" in schema:
                kind = "array"
            else:
                return "py_any"
        simple = {"string": "py_str", "integer": "py_int", "number": "py_num", "boolean": "py_bool",
                  "null": "py_none"}
        if kind in simple:
            return simple[kind]
        if kind == "array":
            items = schema.get("items", True)
            if isinstance(items, list):  # old-style tuple typing: positional item schemas
                parts = [self.value(s, hint) for s in items]
                body = '"[" ' + (" " + _SEP + " ").join(parts) + ' "]"' if parts else '"[" "]"'
                return self.add(self.new_name(hint), body)
            item = self.value(items, hint + "_item")
            listed = f"{item} ({_SEP} {item})*"
            return self.add(self.new_name(hint), f'"[" {listed} "]"' if schema.get("minItems", 0) >= 1
                            else f'"[" ({listed})? "]"')
        if kind == "object":
            props = schema.get("properties")
            if not isinstance(props, dict) or not props:
                return "py_dict"
            required = set(schema.get("required", ()))
            items = [(ebnf_literal(repr(key)) + ' ":" " "? ' + self.value(sub, f"{hint}_{_slug(key)}"),
                      key in required) for key, sub in props.items()]
            return self.add(self.new_name(hint), '"{" ' + self.separated(items, hint) + ' "}"')
        raise GuidedDecodingError(f"unsupported schema type {kind!r}")

    def ref(self, ref: str) -> str:
        if ref in self.refs:
            return self.refs[ref]
        if not ref.startswith("#/"):
            raise GuidedDecodingError(f"only local $refs can be followed, not {ref!r}")
        target: Any = self.root_schema
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise GuidedDecodingError(f"$ref {ref!r} points nowhere")
            target = target[part]
        name = self.new_name("ref")
        self.refs[ref] = name
        self.add(name, self.value(target, "ref"))
        return name

    def separated(self, items: list[tuple[str, bool]], hint: str) -> str:
        """Items in order, comma-separated, the optional ones skippable; an expression."""
        if not items:
            return '""'
        # head_i: nothing written yet, items i.. to come; tail_i: something written, items i.. to come.
        n = len(items)
        head = [""] * (n + 1)
        tail = [""] * (n + 1)
        head[n] = tail[n] = '""'
        for i in range(n - 1, -1, -1):
            item, is_required = items[i]
            tail_body = f"{_SEP} {item} {tail[i + 1]}"
            head_body = f"{item} {tail[i + 1]}"
            if not is_required:
                tail_body = f"({tail_body}) | {tail[i + 1]}"
                head_body = f"({head_body}) | {head[i + 1]}"
            tail[i] = self.add(self.new_name(f"{hint}_t{i}"), tail_body)
            head[i] = self.add(self.new_name(f"{hint}_h{i}"), head_body)
        return head[0]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)[:24] or "k"


def pythonic_calls_ebnf(tools: list[tuple[str, dict[str, Any]]], *, parallel: bool, end: str = "") -> str:
    """EBNF (root rule `root`) for `[call, call, ...]end`, each call one of `tools`.

    `tools` holds (name, arguments schema) pairs; the schema's properties become keyword arguments.
    """
    rules: list[str] = []
    calls: list[str] = []
    for index, (name, schema) in enumerate(tools):
        if not all(part.isidentifier() and not keyword.iskeyword(part) for part in name.split(".")):
            raise GuidedDecodingError(
                f"tool {name!r}: its name is not a Python identifier, so the pythonic format cannot "
                "call it", tool=name)
        builder = _Rules(schema, prefix=f"t{index}_")
        try:
            props = schema.get("properties") if isinstance(schema, dict) else None
            if isinstance(props, dict) and props:
                required = set(schema.get("required", ()))
                for key in props:
                    if not key.isidentifier() or keyword.iskeyword(key):
                        raise GuidedDecodingError(f"parameter {key!r} is not a Python identifier")
                items = [(ebnf_literal(key + "=") + " " + builder.value(sub, f"{_slug(key)}"), key in required)
                         for key, sub in props.items()]
                args = builder.separated(items, "args")
            elif _admits_extra(schema):
                args = f'(py_kwarg ({_SEP} py_kwarg)*)?'
            else:
                args = '""'
        except GuidedDecodingError as exc:
            raise GuidedDecodingError(f"tool {name!r}: {exc}", tool=name) from exc
        call = f"t{index}_call"
        rules += builder.rules
        rules.append(f"{call} ::= {ebnf_literal(name + '(')} {args} \")\"")
        calls.append(call)
    call_rule = "call ::= " + " | ".join(calls)
    listed = '"[" call (' + _SEP + ' call)* "]"' if parallel else '"[" call "]"'
    root = "root ::= " + listed + (" " + ebnf_literal(end) if end else "")
    kwarg = r'py_kwarg ::= [a-zA-Z_] [a-zA-Z0-9_]* "=" py_any'
    return "\n".join([root, call_rule, *rules, kwarg]) + _BASE_RULES


def _admits_extra(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    extra = schema.get("additionalProperties", None)
    return "properties" not in schema and extra is not False


__all__ = ["ebnf_literal", "pythonic_calls_ebnf", "python_literal"]
