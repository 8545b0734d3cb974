"""AI21 Jamba 1.5: `<tool_calls>[{"name": "f", "arguments": {...}}, ...]</tool_calls>`.

Often written after a leading space; content may precede.
"""

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat

JAMBA = DeclaredFamily(
    ToolCallFormat(
        name="jamba",
        start=("<tool_calls>",),
        end=("</tool_calls>",),
        payloads=(Payload.JSON_ARRAY,),
    ),
    template_markers=(TemplateMarker.literal("<tool_calls>", rank=30),),  # before hermes' <tool_call>
)


@ToolParserManager.register_module(["jamba"])
class JambaToolParser(FormatToolParser):
    family = JAMBA
