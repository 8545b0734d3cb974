"""Tools: a Python function (or a plain OpenAI definition plus a function) that a model can call.

    @tool
    def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "fahrenheit") -> dict:
        '''Get the current weather for a location.

        Args:
            location: City name, e.g. 'San Francisco'
            unit: Temperature unit. Defaults to fahrenheit.
        '''

    get_weather("Paris")                      # still the function
    get_weather.definition                    # {"type": "function", "function": {...}}
    get_weather.validate('{"location": "Paris"}')   # {"location": "Paris"}, coerced, or ToolArgumentsError
    get_weather.invoke('{"location": "Paris"}')     # validate, then call
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

import jsonschema
from pydantic import BaseModel, ValidationError

from toolwire.client.docstrings import parse_docstring
from toolwire.client.schema import (
    Parameter, clean_schema, drop_defaulted_nulls, signature_model, strict_schema,
)

P = ParamSpec("P")
R = TypeVar("R")

_OPENAI_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolArgumentsError(ValueError):
    """Arguments that are not a JSON object or do not match the tool's schema.

    The message is written for the model: it says which argument is wrong and why, so that the
    model can retry with corrected arguments.
    """


def parse_arguments(arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON object in a tool call's ``arguments`` string, as a dict.

    An empty string means no arguments (some servers send ``""`` for a call without parameters),
    and a JSON string that itself holds a JSON object (double encoding, a known model slip) is
    decoded once more. Anything else that is not a JSON object raises ``ToolArgumentsError``.
    """
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise ToolArgumentsError(
            f"the arguments are not valid JSON ({exc.msg} at position {exc.pos}); "
            "send one JSON object with the parameters"
        ) from None
    if isinstance(value, str):
        try:
            inner = json.loads(value)
        except json.JSONDecodeError:
            inner = None
        if isinstance(inner, dict):
            value = inner
    if not isinstance(value, dict):
        raise ToolArgumentsError(
            f"the arguments must be a JSON object, not {type(value).__name__}: {_short(value)}"
        )
    return value


