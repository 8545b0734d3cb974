"""JSON Schema for a Python function's parameters, built with pydantic and cleaned for tool use.

``signature_model`` turns a signature into a pydantic model (one field per parameter, aliased to the
parameter's own name so that names like ``schema`` or ``_id`` cannot clash with pydantic's), and
``clean_schema`` turns pydantic's JSON Schema into the plain shape tool definitions use:

- no ``title`` keywords (pydantic adds one to every model and field; they only cost prompt tokens);
- ``$ref`` into ``$defs`` inlined (enums, nested models), keeping any description or default that
  sat beside the reference; only recursive models stay behind a ``$ref``, with their ``$defs`` kept at
  the root of the parameters schema, where ``#/$defs/...`` still points;
- ``Optional[X]`` for a plain ``X`` written ``{"type": ["x", "null"]}`` rather than an ``anyOf``,
  and ``"default": null`` left out (not being in ``required`` already says the parameter is optional);
- keys in a readable order (type, description, enum, ... ) while ``properties`` keep signature order,
  which is also the order a constrained decoder writes them in.

``strict_schema`` applies OpenAI's strict-mode rules on top: every object closed with
``"additionalProperties": false``, every property required, the optional ones made nullable, no
``default`` keywords (strict mode does not allow them).
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, create_model

_SCHEMA_KEYS = (
    "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
    "additionalItems", "unevaluatedItems", "unevaluatedProperties",
)
_SCHEMA_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAP_KEYS = ("properties", "patternProperties", "dependentSchemas")
_KEY_ORDER = (
    "type", "description", "enum", "const", "format", "items", "prefixItems", "properties",
    "required", "additionalProperties", "anyOf", "oneOf", "allOf", "$ref",
)


@dataclass(frozen=True)
class Parameter:
    """One parameter of a tool function, as the argument validator needs it."""

    name: str  # the Python parameter name, and the JSON property name
    field: str  # the pydantic field name inside the arguments model
    positional_only: bool
    has_default: bool


def signature_model(
    function: Callable[..., Any], model_name: str, descriptions: dict[str, str]
) -> tuple[type[BaseModel], list[Parameter]]:
    """A pydantic model whose fields are ``function``'s parameters, and those parameters."""
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as exc:  # a forward reference that does not resolve, for instance
        raise TypeError(f"tool {model_name!r}: cannot resolve the type hints: {exc}") from exc
    fields: dict[str, Any] = {}
    parameters: list[Parameter] = []
    for position, param in enumerate(inspect.signature(function).parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(
                f"tool {model_name!r}: *{param.name} / **{param.name} cannot be described as JSON "
                "Schema; give the tool named parameters"
            )
        annotation = hints.get(param.name, Any)
        description = descriptions.get(param.name) or _annotated_text(annotation)
        field_info = Field(
            default=param.default if param.default is not param.empty else ...,
            alias=param.name,
            description=description,
        )
        internal = f"p{position}"
        fields[internal] = (annotation, field_info)
        parameters.append(Parameter(
            name=param.name,
            field=internal,
            positional_only=param.kind is param.POSITIONAL_ONLY,
            has_default=param.default is not param.empty,
        ))
    config = ConfigDict(extra="forbid", populate_by_name=False, arbitrary_types_allowed=False)
    try:
        model = create_model(model_name, __config__=config, **fields)
    except Exception as exc:
        raise TypeError(f"tool {model_name!r}: cannot build an arguments schema: {exc}") from exc
    return model, parameters


def _annotated_text(annotation: Any) -> str | None:
    """``Annotated[str, "City name"]``: a plain string in the metadata is the description."""
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in annotation.__metadata__:
            if isinstance(extra, str):
                return extra
    return None


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic's JSON Schema without titles and, where possible, without ``$ref``."""
    schema = dict(schema)
    defs: dict[str, Any] = schema.pop("$defs", {})
    recursive = _recursive_defs(defs)
    cleaner = _Cleaner(defs, recursive)
    cleaned = cleaner.clean(schema)
    if recursive:
        cleaned["$defs"] = {name: cleaner.clean(defs[name]) for name in defs if name in recursive}
    return cleaned


def strict_schema(schema: dict[str, Any], *, tool_name: str = "?") -> dict[str, Any]:
    """Apply OpenAI's strict-mode rules to a cleaned schema (a new dict is returned)."""

    def visit(node: Any, path: str) -> Any:
        if not isinstance(node, dict):
            return node
        node = _map_subschemas(node, lambda child, where: visit(child, f"{path}{where}"))
        if node.get("type") == "object" or "properties" in node:
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                raise TypeError(
                    f"tool {tool_name!r}: strict mode cannot describe the free-form mapping at "
                    f"{path or 'the top level'} (a dict[...] parameter); use a pydantic model or strict=False"
                )
            properties = node.get("properties", {})
            required = set(node.get("required", []))
            node["properties"] = {
                name: prop if name in required else _nullable(prop) for name, prop in properties.items()
            }
            node["required"] = list(properties)
            node["additionalProperties"] = False
        # OpenAI's strict mode rejects `default`; a null sent for a parameter with a default
        # selects that default (see Tool.validate).
        node.pop("default", None)
        return _ordered(node)

    result = visit(schema, "")
    if "$defs" in schema:
        result["$defs"] = {name: visit(d, f"$defs.{name}") for name, d in schema["$defs"].items()}
    return result


def drop_defaulted_nulls(data: Any, schema: dict[str, Any]) -> Any:
    """``data`` without the nulls given for optional properties whose schema does not accept null.

    Strict-mode schemas make every optional property nullable, and models also write ``null`` for
    "not given"; dropping such a null lets the default apply. ``schema`` is the non-strict one.
    """
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 32:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
            seen += 1
        return node

    def accepts_null(node: Any) -> bool:
        node = resolve(node)
        if not isinstance(node, dict):
            return node is not False
        kind = node.get("type")
        if kind == "null" or (isinstance(kind, list) and "null" in kind):
            return True
        if any(accepts_null(option) for key in ("anyOf", "oneOf") for option in node.get(key, [])):
            return True
        if "enum" in node:
            return None in node["enum"]
        return kind is None and "const" not in node and "anyOf" not in node and "oneOf" not in node

    def visit(value: Any, node: Any) -> Any:
        node = resolve(node)
        if not isinstance(node, dict):
            return value
        options = [o for o in node.get("anyOf", []) if resolve(o) != {"type": "null"}]
        if len(options) == 1:
            return visit(value, options[0])
        if isinstance(value, dict) and isinstance(node.get("properties"), dict):
            properties, required = node["properties"], set(node.get("required", []))
            return {
                key: visit(item, properties.get(key))
                for key, item in value.items()
                if not (item is None and key in properties and key not in required
                        and not accepts_null(properties[key]))
            }
        if isinstance(value, list) and isinstance(node.get("items"), dict):
            return [visit(item, node["items"]) for item in value]
        return value

    return visit(data, schema)


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """``prop`` widened to accept null, the strict-mode way of saying 'optional'."""
    kind = prop.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return prop
    if any({"type": "null"} in prop.get(key, []) for key in ("anyOf", "oneOf")):
        return prop
    # A type list is enough unless something else constrains the value itself (an enum, a const,
    # a combinator or a reference would reject the null).
    if isinstance(kind, str) and not {"enum", "const", "anyOf", "oneOf", "allOf", "$ref"} & set(prop):
        return _ordered({**prop, "type": [kind, "null"]})
    outer: dict[str, Any] = {key: prop[key] for key in ("description", "default") if key in prop}
    inner = {key: value for key, value in prop.items() if key not in outer}
    return _ordered({**outer, "anyOf": [inner, {"type": "null"}]})


class _Cleaner:
    def __init__(self, defs: dict[str, Any], recursive: set[str]):
        self.defs = defs
        self.recursive = recursive

    def clean(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        node = dict(node)
        node.pop("title", None)
        # `allOf: [one schema]` is how older pydantic put a description beside a $ref.
        if "allOf" in node and len(node["allOf"]) == 1 and isinstance(node["allOf"][0], dict):
            (only,) = node.pop("allOf")
            node = {**only, **node}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref[len("#/$defs/"):]
            if name in self.defs and name not in self.recursive:
                del node["$ref"]
                # The target first, then what sat beside the $ref (a field's description wins).
                node = {**self.clean(self.defs[name]), **node}
        node = _map_subschemas(node, lambda child, _where: self.clean(child))
        if "default" in node and node["default"] is None:
            del node["default"]  # "optional" already says it, and null defaults are mere noise
        return _ordered(_collapse_optional(node))


def _collapse_optional(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{"type": "integer"}, {"type": "null"}]`` becomes ``type: ["integer", "null"]``."""
    options = node.get("anyOf")
    if (
        isinstance(options, list)
        and len(options) == 2
        and {"type": "null"} in options
        and "type" not in node
    ):
        other = options[0] if options[1] == {"type": "null"} else options[1]
        if isinstance(other, dict) and set(other) == {"type"} and isinstance(other["type"], str):
            node = {key: value for key, value in node.items() if key != "anyOf"}
            node["type"] = [other["type"], "null"]
    return node


def _map_subschemas(node: dict[str, Any], fn: Callable[[Any, str], Any]) -> dict[str, Any]:
    """Apply ``fn`` to every direct sub-schema of ``node`` (never to data such as enum or default)."""
    out = dict(node)
    for key in _SCHEMA_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = fn(out[key], f".{key}")
    for key in _SCHEMA_LIST_KEYS:
        if isinstance(out.get(key), list):
            out[key] = [fn(child, f".{key}[{i}]") for i, child in enumerate(out[key])]
    for key in _SCHEMA_MAP_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = {name: fn(child, f".{name}") for name, child in out[key].items()}
    return out


def _recursive_defs(defs: dict[str, Any]) -> set[str]:
    """The definitions that can reach themselves through ``$ref`` (they cannot be inlined)."""
    edges = {name: _refs(body) for name, body in defs.items()}
    recursive = set()
    for start in defs:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            name = stack.pop()
            if name == start:
                recursive.add(start)
                break
            if name in seen or name not in edges:
                continue
            seen.add(name)
            stack.extend(edges[name])
    return recursive


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref[len("#/$defs/"):])
        _map_subschemas(node, lambda child, _where: found.update(_refs(child)))
    return found


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    first = {key: node[key] for key in _KEY_ORDER if key in node}
    return {**first, **{key: value for key, value in node.items() if key not in first}}
