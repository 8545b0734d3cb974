"""Picking a tool parser from the chat template, when no --tool-call-parser is given.

A template that renders tool calls shows the markers its model writes them with. Every registered
family declares its markers (`ToolCallFamily.template_markers`); they are tried in ascending rank and
the first found decides (its rank orders it where markers contain one another or families share a
layout). A template with no markers at all (SmolLM2's) gets the default family, the format toolwire's
injected tool prompt teaches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from toolwire.chat.templates import ChatTemplate
from toolwire.formats.family import ToolCallFamily
from toolwire.formats.registry import default_tool_call_family, registered_families


@dataclass(frozen=True)
class ParserChoice:
    family: ToolCallFamily
    reason: str  # for the startup log line

    @property
    def name(self) -> str:
        return self.family.name


def detect_tool_parser(template: ChatTemplate | str | Iterable[str] | None) -> ParserChoice:
    """The family for a chat template (all of a model's templates may be given), with the reason."""
    texts = _texts(template)
    markers = sorted(((marker, family) for family in registered_families() for marker in family.template_markers),
                     key=lambda pair: pair[0].rank)
    for marker, family in markers:
        if any(marker.found_in(text) for text in texts):
            return ParserChoice(family, f"the chat template shows {marker.shows}")
    default = default_tool_call_family()
    return ParserChoice(default, f"the chat template shows no tool-call markers; toolwire's tool prompt "
                                 f"teaches the {default.name} format")


def _texts(template: ChatTemplate | str | Iterable[str] | None) -> list[str]:
    if template is None:
        return []
    if isinstance(template, ChatTemplate):
        return list(template.texts)
    if isinstance(template, str):
        return [template]
    return [text for text in template if text]
