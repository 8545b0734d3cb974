"""The `gpt_oss` reasoning parser (vLLM: `openai_gptoss`, SGLang: `gpt-oss`): harmony's analysis channel.

Runs `MessageReader` (messages.py) over the reply and splits it:

- the body of an `analysis` message without a recipient is reasoning;
- the body of any other message without a recipient (`final`, a `commentary` preamble) is content;
- a message with a recipient (a tool call, on any channel) is content verbatim, header and end
  marker included, so that the tool parser after it (`openai`) reads the call; text outside messages
  is content as it is.

Harmony interleaves the two (analysis, a preamble, more analysis, a call), so one delta may hold
content and then reasoning: the streaming method then returns the pieces in order, as a list of
deltas (`toolwire.chat.output` routes each in turn).

Where the reasoning is, for a constraint: an optional `<|channel|>analysis<|message|>...<|end|>`
at the start of the output, followed by the next message's `<|start|>assistant`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolwire.formats.families.harmony.messages import CHANNEL, END, MESSAGE, START, Header, MessageReader
from toolwire.formats.reasoning import Reasoning, ReasoningParser
from toolwire.formats.json_scanner import JsonScanner
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage

ANALYSIS = "analysis"
REASONING_REGION = Reasoning(start=f"{CHANNEL}{ANALYSIS}{MESSAGE}", end=f"{END}{START}assistant",
                             opened_in_prompt=False, optional=True)

_CONTENT, _REASONING, _VERBATIM = range(3)


class _ChannelSplitter:
    """A `MessageReader` sink: the reply's text as ordered (is_reasoning, text) pieces."""

    def __init__(self) -> None:
        self.pieces: list[tuple[bool, list[str]]] = []
        self.kind = _CONTENT

    def _add(self, reasoning: bool, text: str) -> None:
        if not text:
            return
        if self.pieces and self.pieces[-1][0] == reasoning:
            self.pieces[-1][1].append(text)
        else:
            self.pieces.append((reasoning, [text]))

    def take(self) -> list[tuple[bool, str]]:
        pieces, self.pieces = self.pieces, []
        return [(reasoning, "".join(parts)) for reasoning, parts in pieces]

    def text(self, text: str) -> None:
        self._add(False, text)

    def header(self, header: Header) -> None:
        if header.recipient is not None:
            self.kind = _VERBATIM
            self._add(False, header.raw)
        else:
            self.kind = _REASONING if header.channel == ANALYSIS else _CONTENT

    def body(self, text: str) -> None:
        self._add(self.kind == _REASONING, text)

    def gap(self, text: str) -> None:
        self._add(False, text)  # only messages with a recipient have JSON bodies: verbatim

    def json_start(self, scanner: JsonScanner) -> None:
        pass

    def json(self, text: str, at: int) -> None:
        self._add(False, text)

    def json_end(self, complete: bool) -> None:
        pass

    def end(self, marker: str) -> None:
        if self.kind == _VERBATIM:
            self._add(False, marker)
        self.kind = _CONTENT


class GptOssReasoningParser(ReasoningParser):
    """Reasoning from harmony's analysis channel; everything else is content for the tool parser."""

    reads_full_text = False  # keeps its own state; reads only delta_text (see toolwire.chat.output)

    def __init__(self, tokenizer: Any = None):
        super().__init__(tokenizer)
        self._splitter = _ChannelSplitter()
        self._reader = MessageReader(self._splitter)

    def adjust_request(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        # The channel markers are special tokens: without them there is nothing to split.
        if request.skip_special_tokens:
            return request.model_copy(update={"skip_special_tokens": False})
        return request

    def reasoning_region(self, request: ChatCompletionRequest, prompt_text: str | None) -> Reasoning | None:
        return REASONING_REGION

    def extract_reasoning_content(
        self, model_output: str, request: ChatCompletionRequest
    ) -> tuple[str | None, str | None]:
        splitter = _ChannelSplitter()
        reader = MessageReader(splitter)
        reader.feed(model_output)
        reader.finish()
        pieces = splitter.take()
        reasoning = "".join(text for is_reasoning, text in pieces if is_reasoning)
        content = "".join(text for is_reasoning, text in pieces if not is_reasoning)
        return reasoning or None, content or None

    def extract_reasoning_content_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: ChatCompletionRequest,
    ) -> DeltaMessage | list[DeltaMessage] | None:
        self._reader.feed(delta_text)
        return _deltas(self._splitter.take())

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | list[DeltaMessage] | None:
        self._reader.finish()
        return _deltas(self._splitter.take())


def _deltas(pieces: list[tuple[bool, str]]) -> DeltaMessage | list[DeltaMessage] | None:
    """One delta when the pieces are reasoning then content (the usual order), else one per piece."""
    if not pieces:
        return None
    if len(pieces) > 2 or (len(pieces) == 2 and not pieces[0][0]):
        return [_delta(is_reasoning, text) for is_reasoning, text in pieces]
    reasoning = "".join(text for is_reasoning, text in pieces if is_reasoning)
    content = "".join(text for is_reasoning, text in pieces if not is_reasoning)
    return DeltaMessage.model_construct(reasoning_content=reasoning or None, content=content or None, tool_calls=[])


def _delta(is_reasoning: bool, text: str) -> DeltaMessage:
    return DeltaMessage.model_construct(reasoning_content=text if is_reasoning else None,
                                        content=None if is_reasoning else text, tool_calls=[])
