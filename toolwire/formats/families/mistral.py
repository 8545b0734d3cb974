"""Mistral: `[TOOL_CALLS]` followed by one of three payloads, depending on the tokenizer version.

- before v11: `[TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]` (the space is optional, and
  `arguments` may come before `name`);
- v11+: `[TOOL_CALLS]f{...}[TOOL_CALLS]g{...}`, one marker per call, the name glued to its JSON;
- v13 (Magistral): `[TOOL_CALLS]f[ARGS]{...}`.

Mistral's chat template rejects tool-call ids that are not exactly 9 alphanumerics, so the ids made
here have that shape (`toolwire.formats.ids.mistral_history_id` rewrites foreign ids in the history).
"""

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import IdStyle, NamedCall, Payload, ToolCallFormat

MISTRAL = DeclaredFamily(
    ToolCallFormat(
        name="mistral",
        start=("[TOOL_CALLS]",),
        payloads=(Payload.JSON_ARRAY, Payload.NAME_THEN_JSON, Payload.JSON_OBJECTS),
        named_call=NamedCall(args_start=("[ARGS]",), args_start_optional=True),
        id_style=IdStyle.MISTRAL,
    ),
    template_markers=(TemplateMarker.literal("[TOOL_CALLS]", rank=40),),
)


@ToolParserManager.register_module(["mistral"])
class MistralToolParser(FormatToolParser):
    family = MISTRAL