class Tool(Generic[P, R]):
    """A function the model can call: its OpenAI definition, argument validation, and the function.

    Make one with ``@tool`` (from a typed function) or ``Tool.from_definition`` (from an OpenAI
    definition dict and, optionally, the function that implements it). Calling the object calls the
    function unchanged; ``invoke`` calls it with a model's arguments after validating them.
    """

    def __init__(
        self,
        *,
        name: str,
        description: str | None,
        parameters: dict[str, Any] | None,
        function: Callable[P, R] | None,
        strict: bool = False,
        validator: _Validator,
    ):
        self.name = name
        self.description = description
        self.parameters = parameters
        self.function = function
        self.strict = strict
        self._validator = validator
        if function is not None:
            functools.update_wrapper(self, function)

    @classmethod
    def from_function(
        cls,
        function: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
    ) -> Tool[P, R]:
        """A tool from a typed function; see ``tool``."""
        if not callable(function):
            raise TypeError(f"a tool needs a callable, not {function!r}")
        tool_name = name or getattr(function, "__name__", None)
        if not tool_name or not _OPENAI_NAME.match(tool_name):
            raise ValueError(
                f"tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)"
            )
        doc = parse_docstring(inspect.getdoc(function))
        model, params = signature_model(function, tool_name, doc.params)
        validator = _SignatureValidator(tool_name, function, model, params)
        parameters = copy.deepcopy(validator.schema)
        if strict:
            parameters = strict_schema(parameters, tool_name=tool_name)
        return cls(
            name=tool_name,
            description=description if description is not None else doc.description,
            parameters=parameters,
            function=function,
            strict=strict,
            validator=validator,
        )

    @classmethod
    def from_definition(
        cls, definition: Mapping[str, Any], function: Callable[..., Any] | None = None
    ) -> Tool[..., Any]:
        """A tool from an OpenAI definition (``{"type": "function", "function": {...}}`` or the
        inner ``{"name", "description", "parameters"}``); arguments are checked with jsonschema
        against its ``parameters`` and passed to ``function`` as keywords. Without a function the
        tool is still offered to the model, and a call to it gets an error result."""
        spec = copy.deepcopy(dict(_function_spec(definition)))
        parameters = spec.get("parameters")
        return cls(
            name=spec["name"],
            description=spec.get("description"),
            parameters=parameters,
            function=function,
            strict=bool(spec.get("strict", False)),
            validator=_SchemaValidator(spec["name"], parameters, spec),
        )

    @property
    def definition(self) -> dict[str, Any]:
        """The OpenAI tool definition, ``{"type": "function", "function": {...}}`` (a fresh copy)."""
        return {"type": "function", "function": copy.deepcopy(self._validator.function_spec(self))}

    @property
    def is_async(self) -> bool:
        """True when calling the function returns a coroutine."""
        return self.function is not None and inspect.iscoroutinefunction(inspect.unwrap(self.function))

    def validate(self, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """The model's arguments (a JSON string or a dict) checked and coerced for the function.

        Returns ``{parameter: value}`` for the arguments given (pydantic coercion applies for
        ``@tool`` functions: ``"3"`` becomes ``3`` for an ``int``, a dict becomes the nested model).
        A ``null`` given for a parameter whose type does not accept None but that has a default is
        treated as absent, so the default applies (strict-mode schemas invite such nulls).
        Raises ``ToolArgumentsError`` with a message written for the model.
        """
        return self._validator.validate(parse_arguments(arguments))

    def invoke(self, arguments: str | Mapping[str, Any] | None) -> R:
        """Validate ``arguments`` and call the function (for an async function: the coroutine)."""
        if self.function is None:
            raise LookupError(f"no implementation was given for the tool {self.name!r}")
        return self._call_validated(self.validate(arguments))

    def _call_validated(self, values: dict[str, Any]) -> Any:
        if self.function is None:
            raise LookupError(f"no implementation was given for the tool {self.name!r}")
        return self._validator.call(self.function, values)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.function is None:
            raise LookupError(f"no implementation was given for the tool {self.name!r}")
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self.name}>"


@overload
def tool(function: Callable[P, R], /) -> Tool[P, R]: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, strict: bool = False
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...
@overload
def tool(
    function: Callable[P, R], /, *, name: str | None = None, description: str | None = None,
    strict: bool = False,
) -> Tool[P, R]: ...


def tool(function=None, /, *, name=None, description=None, strict=False):
    """Turn a typed function (sync or async) into a ``Tool``; use as ``@tool`` or ``@tool(...)``.

    - name: the function's ``__name__`` unless given;
    - description: the docstring without its parameter section unless given;
    - parameters: a JSON Schema built by pydantic from the type hints, parameter descriptions taken
      from the docstring (Google ``Args:``, reST ``:param x:`` or NumPy ``Parameters``) or from
      ``Annotated[T, "text"]``;
    - strict: emit an OpenAI strict-mode schema and ``"strict": true`` (every property required,
      optional ones nullable, objects closed). ``dict[str, X]`` parameters cannot be strict.
    """
    if function is None:
        return lambda fn: Tool.from_function(fn, name=name, description=description, strict=strict)
    return Tool.from_function(function, name=name, description=description, strict=strict)


