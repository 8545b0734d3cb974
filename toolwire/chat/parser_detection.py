"""Picking a tool parser from the chat template, when no --tool-call-parser is given.

A template that renders tool calls shows the markers its model writes them with; the first rule whose
marker appears decides. The order matters where markers contain one another or families share a
layout (`<tool_calls>` before `<tool_call>`, `<|tool_call|>` before both, a pythonic call list shown
to the model before Llama's `<|python_tag|>`, which Llama 3.2 templates keep for built-in tools). A template with no markers at all (SmolLM2's) gets
hermes, the format toolwire's injected tool prompt teaches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from toolwire.chat.templates import ChatTemplate

_BAR = "[\uff5c|]"  # DeepSeek writes full-width bars; documents print ASCII ones


@dataclass(frozen=True)
class ParserChoice:
    name: str
    reason: str  # for the startup log line


@dataclass(frozen=True)
class _Rule:
    parser: str
    pattern: re.Pattern
    shows: str  # what the reason says was found

    def matches(self, text: str) -> bool:
        return self.pattern.search(text) is not None


def _literal(parser: str, marker: str) -> _Rule:
    return _Rule(parser, re.compile(re.escape(marker)), marker)


RULES = (
    # DeepSeek V3 writes the arguments in a ```json fence after the name; V3.1 right after <｜tool▁sep｜>.
    _Rule("deepseekv3", re.compile(rf"<{_BAR}tool▁calls▁begin{_BAR}>(?=.*```json)", re.S),
          "<｜tool▁calls▁begin｜> with ```json arguments"),
    _Rule("deepseekv31", re.compile(rf"<{_BAR}tool▁calls▁begin{_BAR}>"), "<｜tool▁calls▁begin｜>"),
    _literal("internlm", "<|action_start|>"),
    _literal("jamba", "<tool_calls>"),
    _literal("granite", "<|tool_call|>"),
    _literal("granite-20b-fc", "<function_call>"),
    _literal("mistral", "[TOOL_CALLS]"),
    _literal("pythonic", "<|python_start|>"),
    _literal("hermes", "<tool_call>"),
    # A call list in Python syntax shown to the model, e.g. [func_name1(params_name1=params_value1, ...)]
    _Rule("pythonic", re.compile(r"\[\s*[A-Za-z_]\w*\(\s*[A-Za-z_]\w*\s*="), "a [function(argument=value)] call list"),
    _literal("llama3_json", "<|python_tag|>"),
    # Llama 3.x templates that show no tag still return tool results in an `ipython` turn.
    _Rule("llama3_json", re.compile(r"<\|start_header_id\|>.*ipython", re.S), "Llama 3 headers with an ipython turn"),
)
DEFAULT_PARSER = "hermes"


def detect_tool_parser(template: ChatTemplate | str | Iterable[str] | None) -> ParserChoice:
    """The tool parser for a chat template (all of a model's templates may be given), with the reason."""
    texts = _texts(template)
    for rule in RULES:
        if any(rule.matches(text) for text in texts):
            return ParserChoice(rule.parser, f"the chat template shows {rule.shows}")
    return ParserChoice(
        DEFAULT_PARSER,
        "the chat template shows no tool-call markers; toolwire's tool prompt teaches the hermes format",
    )


def _texts(template: ChatTemplate | str | Iterable[str] | None) -> list[str]:
    if template is None:
        return []
    if isinstance(template, ChatTemplate):
        return list(template.texts)
    if isinstance(template, str):
        return [template]
    return [text for text in template if text]
