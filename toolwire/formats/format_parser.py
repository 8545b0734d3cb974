"""`FormatToolParser`: the seeds' ToolParser interface for a format declared as a `ToolCallFormat`.

A family module subclasses it and sets `family` (a `DeclaredFamily`); everything else (whole and
streaming parsing, ids, the request adjustment) comes from here and from the machine in
streaming.py. Whole-text parsing runs that machine over the whole text, so the two modes agree by
construction. No exception escapes: on an internal error the text is passed on as content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage, ExtractedToolCallInformation
from toolwire.formats.base import ToolParser
from toolwire.formats.deltas import DeltaCollector, make_delta, read_whole
from toolwire.formats.offered import OfferedTools
from toolwire.formats.declared import DeclaredFamily
from toolwire.formats.streaming import FormatStream

logger = logging.getLogger(__name__)


class FormatToolParser(ToolParser):
    """A ToolParser for a declared format; a family module subclasses it and sets `family`."""

    family: ClassVar[DeclaredFamily]
    reads_full_text = False  # only delta_text is read (tests/formats/test_format_streaming.py checks)

    def __init__(self, tokenizer=None):
        super().__init__(tokenizer)
        self._stream: FormatStream | None = None
        self._deltas = DeltaCollector()
        self._gave_up = False

    def adjust_request(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        # The markers are often special tokens: they must survive detokenization to be parsed.
        if request.tools and request.tool_choice != "none" and request.skip_special_tokens:
            return request.model_copy(update={"skip_special_tokens": False})
        return request

    def extract_tool_calls(
        self, model_output: str, request: ChatCompletionRequest
    ) -> ExtractedToolCallInformation:
        return read_whole(self.family.name, model_output,
                          lambda result: FormatStream(self.family.format, OfferedTools(request), result))

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
        stream = self._stream
        settled_before = received_before = 0
        try:
            if stream is None:
                stream = self._stream = FormatStream(self.family.format, OfferedTools(request), self._deltas)
            settled_before, received_before = stream.accounted, stream.log.end
            stream.feed(delta_text)
            return self._deltas.take()
        except Exception:
            return self._give_up(settled_before, received_before, delta_text)

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        if self._gave_up or self._stream is None:
            return None
        stream = self._stream
        settled_before, received_before = stream.accounted, stream.log.end
        try:
            stream.finish()
            return self._deltas.take()
        except Exception:
            return self._give_up(settled_before, received_before, "")

    def _give_up(self, settled_before: int, received_before: int, delta_text: str) -> DeltaMessage | None:
        """After an internal error: the text not settled before the failing step, and all later text,
        is passed on as content."""
        logger.exception("%s parser failed while streaming; passing text on as content", self.family.name)
        self._gave_up = True
        self._deltas = DeltaCollector()
        try:
            held = self._stream.log.slice(settled_before, received_before) + delta_text
        except Exception:
            held = delta_text
        return make_delta(held) if held else None
