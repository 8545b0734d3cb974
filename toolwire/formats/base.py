"""The public parser interface (the seeds' plugin API) and the registry of parsers by name."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage, ExtractedToolCallInformation


class ToolParser:
    """Turns a model's raw output into content and tool calls, whole or delta by delta.

    One instance parses one response (one choice): the streaming methods keep state between calls.
    `tokenizer` is a Hugging Face tokenizer or None; built-in parsers work on text alone.
    """

    # A parser that only looks at `delta_text` sets this to False; the caller then passes "" for
    # `previous_text` and `current_text` instead of rebuilding the whole reply on every delta.
    reads_full_text: ClassVar[bool] = True

    def __init__(self, tokenizer: Any = None):
        self.model_tokenizer = tokenizer

    def adjust_request(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        return request

    def extract_tool_calls(
        self, model_output: str, request: ChatCompletionRequest
    ) -> ExtractedToolCallInformation:
        raise NotImplementedError

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: ChatCompletionRequest,
    ) -> DeltaMessage | None:
        raise NotImplementedError

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        """Called once when the stream ends: release whatever was held back."""
        return None


class ToolParserManager:
    """Parsers by name: built-in ones and those registered by plugin files."""

    tool_parsers: dict[str, type[ToolParser]] = {}

    @classmethod
    def register_module(
        cls, name: str | list[str] | None = None, force: bool = True, module: type[ToolParser] | None = None
    ) -> Callable[[type[ToolParser]], type[ToolParser]] | type[ToolParser]:
        """Register a parser class under one or more names; usable as a decorator."""

        def register(parser_class: type[ToolParser]) -> type[ToolParser]:
            names = [name] if isinstance(name, str) else (name or [parser_class.__name__])
            for each in names:
                if not force and each in cls.tool_parsers:
                    raise KeyError(f"tool parser {each!r} is already registered")
                cls.tool_parsers[each] = parser_class
            return parser_class

        return register(module) if module is not None else register

    @classmethod
    def get_tool_parser(cls, name: str) -> type[ToolParser]:
        _load_builtin_parsers()
        if name in cls.tool_parsers:
            return cls.tool_parsers[name]
        known = ", ".join(sorted(cls.tool_parsers))
        raise KeyError(f"unknown tool parser {name!r}; known parsers: {known}")

    @classmethod
    def names(cls) -> list[str]:
        _load_builtin_parsers()
        return sorted(cls.tool_parsers)

    @classmethod
    def import_tool_parser(cls, plugin_path: str | Path) -> None:
        """Load a plugin file; its `@ToolParserManager.register_module` decorators register its parsers."""
        path = Path(plugin_path).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"tool parser plugin not found: {path}")
        module_name = f"toolwire_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load tool parser plugin {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)


def _load_builtin_parsers() -> None:
    # Imported on first use so that `toolwire.plugins` stays cheap and cycle-free.
    import toolwire.formats.builtin  # noqa: F401
