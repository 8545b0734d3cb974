import pytest

from tests.formats.format_checks import make_request, parse
from toolwire.formats.registry import ToolParserManager, tool_call_family
from toolwire.guided import Tool

PLUGIN = '''
from toolwire.plugins import (
    ChatCompletionRequest, DeltaMessage, ExtractedToolCallInformation, FunctionCall, ToolCall,
    ToolParser, ToolParserManager,
)


@ToolParserManager.register_module(["example_plugin"])
class ExampleToolParser(ToolParser):
    """Calls written as CALL name args-json, one per line."""

    def extract_tool_calls(self, model_output, request):
        calls, content = [], []
        for line in model_output.splitlines(keepends=True):
            if line.startswith("CALL "):
                _, name, arguments = line.strip().split(" ", 2)
                calls.append(ToolCall(function=FunctionCall(name=name, arguments=arguments)))
            else:
                content.append(line)
        return ExtractedToolCallInformation(tools_called=bool(calls), tool_calls=calls, content="".join(content) or None)

    def extract_tool_calls_streaming(self, previous_text, current_text, delta_text, previous_token_ids,
                                     current_token_ids, delta_token_ids, request):
        return DeltaMessage(content=delta_text)
'''

DECLARATIVE_PLUGIN = '''
from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.plugins import ToolParserManager


@ToolParserManager.register_module(["bracket_calls"])
class BracketCalls(FormatToolParser):
    family = DeclaredFamily(
        ToolCallFormat(name="bracket_calls", start=("<<",), end=(">>",), payloads=(Payload.JSON_OBJECTS,)))
'''


def test_plugin_file_registers_a_parser(tmp_path):
    path = tmp_path / "my_parser.py"
    path.write_text(PLUGIN)
    ToolParserManager.import_tool_parser(path)
    parser = ToolParserManager.get_tool_parser("example_plugin")(None)
    info = parser.extract_tool_calls('Sure.\nCALL search {"q": 1}\n', make_request())
    assert info.content == "Sure.\n"
    assert [(c.function.name, c.function.arguments) for c in info.tool_calls] == [("search", '{"q": 1}')]
    assert "example_plugin" in ToolParserManager.names()


def test_plugin_file_declaring_a_format(tmp_path):
    path = tmp_path / "bracket_calls.py"
    path.write_text(DECLARATIVE_PLUGIN)
    ToolParserManager.import_tool_parser(str(path))
    assert parse("bracket_calls", 'x<<{"name": "search", "arguments": {"q": [1]}}>>y') == (
        "xy",
        [("search", '{"q": [1]}')],
    )


def test_a_plugin_family_gets_its_grammar_and_rendering(tmp_path):
    from toolwire.guided import ToolCallsSpec, build_grammar

    path = tmp_path / "bracket_calls_family.py"
    path.write_text(DECLARATIVE_PLUGIN)
    ToolParserManager.import_tool_parser(path)
    family = tool_call_family("bracket_calls")
    assert family.constrainable
    assert family.render_calls([("search", {"q": 1})]) == '<<\n{"name": "search", "arguments": {"q": 1}}\n>>'
    grammar = build_grammar(ToolCallsSpec(format=family, tools=[Tool("search")], mode="required"))
    assert '"<<"' in grammar.source and '">>"' in grammar.source


def test_a_plugin_without_a_family_cannot_be_constrained(tmp_path):
    from toolwire.guided import GuidedDecodingError, spec_from_request

    path = tmp_path / "my_parser_again.py"
    path.write_text(PLUGIN)
    ToolParserManager.import_tool_parser(path)
    family = tool_call_family("example_plugin")
    assert not family.constrainable
    # its calls are shown to the model in the default format, since nothing else is known
    assert family.render_calls([("f", {})]).startswith("<tool_call>")
    request = make_request(["search"]).model_copy(update={"tool_choice": "required"})
    with pytest.raises(GuidedDecodingError, match="example_plugin") as error:
        spec_from_request(request, family)
    assert error.value.param == "tool_choice"
    assert spec_from_request(request.model_copy(update={"tool_choice": "auto"}), family) is None  # auto: free
