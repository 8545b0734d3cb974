"""DeepSeek V3 and V3.1.

    V3:   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f
          ```json
          {...}
          ```<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
    V3.1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{...}<｜tool▁call▁end｜>
          ...<｜tool▁calls▁end｜>

The models write the bars as U+FF5C (full width) and the spaces as U+2581; documents, LightLLM's
among them, print ASCII `|` instead, and both spellings are accepted. V3.1's arguments are kept as
written (no code fence).
"""

import re

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import NamedCall, Payload, Spellings, ToolCallFormat


def deepseek_marker(name: str) -> Spellings:
    """`<｜name｜>` as the model writes it, then with ASCII bars."""
    return (f"<\uff5c{name}\uff5c>", f"<|{name}|>")


CALLS_BEGIN = deepseek_marker("tool▁calls▁begin")
CALLS_END = deepseek_marker("tool▁calls▁end")
CALL_BEGIN = deepseek_marker("tool▁call▁begin")
CALL_END = deepseek_marker("tool▁call▁end")
SEP = deepseek_marker("tool▁sep")

_CALLS_BEGIN_IN_TEMPLATE = r"<[\uff5c|]tool▁calls▁begin[\uff5c|]>"

DEEPSEEK_V3 = DeclaredFamily(
    ToolCallFormat(
        name="deepseekv3",
        start=CALLS_BEGIN,
        end=CALLS_END,
        payloads=(Payload.NAME_THEN_JSON,),
        named_call=NamedCall(
            call_start=CALL_BEGIN,
            name_prefix=tuple("function" + sep for sep in SEP),
            args_start=("```json",),
            args_end=("```",),
            call_end=CALL_END,
        ),
    ),
    # V3 writes the arguments in a ```json fence after the name; V3.1 right after <｜tool▁sep｜>.
    template_markers=(TemplateMarker(re.compile(_CALLS_BEGIN_IN_TEMPLATE + "(?=.*```json)", re.S),
                                     "<｜tool▁calls▁begin｜> with ```json arguments", rank=10),),
)

DEEPSEEK_V31 = DeclaredFamily(
    ToolCallFormat(
        name="deepseekv31",
        start=CALLS_BEGIN,
        end=CALLS_END,
        payloads=(Payload.NAME_THEN_JSON,),
        named_call=NamedCall(call_start=CALL_BEGIN, args_start=SEP, call_end=CALL_END),
    ),
    template_markers=(TemplateMarker(re.compile(_CALLS_BEGIN_IN_TEMPLATE), "<｜tool▁calls▁begin｜>", rank=11),),
)


@ToolParserManager.register_module(["deepseekv3", "deepseek_v3"])
class DeepSeekV3ToolParser(FormatToolParser):
    family = DEEPSEEK_V3


@ToolParserManager.register_module(["deepseekv31", "deepseek_v31"])
class DeepSeekV31ToolParser(FormatToolParser):
    family = DEEPSEEK_V31
