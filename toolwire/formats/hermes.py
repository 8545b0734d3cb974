"""Hermes / Qwen2.5 / Qwen3: `<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>`, repeated.

Content may precede the calls. The closing tag may be missing at the end of the output, and some
models put two objects in one block separated by `, `.
"""

from toolwire.formats.base import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.formats.format_parser import FormatToolParser

HERMES = ToolCallFormat(
    name="hermes",
    start=("<tool_call>",),
    end=("</tool_call>",),
    payloads=(Payload.JSON_OBJECTS, Payload.JSON_ARRAY),
    separator=",",
)


@ToolParserManager.register_module(["hermes", "qwen25", "qwen"])
class HermesToolParser(FormatToolParser):
    format = HERMES
