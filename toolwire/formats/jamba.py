"""AI21 Jamba 1.5: `<tool_calls>[{"name": "f", "arguments": {...}}, ...]</tool_calls>`.

Often written after a leading space; content may precede.
"""

from toolwire.formats.base import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.formats.format_parser import FormatToolParser

JAMBA = ToolCallFormat(
    name="jamba",
    start=("<tool_calls>",),
    end=("</tool_calls>",),
    payloads=(Payload.JSON_ARRAY,),
)


@ToolParserManager.register_module(["jamba"])
class JambaToolParser(FormatToolParser):
    format = JAMBA
