"""Pythonic tool calls, `[get_weather(city='Paris'), get_time()]`: a family with a syntax of its own.

- `pythonic` (Llama 3.2 small models, ToolACE): a bare call list.
- `llama4_pythonic` (Llama 4): the list between `<|python_start|>` and `<|python_end|>`.

The scanner (`scanner.py`) reads both, wrapped or not; the grammar (`grammar.py`) and the prompt's
rendering (`rendering.py`) write each family's own form, so what the model is shown, what it is held
to and what is read back agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from toolwire.formats.family import Call, CallableTool, CallsGrammar, TemplateMarker, ToolCallFamily
from toolwire.formats.families.pythonic.grammar import pythonic_calls_ebnf
from toolwire.formats.families.pythonic.rendering import pythonic_text
from toolwire.formats.grammar import GuidedDecodingError, ebnf
from toolwire.formats.families.pythonic.scanner import PYTHON_END, PYTHON_START, PythonicToolParser
from toolwire.formats.registry import ToolParserManager


class PythonicFamily(ToolCallFamily):
    """A Python list of calls with keyword arguments, between `start` and `end` (both may be empty)."""

    def __init__(self, name: str, *, start: str = "", end: str = "", template_markers=()):
        self.name, self.start, self.end = name, start, end
        self.template_markers = tuple(template_markers)

    def calls_grammar(self, tools: Sequence[CallableTool], *, parallel: bool,
                      payload: str | None = None) -> CallsGrammar:
        if payload is not None:
            raise GuidedDecodingError(f"format {self.name!r} has no payload kind {payload!r}", param="tool_choice")
        body = ebnf(pythonic_calls_ebnf(list(tools), parallel=parallel, end=self.end))
        return CallsGrammar(trigger=self.start, body=body, bare_start="" if self.start else "[")

    def render_calls(self, calls: Sequence[Call]) -> str:
        return self.start + pythonic_text(calls) + self.end


PYTHONIC = PythonicFamily("pythonic", template_markers=(
    # A call list in Python syntax shown to the model, e.g. [func_name1(params_name1=params_value1, ...)]
    TemplateMarker(re.compile(r"\[\s*[A-Za-z_]\w*\(\s*[A-Za-z_]\w*\s*="), "a [function(argument=value)] call list",
                   rank=70),
))
LLAMA4_PYTHONIC = PythonicFamily("llama4_pythonic", start=PYTHON_START, end=PYTHON_END,
                                 template_markers=(TemplateMarker.literal(PYTHON_START, rank=50),))


@ToolParserManager.register_module(["pythonic"])
class PythonicListToolParser(PythonicToolParser):
    family = PYTHONIC


@ToolParserManager.register_module(["llama4_pythonic"])
class Llama4PythonicToolParser(PythonicToolParser):
    family = LLAMA4_PYTHONIC
