"""InternLM2.5: `<|action_start|><|plugin|>\n{"name": "f", "parameters": {...}}<|action_end|>`.

One call per turn in practice; content may precede it.
"""

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat

INTERNLM = DeclaredFamily(
    ToolCallFormat(
        name="internlm",
        start=("<|action_start|><|plugin|>",),
        end=("<|action_end|>",),
        payloads=(Payload.JSON_OBJECTS,),
        argument_keys=("parameters", "arguments"),
    ),
    template_markers=(TemplateMarker.literal("<|action_start|>", rank=20),),
)


@ToolParserManager.register_module(["internlm"])
class InternLMToolParser(FormatToolParser):
    family = INTERNLM
