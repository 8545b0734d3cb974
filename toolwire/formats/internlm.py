"""InternLM2.5: `<|action_start|><|plugin|>\n{"name": "f", "parameters": {...}}<|action_end|>`.

One call per turn in practice; content may precede it.
"""

from toolwire.formats.base import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.formats.format_parser import FormatToolParser

INTERNLM = ToolCallFormat(
    name="internlm",
    start=("<|action_start|><|plugin|>",),
    end=("<|action_end|>",),
    payloads=(Payload.JSON_OBJECTS,),
    argument_keys=("parameters", "arguments"),
)


@ToolParserManager.register_module(["internlm"])
class InternLMToolParser(FormatToolParser):
    format = INTERNLM
