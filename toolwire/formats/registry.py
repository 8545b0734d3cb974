"""Parsers by name: one registry class for tool parsers and reasoning parsers, built-in or plugin.

The interface is the seeds' (vLLM's): `ToolParserManager.register_module([...])` as a class
decorator, `get_tool_parser(name)`, `import_tool_parser(path)`, the `tool_parsers` table; the same
for `ReasoningParserManager`. The built-in families (every module of `toolwire.formats.families`)
register themselves the same way plugins do, on first use of either registry.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from toolwire.formats.family import ToolCallFamily, UndeclaredFamily

DEFAULT_TOOL_PARSER = "hermes"
"""The family toolwire's tool prompt teaches a model whose template shows no format of its own."""


class ParserRegistry:
    """Parser classes by name; each subclass is the registry of one kind of parser."""

    kind: ClassVar[str]
    parsers: ClassVar[dict[str, type]]
    _builtins_loaded: ClassVar[bool] = False

    def __init_subclass__(cls, *, kind: str, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.kind = kind
        cls.parsers = {}

    @classmethod
    def register_module(cls, name: str | list[str] | None = None, force: bool = True,
                        module: type | None = None) -> Callable[[type], type] | type:
        """Register a parser class under one or more names; usable as a decorator."""

        def register(parser_class: type) -> type:
            names = [name] if isinstance(name, str) else (name or [parser_class.__name__])
            for each in names:
                if not force and each in cls.parsers:
                    raise KeyError(f"{cls.kind} {each!r} is already registered")
                cls.parsers[each] = parser_class
            return parser_class

        return register(module) if module is not None else register

    @classmethod
    def get(cls, name: str) -> type:
        _load_builtin_families()
        if name in cls.parsers:
            return cls.parsers[name]
        raise KeyError(f"unknown {cls.kind} {name!r}; known {cls.kind}s: {', '.join(sorted(cls.parsers))}")

    @classmethod
    def names(cls) -> list[str]:
        _load_builtin_families()
        return sorted(cls.parsers)

    @classmethod
    def import_plugin(cls, plugin_path: str | Path) -> None:
        """Load a plugin file; its `register_module` decorators register its parsers."""
        path = Path(plugin_path).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{cls.kind} plugin not found: {path}")
        module_name = f"toolwire_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {cls.kind} plugin {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)


class ToolParserManager(ParserRegistry, kind="tool parser"):
    @classmethod
    def get_tool_parser(cls, name: str) -> type:
        return cls.get(name)

    @classmethod
    def import_tool_parser(cls, plugin_path: str | Path) -> None:
        cls.import_plugin(plugin_path)


class ReasoningParserManager(ParserRegistry, kind="reasoning parser"):
    @classmethod
    def get_reasoning_parser(cls, name: str) -> type:
        return cls.get(name)

    @classmethod
    def import_reasoning_parser(cls, plugin_path: str | Path) -> None:
        cls.import_plugin(plugin_path)


ToolParserManager.tool_parsers = ToolParserManager.parsers
ReasoningParserManager.reasoning_parsers = ReasoningParserManager.parsers


def tool_call_family(name: str) -> ToolCallFamily:
    """The family of the tool parser registered as `name` (KeyError when there is none)."""
    parser_class = ToolParserManager.get(name)
    family = getattr(parser_class, "family", None)
    if family is not None:
        return family
    return UndeclaredFamily(name, shown_as=default_tool_call_family())


def default_tool_call_family() -> ToolCallFamily:
    return ToolParserManager.get(DEFAULT_TOOL_PARSER).family


def registered_families() -> list[ToolCallFamily]:
    """Every declared family among the registered tool parsers, each once, in registration order."""
    _load_builtin_families()
    seen: dict[int, ToolCallFamily] = {}
    for parser_class in ToolParserManager.parsers.values():
        family = getattr(parser_class, "family", None)
        if family is not None:
            seen.setdefault(id(family), family)
    return list(seen.values())


def _load_builtin_families() -> None:
    # Imported on first use so that `toolwire.plugins` stays cheap and cycle-free.
    if ParserRegistry._builtins_loaded:
        return
    ParserRegistry._builtins_loaded = True
    from toolwire.formats import families

    for module in pkgutil.iter_modules(families.__path__):
        importlib.import_module(f"{families.__name__}.{module.name}")
