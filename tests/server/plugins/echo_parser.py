"""A tool parser plugin, written as the vLLM page describes: it registers itself under a name that
`--tool-call-parser` then selects. No built-in format resembles it: when the request offers a tool
named `echo`, it turns the whole reply into one call of `echo` with the text as its argument, so the
test can tell that the plugin ran whatever the model writes; otherwise the text is content."""

import json
from typing import Sequence, Union

from toolwire.plugins import (
    ChatCompletionRequest,
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
    ToolParser,
    ToolParserManager,
)

CALL_ID = "call_echoplugin000000000001"


@ToolParserManager.register_module(["test_echo"])
class EchoToolParser(ToolParser):
    def __init__(self, tokenizer):
        super().__init__(tokenizer)
        self.started = False

    def adjust_request(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        return request

    @staticmethod
    def echo_offered(request: ChatCompletionRequest) -> bool:
        return any(tool.function.name == "echo" for tool in request.tools or [])

    def extract_tool_calls(self, model_output: str, request: ChatCompletionRequest) -> ExtractedToolCallInformation:
        if not self.echo_offered(request):
            return ExtractedToolCallInformation(tools_called=False, tool_calls=[], content=model_output)
        call = ToolCall(id=CALL_ID, function=FunctionCall(name="echo", arguments=json.dumps({"text": model_output})))
        return ExtractedToolCallInformation(tools_called=True, tool_calls=[call], content=None)

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: ChatCompletionRequest,
    ) -> Union[DeltaMessage, None]:
        if not self.echo_offered(request):
            return DeltaMessage(content=delta_text) if delta_text else None
        # Each fragment is the JSON-escaped delta: the pieces join into {"text": "<whole reply>"}.
        fragment = json.dumps(delta_text)[1:-1]
        if not self.started:
            self.started = True
            return DeltaMessage(tool_calls=[DeltaToolCall(
                index=0, id=CALL_ID, type="function",
                function=DeltaFunctionCall(name="echo", arguments='{"text": "' + fragment))])
        if not fragment:
            return None
        return DeltaMessage(tool_calls=[DeltaToolCall(index=0, function=DeltaFunctionCall(arguments=fragment))])

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> Union[DeltaMessage, None]:
        if not self.echo_offered(request):
            return None
        if not self.started:
            self.started = True
            return DeltaMessage(tool_calls=[DeltaToolCall(
                index=0, id=CALL_ID, type="function",
                function=DeltaFunctionCall(name="echo", arguments=json.dumps({"text": current_text})))])
        return DeltaMessage(tool_calls=[DeltaToolCall(index=0, function=DeltaFunctionCall(arguments='"}'))])
