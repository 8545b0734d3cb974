"""Llama 3.1/3.2 JSON tool use: `{"name": "f", "parameters": {...}}`, optionally after `<|python_tag|>`.

Several calls are separated by `;` (with or without whitespace); `arguments` is accepted for
`parameters`. Without the tag a call is recognised by its own `{`, anywhere in the text: text around
it stays content, and a `{` that does not open an offered call is content too.

`llama3` is LightLLM's name for the same shape written with `arguments` (calls separated by `;` or
by repeated `<|python_tag|>`). Known model quirk, left as written: arrays emitted as strings.

`llama4_json` (Llama 4 Scout / Maverick with Meta's template): the same calls. That template teaches
`{"name": ..., "parameters": ...}` and shows an earlier call as `<|python_start|>` (the message's
content) `<|python_end|>` followed by its JSON objects, so the model may write those markers too:
`<|python_start|><|python_end|>` before the calls, or `<|python_start|>` ... `<|python_end|>`
around them, are read and dropped.
"""

import re
from dataclasses import replace

from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.family import TemplateMarker
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.registry import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat

LLAMA3_JSON_FORMAT = ToolCallFormat(
    name="llama3_json",
    start=("<|python_tag|>",),
    start_optional=True,
    payloads=(Payload.JSON_OBJECTS,),
    separator=";",
    argument_keys=("parameters", "arguments"),
)

LLAMA3_JSON = DeclaredFamily(
    LLAMA3_JSON_FORMAT,
    # Llama 3.2 templates keep <|python_tag|> for built-in tools even when they show pythonic calls,
    # so these come after the pythonic call list.
    template_markers=(
        TemplateMarker.literal("<|python_tag|>", rank=80),
        # Llama 3.x templates that show no tag still return tool results in an `ipython` turn.
        TemplateMarker(re.compile(r"<\|start_header_id\|>.*ipython", re.S), "Llama 3 headers with an ipython turn",
                       rank=81),
    ),
)

LLAMA3 = DeclaredFamily(replace(LLAMA3_JSON_FORMAT, name="llama3", argument_keys=("arguments", "parameters")))

LLAMA4_JSON = DeclaredFamily(
    # No trigger of its own: a reply's calls open with their "{" (Llama 4 has no <|python_tag|>).
    replace(LLAMA3_JSON_FORMAT, name="llama4_json", start=(),
            wrappers=(("<|python_start|><|python_end|>", ""), ("<|python_start|>", "<|python_end|>"),
                      ("<|python_tag|>", ""))),
    # Meta's Llama 4 template: Llama 4 headers, calls shown as JSON with "parameters". Before the
    # llama4_pythonic marker (<|python_start|>), which that template shows too.
    template_markers=(TemplateMarker(re.compile(r'<\|header_start\|>.*"parameters": ', re.S),
                                     'Llama 4 headers with {"name": ..., "parameters": ...} calls', rank=45),),
)


@ToolParserManager.register_module(["llama3_json"])
class Llama3JsonToolParser(FormatToolParser):
    family = LLAMA3_JSON


@ToolParserManager.register_module(["llama4_json"])
class Llama4JsonToolParser(FormatToolParser):
    family = LLAMA4_JSON


@ToolParserManager.register_module(["llama3"])
class Llama3ToolParser(FormatToolParser):
    family = LLAMA3
