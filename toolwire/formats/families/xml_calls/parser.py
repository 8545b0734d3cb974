"""`XmlCallsToolParser`: the seeds' ToolParser interface over the XML-style scanner, for every such family.

Whole-text parsing feeds the streaming scanner the whole text, so the two modes agree by construction.
No exception escapes: on an internal error the text not yet settled, and all later text, is content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from toolwire.formats.base import ToolParser
from toolwire.formats.deltas import DeltaCollector, make_delta, read_whole
from toolwire.formats.families.xml_calls.scanner import XmlCallScanner
from toolwire.formats.families.xml_calls.values import ToolSchemas
from toolwire.formats.format_parser import FormatToolParser
from toolwire.formats.ids import ToolCallIds
from toolwire.formats.offered import OfferedTools
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage, ExtractedToolCallInformation

if TYPE_CHECKING:
    from toolwire.formats.families.xml_calls import XmlCallFamily

logger = logging.getLogger(__name__)


class XmlCallsToolParser(ToolParser):
    family: ClassVar[XmlCallFamily]
    reads_full_text = False  # keeps its own state; reads only delta_text

    # The markers are often special tokens (GLM's <arg_key>, <tool_call>): they must survive detokenization.
    adjust_request = FormatToolParser.adjust_request

    def __init__(self, tokenizer=None):
        super().__init__(tokenizer)
        self._scanner: XmlCallScanner | None = None
        self._deltas = DeltaCollector()
        self._gave_up = False

    def _new_scanner(self, request: ChatCompletionRequest | None, out) -> XmlCallScanner:
        tools = request.tools if request is not None else None
        return XmlCallScanner(self.family.syntax, OfferedTools(request), ToolSchemas(tools),
                              ToolCallIds(self.family.id_style), out)

    def extract_tool_calls(self, model_output: str, request: ChatCompletionRequest) -> ExtractedToolCallInformation:
        return read_whole(self.family.name, model_output, lambda result: self._new_scanner(request, result))

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
        if self._gave_up:
            return make_delta(delta_text) if delta_text else None
        if self._scanner is None:
            self._scanner = self._new_scanner(request, self._deltas)
        held = self._scanner.held_text()
        try:
            self._scanner.feed(delta_text)
            return self._deltas.take()
        except Exception:
            return self._give_up(held + delta_text)

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        if self._gave_up or self._scanner is None:
            return None
        held = self._scanner.held_text()
        try:
            self._scanner.finish()
            return self._deltas.take()
        except Exception:
            return self._give_up(held)

    def _give_up(self, unsettled: str) -> DeltaMessage | None:
        logger.exception("%s parser failed while streaming; passing text on as content", self.family.name)
        self._gave_up = True
        self._deltas = DeltaCollector()
        return make_delta(unsettled) if unsettled else None
