"""Kimi K2 (Instruct, Thinking):

    <|tool_calls_section_begin|><|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{...}<|tool_call_end|>
    ...<|tool_calls_section_end|>

Content may precede the section. The text between `<|tool_call_begin|>` and
`<|tool_call_argument_begin|>` is the call's id, `functions.NAME:IDX`, IDX counting the conversation's
calls from 0: the parser returns it as the call's id (a repeated one gets a fresh id of the same
shape), and the template shows earlier calls and their results by it (`## Return of functions.f:0`),
so ids that other formats made are rewritten into that shape (`toolwire.formats.ids.KimiHistoryIds`).
"""

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import IdStyle, NamedCall, Payload, ToolCallFormat

KIMI_K2 = DeclaredFamily(
    ToolCallFormat(
        name="kimi_k2",
        start=("<|tool_calls_section_begin|>",),
        end=("<|tool_calls_section_end|>",),
        payloads=(Payload.NAME_THEN_JSON,),
        named_call=NamedCall(
            call_start=("<|tool_call_begin|>",),
            name_prefix=("functions.",),
            index_separator=":",
            args_start=("<|tool_call_argument_begin|>",),
            call_end=("<|tool_call_end|>",),
        ),
        id_style=IdStyle.KIMI,
    ),
    template_markers=(
        TemplateMarker.literal("<|tool_calls_section_begin|>", rank=15),
        # The first Kimi-K2-Instruct template declares tools but shows no calls.
        TemplateMarker.literal("<|im_system|>tool_declare<|im_middle|>", rank=16),
    ),
)


@ToolParserManager.register_module(["kimi_k2"])
class KimiK2ToolParser(FormatToolParser):
    family = KIMI_K2
