"""Hermes / Qwen2.5 / Qwen3: `<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>`, repeated.

Content may precede the calls. The closing tag may be missing at the end of the output, and some
models put two objects in one block separated by `, `.
"""

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat

HERMES = DeclaredFamily(
    ToolCallFormat(
        name="hermes",
        start=("<tool_call>",),
        end=("</tool_call>",),
        payloads=(Payload.JSON_OBJECTS, Payload.JSON_ARRAY),
        separator=",",
    ),
    # after the markers that contain `<tool_call>` or that templates show beside it
    template_markers=(TemplateMarker.literal("<tool_call>", rank=60),),
    instruction="For each function call, return a json object with the function name and arguments within "
                "<tool_call></tool_call> XML tags, like this:",
)


@ToolParserManager.register_module(["hermes", "qwen25", "qwen"])
class HermesToolParser(FormatToolParser):
    family = HERMES
