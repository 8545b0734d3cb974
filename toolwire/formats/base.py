"""The public tool-parser interface (the seeds' plugin API); `registry.ToolParserManager` finds parsers by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage, ExtractedToolCallInformation

if TYPE_CHECKING:
    from toolwire.formats.family import ToolCallFamily


class ToolParser:
    """Turns a model's raw output into content and tool calls, whole or delta by delta.

    One instance parses one response (one choice): the streaming methods keep state between calls.
    `tokenizer` is a Hugging Face tokenizer or None; built-in parsers work on text alone.
    """

    # A parser that only looks at `delta_text` sets this to False; the caller then passes "" for
    # `previous_text` and `current_text` instead of rebuilding the whole reply on every delta.
    reads_full_text: ClassVar[bool] = True

    # The family this parser belongs to (its grammar, prompt rendering, template markers, ids). A
    # plugin that sets none gets no grammar: tool_choice required / named is then a 400.
    family: ClassVar[ToolCallFamily | None] = None

    def __init__(self, tokenizer: Any = None):
        self.model_tokenizer = tokenizer

    def adjust_request(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        return request

    def extract_tool_calls(
        self, model_output: str, request: ChatCompletionRequest
    ) -> ExtractedToolCallInformation:
        raise NotImplementedError

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: ChatCompletionRequest,
    ) -> DeltaMessage | None:
        raise NotImplementedError

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        """Called once when the stream ends: release whatever was held back."""
        return None
