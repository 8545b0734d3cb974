"""The per-choice stream of a chat completion: ChoiceStream, and the ChoiceEvents it yields, which a
streamed reply sends as chunks and a whole reply joins into its message."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from toolwire.chat.tool_choice import ToolChoiceFilter
from toolwire.protocol.chat import TokenLogprob
from toolwire.protocol.tool_calls import DeltaMessage, DeltaToolCall

logger = logging.getLogger(__name__)


@dataclass
class ChoiceEvent:
    index: int
    delta: DeltaMessage | None = None
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


class ChoiceStream:
    """Turns one choice's engine outputs into the deltas a client sees: the output pipeline
    (reasoning split, tool parsing), then tool_choice's filter, plus logprobs and the finish reason."""

    def __init__(self, index: int, pipeline: Any, tool_filter: ToolChoiceFilter, logprob_decoder):
        self.index = index
        self.pipeline = pipeline
        self.tool_filter = tool_filter
        self.decode_logprobs = logprob_decoder
        self.completion_tokens = 0
        self.cached_tokens = 0
        self.ended = False

    def _filtered(self, delta: DeltaMessage | None) -> DeltaMessage | None:
        if delta is None or not delta.tool_calls:
            return delta
        calls = self.tool_filter(delta.tool_calls)
        if not calls and not delta.content and not delta.reasoning_content:
            return None
        return delta.model_copy(update={"tool_calls": calls})

    def _parse(self, method: str, *args) -> DeltaMessage | None:
        """The pipeline guards the parsers itself; this is the last net: if the pipeline fails, the
        rest of the reply is plain content (a broken output is content, never a 500)."""
        if self.pipeline is None:
            return DeltaMessage(content=args[0]) if args and args[0] else None
        try:
            return self._filtered(getattr(self.pipeline, method)(*args))
        except Exception:
            logger.exception("output pipeline failed; the rest of choice %d is plain content", self.index)
            self.pipeline = None
            return DeltaMessage(content=args[0]) if args and args[0] else None

    def step(self, output) -> ChoiceEvent | None:
        """The next event, or None once the choice has ended (the engine may still be finishing)."""
        if self.ended:
            return None
        self.completion_tokens = output.num_completion_tokens
        self.cached_tokens = output.num_cached_tokens
        delta = None
        if output.new_text or output.new_token_ids:
            delta = self._parse("feed", output.new_text, list(output.new_token_ids))
        event = ChoiceEvent(self.index, delta, self.decode_logprobs(output.logprobs))
        if self.tool_filter.repeated:  # the model began repeating a call: the reply ends here
            event.finish_reason = "tool_calls"
        elif output.finished:
            final = _merge(self._parse("finish"), _calls_delta(self.tool_filter.flush()))
            event.delta = _merge(event.delta, final)
            reason = output.finish_reason
            if self.tool_filter.kept and reason == "stop":
                reason = "tool_calls"
            event.finish_reason = reason
            event.stop_reason = output.stop_reason
        self.ended = event.finish_reason is not None
        return event


def _calls_delta(calls: list[DeltaToolCall]) -> DeltaMessage | None:
    return DeltaMessage(tool_calls=calls) if calls else None


def _merge(first: DeltaMessage | None, second: DeltaMessage | None) -> DeltaMessage | None:
    if first is None or second is None:
        return first or second

    def join(a: str | None, b: str | None) -> str | None:
        return (a or "") + (b or "") if (a or b) else None

    return DeltaMessage(content=join(first.content, second.content),
                        reasoning_content=join(first.reasoning_content, second.reasoning_content),
                        tool_calls=list(first.tool_calls or []) + list(second.tool_calls or []))