class Toolbox:
    """The tools of one run, by name: ``@tool`` functions, plain functions (wrapped with ``tool``),
    and OpenAI definition dicts whose implementations are looked up in ``functions`` by name."""

    def __init__(
        self,
        tools: Iterable[Tool[..., Any] | Callable[..., Any] | Mapping[str, Any]] = (),
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ):
        functions = dict(functions or {})
        self.tools: dict[str, Tool[..., Any]] = {}
        for item in tools:
            if isinstance(item, Tool):
                made = item
            elif isinstance(item, Mapping):
                made = Tool.from_definition(item, functions.pop(_function_spec(item)["name"], None))
            elif callable(item):
                made = Tool.from_function(item)
            else:
                raise TypeError(f"not a tool: {item!r} (give @tool functions, functions or definition dicts)")
            if made.name in self.tools:
                raise ValueError(f"two tools are named {made.name!r}")
            self.tools[made.name] = made
        if functions:
            raise ValueError(
                f"functions given for tools that have no definition: {sorted(functions)}"
            )

    @property
    def definitions(self) -> list[dict[str, Any]]:
        return [t.definition for t in self.tools.values()]

    def get(self, name: str) -> Tool[..., Any] | None:
        return self.tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __len__(self) -> int:
        return len(self.tools)


def _function_spec(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    if definition.get("type") == "function" and isinstance(definition.get("function"), Mapping):
        spec = definition["function"]
    elif "type" not in definition:
        spec = definition
    else:
        spec = None
    if not spec or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise ValueError(f"not a function tool definition: {definition!r}")
    return spec


# --- argument validation strategies -------------------------------------------------------------


class _Validator:
    def function_spec(self, owner: Tool[..., Any]) -> dict[str, Any]:
        raise NotImplementedError

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def call(self, function: Callable[..., Any], values: dict[str, Any]) -> Any:
        return function(**values)


class _SignatureValidator(_Validator):
    """Validation by the pydantic model built from the function's signature."""

    def __init__(self, name: str, function: Callable[..., Any], model: type[BaseModel],
                 params: list[Parameter]):
        self.name = name
        self.model = model
        self.params = params
        self.signature = inspect.signature(function)
        self.schema = clean_schema(model.model_json_schema(by_alias=True))  # the non-strict one

    def function_spec(self, owner: Tool[..., Any]) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": owner.name}
        if owner.description:
            spec["description"] = owner.description
        spec["parameters"] = owner.parameters
        if owner.strict:
            spec["strict"] = True
        return spec

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = drop_defaulted_nulls(data, self.schema)
        try:
            instance = self.model.model_validate(data)
        except ValidationError as exc:
            raise ToolArgumentsError(_describe_pydantic(exc)) from None
        given = instance.model_fields_set
        return {p.name: getattr(instance, p.field) for p in self.params if p.field in given}

    def call(self, function: Callable[..., Any], values: dict[str, Any]) -> Any:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self.params:
            if param.positional_only:
                default = self.signature.parameters[param.name].default
                args.append(values.get(param.name, default))
            elif param.name in values:
                kwargs[param.name] = values[param.name]
        return function(*args, **kwargs)


class _SchemaValidator(_Validator):
    """Validation of a plain definition's arguments with jsonschema."""

    def __init__(self, name: str, parameters: dict[str, Any] | None, spec: dict[str, Any]):
        self.name = name
        self.spec = spec
        self.checker = None
        if parameters is not None:
            cls = jsonschema.validators.validator_for(parameters, default=jsonschema.Draft202012Validator)
            cls.check_schema(parameters)
            self.checker = cls(parameters)

    def function_spec(self, owner: Tool[..., Any]) -> dict[str, Any]:
        return self.spec

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.checker is not None:
            errors = sorted(self.checker.iter_errors(data), key=lambda e: list(e.absolute_path))
            if errors:
                raise ToolArgumentsError("; ".join(_describe_jsonschema(e) for e in errors[:5]))
        return data


def _describe_pydantic(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        kind = error["type"]
        if kind == "missing":
            parts.append(f"{where}: missing required argument")
        elif kind == "extra_forbidden":
            parts.append(f"{where}: unexpected argument (not a parameter of this tool)")
        else:
            parts.append(f"{where}: {error['msg']} (got {_short(error.get('input'))})")
    return "; ".join(parts)


def _describe_jsonschema(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "arguments"
    return f"{where}: {error.message}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."
