"""IBM Granite.

- `granite` (Granite 3.0/3.1): `<|tool_call|>[{"name": "f", "arguments": {...}}, ...]`; 3.1 may
  write the plain-text tag `<tool_call>` before the array instead.
- `granite-20b-fc` (granite-20b-functioncalling): `<function_call> {"name": "f", "arguments": {...}}`,
  one call per tag, repeated (newline between).
"""

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat

GRANITE = DeclaredFamily(
    ToolCallFormat(
        name="granite",
        start=("<|tool_call|>", "<tool_call>"),
        payloads=(Payload.JSON_ARRAY,),
    ),
    template_markers=(TemplateMarker.literal("<|tool_call|>", rank=31),),
)

GRANITE_20B_FC = DeclaredFamily(
    ToolCallFormat(
        name="granite-20b-fc",
        start=("<function_call>",),
        payloads=(Payload.JSON_OBJECTS,),
    ),
    template_markers=(TemplateMarker.literal("<function_call>", rank=32),),
)


@ToolParserManager.register_module(["granite"])
class GraniteToolParser(FormatToolParser):
    family = GRANITE


@ToolParserManager.register_module(["granite-20b-fc", "granite_20b_fc"])
class Granite20bFCToolParser(FormatToolParser):
    family = GRANITE_20B_FC
