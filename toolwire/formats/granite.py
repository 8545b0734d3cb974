"""IBM Granite.

- `granite` (Granite 3.0/3.1): `<|tool_call|>[{"name": "f", "arguments": {...}}, ...]`; 3.1 may
  write the plain-text tag `<tool_call>` before the array instead.
- `granite-20b-fc` (granite-20b-functioncalling): `<function_call> {"name": "f", "arguments": {...}}`,
  one call per tag, repeated (newline between).
"""

from toolwire.formats.base import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.formats.format_parser import FormatToolParser

GRANITE = ToolCallFormat(
    name="granite",
    start=("<|tool_call|>", "<tool_call>"),
    payloads=(Payload.JSON_ARRAY,),
)

GRANITE_20B_FC = ToolCallFormat(
    name="granite-20b-fc",
    start=("<function_call>",),
    payloads=(Payload.JSON_OBJECTS,),
)


@ToolParserManager.register_module(["granite"])
class GraniteToolParser(FormatToolParser):
    format = GRANITE


@ToolParserManager.register_module(["granite-20b-fc", "granite_20b_fc"])
class Granite20bFCToolParser(FormatToolParser):
    format = GRANITE_20B_FC
