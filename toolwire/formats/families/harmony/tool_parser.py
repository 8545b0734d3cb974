"""The `openai` tool parser: harmony messages (gpt-oss) to content and tool calls.

Runs `MessageReader` (messages.py) and decides, message by message:

- a message to `functions.NAME` (NAME a tool the request offered, any name when it offered none)
  whose body is a JSON object is a call. It is announced when the `{` arrives; its arguments stream
  as the JSON scanner confirms them (up to its last safe point), and a value that breaks off or is
  cut off by the end of the output is closed there (`{"a": "par` becomes `{"a": "par"}`); body
  text after the value is content. Its header and end marker (`<|call|>`) are markup.
- any other message with a recipient (a tool that was not offered, a built-in tool such as
  `python`, a body that is not an object) is content, verbatim: markers and all, nothing is lost.
- a message without a recipient (`final`, a `commentary` preamble, and `analysis` when no
  reasoning parser took it first) is content: its body, without its header and end marker.
- text outside messages is content as it is: this is how the reasoning parser's output (analysis
  bodies, final bodies, and the messages with a recipient verbatim) reads.

No exception escapes: on an internal error the rest of the reply passes through as content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from toolwire.formats.base import ToolParser
from toolwire.formats.deltas import DeltaCollector, make_delta, read_whole
from toolwire.formats.families.harmony.messages import Header, MessageReader
from toolwire.formats.ids import ToolCallIds
from toolwire.formats.json_scanner import JsonScanner, apply_fixes
from toolwire.formats.offered import OfferedTools
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage, ExtractedToolCallInformation

logger = logging.getLogger(__name__)

FUNCTIONS = "functions."

# what the message being read is
_CONTENT, _UNDECIDED, _VERBATIM, _CALL = range(4)


def function_name(header: Header) -> str | None:
    """NAME for a message to `functions.NAME`, else None."""
    recipient = header.recipient or ""
    return recipient[len(FUNCTIONS):] if recipient.startswith(FUNCTIONS) else None


class _CallReader:
    """A `MessageReader` sink: content and calls, written to `out` (a DeltaCollector or ResultCollector)."""

    def __init__(self, offered: OfferedTools, out):
        self.offered = offered
        self.out = out
        self.ids = ToolCallIds()
        self.calls_made = 0
        self.kind = _CONTENT
        self.name: str | None = None
        self.held: list[str] = []  # the header (and whitespace) of a message not yet known to be a call
        # the call being read
        self.index = 0
        self.scanner: JsonScanner | None = None
        self.emitted = 0  # absolute position up to which argument text has been emitted
        self.pending: list[str] = []  # argument text received after `emitted`
        self.fix_index = 0

    # ---------------------------------------------------------------- MessageReader events

    def text(self, text: str) -> None:
        self.out.content(text)

    def header(self, header: Header) -> None:
        if header.recipient is None:
            self.kind = _CONTENT
            return
        name = function_name(header)
        self.name = name if name is not None and self.offered.accepts(name) else None
        self.kind = _UNDECIDED
        self.held = [header.raw]

    def body(self, text: str) -> None:
        if self.kind == _UNDECIDED:
            self._verbatim()
        self.out.content(text)

    def gap(self, text: str) -> None:
        if self.kind == _UNDECIDED:
            self.held.append(text)
        elif self.kind != _CALL:
            self.out.content(text)

    def json_start(self, scanner: JsonScanner) -> None:
        if self.kind != _UNDECIDED:
            return
        if self.name is None:
            self._verbatim()
            return
        self.kind, self.held = _CALL, []
        self.index = self.calls_made
        self.calls_made += 1
        self.out.start_call(self.index, self.ids.next(), self.name)
        self.scanner, self.emitted, self.pending, self.fix_index = scanner, scanner.start, [], 0

    def json(self, text: str, at: int) -> None:
        if self.kind == _CALL:
            self.pending.append(text)
        else:
            self.out.content(text)

    def json_end(self, complete: bool) -> None:
        if self.kind != _CALL or self.scanner is None:
            return
        scanner = self.scanner
        if complete:
            self._emit_arguments(scanner.end)
        else:
            self._emit_arguments(scanner.safe)
            self.out.arguments(self.index, scanner.closer())
        self.scanner = None

    def end(self, marker: str) -> None:
        if self.kind == _UNDECIDED:
            self._verbatim()
        if self.kind == _VERBATIM:
            self.out.content(marker)
        self.kind, self.scanner = _CONTENT, None

    # ---------------------------------------------------------------- helpers

    def flush_arguments(self) -> None:
        """Emit what the arguments being read have confirmed so far (after each delta)."""
        if self.kind == _CALL and self.scanner is not None:
            self._emit_arguments(self.scanner.safe)

    def _emit_arguments(self, upto: int) -> None:
        if upto <= self.emitted:
            return
        received = "".join(self.pending)
        cut = upto - self.emitted
        fragment, self.fix_index = apply_fixes(received[:cut], self.emitted, self.scanner.fixes, self.fix_index)
        self.out.arguments(self.index, fragment)
        self.pending = [received[cut:]] if len(received) > cut else []
        self.emitted = upto

    def _verbatim(self) -> None:
        """A message with a recipient that is not a call: all of it is content, as written."""
        self.kind = _VERBATIM
        self.out.content("".join(self.held))
        self.held = []


class HarmonyToolParser(ToolParser):
    """gpt-oss's harmony tool calls (`<|channel|>commentary to=functions.NAME ...<|call|>`)."""

    reads_full_text = False  # keeps its own state; reads only delta_text (see toolwire.chat.output)

    def __init__(self, tokenizer=None):
        super().__init__(tokenizer)
        self._reader: MessageReader | None = None
        self._calls: _CallReader | None = None
        self._deltas = DeltaCollector()
        self._gave_up = False

    def adjust_request(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        # The markers are special tokens: they must survive detokenization to be parsed.
        if request.tools and request.tool_choice != "none" and request.skip_special_tokens:
            return request.model_copy(update={"skip_special_tokens": False})
        return request

    def extract_tool_calls(self, model_output: str, request: ChatCompletionRequest) -> ExtractedToolCallInformation:
        return read_whole("openai (harmony)", model_output,
                          lambda result: MessageReader(_CallReader(OfferedTools(request), result)))

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
        try:
            if self._reader is None:
                self._calls = _CallReader(OfferedTools(request), self._deltas)
                self._reader = MessageReader(self._calls)
            self._reader.feed(delta_text)
            self._calls.flush_arguments()
            return self._deltas.take()
        except Exception:
            return self._give_up(delta_text)

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        if self._gave_up or self._reader is None:
            return None
        try:
            self._reader.finish()
            return self._deltas.take()
        except Exception:
            return self._give_up("")

    def _give_up(self, delta_text: str) -> DeltaMessage | None:
        logger.exception("openai (harmony) tool parser failed while streaming; passing text on as content")
        self._gave_up = True
        self._deltas = DeltaCollector()
        return make_delta(delta_text) if delta_text else None
