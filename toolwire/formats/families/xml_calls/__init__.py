"""XML-style tool calls: a function name, then each parameter in tags, its value as raw text.

- `qwen3_coder` (Qwen3-Coder, Qwen3.5): `<tool_call>\\n<function=f>\\n<parameter=k>\\nV\\n</parameter>\\n</function>\\n</tool_call>`
- `glm45` (GLM-4.5, 4.6): `<tool_call>f\\n<arg_key>k</arg_key>\\n<arg_value>V</arg_value>\\n</tool_call>`
- `glm47` (GLM-4.7): the same without the newlines
- `minimax_m2` (MiniMax-M2): `<minimax:tool_call>\\n<invoke name="f">\\n<parameter name="k">V</parameter>\\n</invoke>\\n</minimax:tool_call>`

One declaration each (`XmlCallSyntax`); the machinery is shared: the scanner (`scanner.py`) reads
any of them, the values are typed by the tool's schema (`values.py`), and the grammar (`grammar.py`)
and the prompt's rendering (`rendering.py`) write each family's canonical form.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolwire.formats.families.xml_calls.grammar import xml_calls_grammar
from toolwire.formats.families.xml_calls.parser import XmlCallsToolParser
from toolwire.formats.families.xml_calls.rendering import xml_calls_text
from toolwire.formats.families.xml_calls.syntax import XmlCallSyntax
from toolwire.formats.family import Call, CallableTool, CallsGrammar, TemplateMarker, ToolCallFamily
from toolwire.formats.grammar import GuidedDecodingError
from toolwire.formats.registry import ToolParserManager


class XmlCallFamily(ToolCallFamily):
    def __init__(self, name: str, syntax: XmlCallSyntax, *, template_markers: Sequence[TemplateMarker],
                 instruction: str):
        self.name, self.syntax = name, syntax
        self.template_markers = tuple(template_markers)
        self.instruction = instruction
        self.value_end_markers = (syntax.value_end, "\n" + syntax.value_end)

    def calls_grammar(self, tools: Sequence[CallableTool], *, parallel: bool,
                      payload: str | None = None) -> CallsGrammar:
        if payload is not None:
            raise GuidedDecodingError(f"format {self.name!r} has no payload kind {payload!r}", param="tool_choice")
        return xml_calls_grammar(self.syntax, tools, parallel=parallel)

    def render_calls(self, calls: Sequence[Call]) -> str:
        return xml_calls_text(self.syntax, calls)


QWEN3_CODER = XmlCallFamily(
    "qwen3_coder",
    XmlCallSyntax(block_start="<tool_call>", block_end="</tool_call>", call_start="<function=", name_end=">",
                  call_end="</function>", key_start="<parameter=", key_end=">", value_start="",
                  value_end="</parameter>", grammar_style="qwen_xml", value_between_newlines=True,
                  after_block_start="\n", after_name="\n", after_value="\n", after_call="\n"),
    # before hermes' <tool_call>, which Qwen3-Coder's template shows too
    template_markers=(TemplateMarker.literal("<parameter=", rank=45),),
    instruction="To call a function, reply with one <tool_call> block per call, the function's name in "
                "<function=...> and each argument in its own <parameter=...> tag, like this:",
)

_GLM_TAGS = dict(block_start="<tool_call>", block_end="</tool_call>", call_start="", name_end="", call_end="",
                 key_start="<arg_key>", key_end="</arg_key>", value_start="<arg_value>", value_end="</arg_value>",
                 grammar_style="glm_xml")
_GLM_INSTRUCTION = ("To call a function, write its name and arguments within <tool_call></tool_call> tags, each "
                    "argument as an <arg_key> and <arg_value> pair, like this:")
GLM45 = XmlCallFamily(
    "glm45",
    XmlCallSyntax(**_GLM_TAGS, after_name="\n", after_key="\n", after_value="\n"),
    template_markers=(TemplateMarker.literal("<arg_key>", rank=35),),
    instruction=_GLM_INSTRUCTION,
)
GLM47 = XmlCallFamily(
    "glm47",
    XmlCallSyntax(**_GLM_TAGS, between_blocks=""),
    # GLM-4.7's template writes the tags back to back; GLM-4.5/4.6's put a newline between them
    template_markers=(TemplateMarker.literal("</arg_key><arg_value>", rank=34),),
    instruction=_GLM_INSTRUCTION,
)

MINIMAX_M2 = XmlCallFamily(
    "minimax_m2",
    XmlCallSyntax(block_start="<minimax:tool_call>", block_end="</minimax:tool_call>", call_start='<invoke name="',
                  name_end='">', call_end="</invoke>", key_start='<parameter name="', key_end='">', value_start="",
                  value_end="</parameter>", grammar_style="minimax_xml", one_call_per_block=False,
                  after_block_start="\n", after_name="\n", after_value="\n", after_call="\n"),
    template_markers=(TemplateMarker.literal("<minimax:tool_call>", rank=21),),
    instruction="To call functions, write the calls within <minimax:tool_call></minimax:tool_call> tags, each "
                "as an <invoke> with its arguments in <parameter> tags, like this:",
)


# vLLM's name first, then its other name and SGLang's spellings where they differ.
@ToolParserManager.register_module(["qwen3_coder", "qwen3_xml"])
class Qwen3CoderToolParser(XmlCallsToolParser):
    family = QWEN3_CODER


@ToolParserManager.register_module(["glm45", "glm"])
class Glm45ToolParser(XmlCallsToolParser):
    family = GLM45


@ToolParserManager.register_module(["glm47"])
class Glm47ToolParser(XmlCallsToolParser):
    family = GLM47


@ToolParserManager.register_module(["minimax_m2", "minimax-m2"])
class MinimaxM2ToolParser(XmlCallsToolParser):
    family = MINIMAX_M2
