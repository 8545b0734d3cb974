"""Llama 3.1/3.2 JSON tool use: `{"name": "f", "parameters": {...}}`, optionally after `<|python_tag|>`.

Several calls are separated by `;` (with or without whitespace); `arguments` is accepted for
`parameters`. Without the tag a call is recognised by its own `{`, anywhere in the text: text around
it stays content, and a `{` that does not open an offered call is content too.

`llama3` is LightLLM's name for the same shape written with `arguments` (calls separated by `;` or
by repeated `<|python_tag|>`). Known model quirk, left as written: arrays emitted as strings.
"""

from dataclasses import replace

from toolwire.formats.base import ToolParserManager
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.formats.format_parser import FormatToolParser

LLAMA3_JSON = ToolCallFormat(
    name="llama3_json",
    start=("<|python_tag|>",),
    start_optional=True,
    payloads=(Payload.JSON_OBJECTS,),
    separator=";",
    argument_keys=("parameters", "arguments"),
)

LLAMA3 = replace(LLAMA3_JSON, name="llama3", argument_keys=("arguments", "parameters"))


@ToolParserManager.register_module(["llama3_json", "llama4_json"])
class Llama3JsonToolParser(FormatToolParser):
    format = LLAMA3_JSON


@ToolParserManager.register_module(["llama3"])
class Llama3ToolParser(FormatToolParser):
    format = LLAMA3
