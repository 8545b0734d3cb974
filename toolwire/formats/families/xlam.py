"""Salesforce xLAM-2 (Llama-xLAM-2, xLAM-2-*-fc-r on Llama and Qwen): a JSON list of calls,

    [{"name": "f", "arguments": {...}}, {"name": "g", "arguments": {...}}]

written bare, as the template teaches and shows earlier calls; models also put it in a ```json fence,
after `[TOOL_CALLS]` or inside `<tool_call>...</tool_call>`, and write a single object without the
list. All of these are read (the wrappers are dropped); the grammar and the prompt's rendering write
the bare list. Content before the calls (a thinking part, a sentence) stays content, and so does a
`[` or `{` that opens no offered call.
"""

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat

XLAM = DeclaredFamily(
    ToolCallFormat(
        name="xlam",
        start=(),
        start_optional=True,
        payloads=(Payload.JSON_ARRAY, Payload.JSON_OBJECTS),
        wrappers=(("```json", "```"), ("```", "```"), ("[TOOL_CALLS]", ""), ("<tool_call>", "</tool_call>")),
    ),
    # The xLAM-2 templates' tool instruction; they also have Llama 3 headers with an ipython turn.
    template_markers=(TemplateMarker.literal("make calls in a single JSON array", rank=25),),
    instruction="When using tools, make calls in a single JSON array, like this:",
)


@ToolParserManager.register_module(["xlam"])
class XLamToolParser(FormatToolParser):
    family = XLAM
