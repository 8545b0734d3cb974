"""The output pipeline of one choice: raw model text in, reasoning / content / tool-call deltas out.

    text delta ──> reasoning parser ──reasoning──> tool parser ──content──> reasoning_content
                        │                              └──calls──> tool_calls
                        └─────content────> tool parser ──content──> content
                                                       └──calls──> tool_calls

The server makes one `ChoiceOutputParser` per choice, calls `feed` for every detokenized delta and
`finish` once at the end. A non-streamed reply is the same pipeline fed the whole text at once
(`parse_whole`), so the streamed deltas joined always equal the whole result.

Rules:

* `separate_reasoning: false` (LightLLM's switch) -> no reasoning split: the raw text, tags and all,
  is content. `tool_choice: none` (or no tools offered) -> no tool parsing.
* The reasoning goes through the tool parser too: a tool call written inside the reasoning is still a
  call (LightLLM's "function call in reasoning content"), removed from reasoning_content. The tool
  parser sees the reasoning and then the content as one text without the `<think>` tags; what it
  returns as content is reasoning until the reasoning parser hands over the first content text. (So
  text the tool parser holds back at the very end of the reasoning, such as a partial start marker,
  comes out as content; a complete call is never affected.) Where reasoning and content interleave
  (harmony: analysis, a preamble, more analysis), the reasoning parser returns a delta's pieces as a
  list, in order, and reasoning after content is reasoning again.
* A channel (content or reasoning_content) that would carry only whitespace carries nothing: the
  leading whitespace of a channel is held back until something else follows it, and dropped at the
  end if nothing did.
* Each call's first delta has OpenAI's shape whatever the parser sent: index, id, type "function",
  the name and `arguments: ""`. Ids missing from a (plugin) parser's deltas are made here (`call_` +
  24 alphanumerics); arguments sent along with the name follow in a second entry of the same delta.
* The parsers are driven only through their public methods; previous/current texts and token ids
  are passed as the seeds' plugin interface has them (the texts only to parsers that read them:
  `reads_full_text`, below; token ids as cheap read-only views of one growing list). A parser
  that raises is switched off for the rest of the choice and its text passes through as it is
  (logged), never a failed request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    FunctionCall,
    ToolCall,
)
from toolwire.formats.base import ToolParser
from toolwire.formats.ids import ToolCallIds
from toolwire.formats.reasoning import ReasoningParser

logger = logging.getLogger(__name__)


@dataclass
class ParsedChoice:
    """The whole result of one choice."""

    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


class ChoiceAccumulator:
    """Joins a choice's deltas as a client does: text concatenated, calls assembled by index."""

    def __init__(self) -> None:
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, list] = {}  # index -> [id, name, [argument fragments]]

    def add(self, delta: DeltaMessage | None) -> None:
        if delta is None:
            return
        if delta.content:
            self._content.append(delta.content)
        if delta.reasoning_content:
            self._reasoning.append(delta.reasoning_content)
        for call in delta.tool_calls or ():
            entry = self._calls.setdefault(call.index, [None, None, []])
            if call.id:
                entry[0] = entry[0] or call.id
            if call.function is not None:
                if call.function.name:
                    entry[1] = entry[1] or call.function.name
                if call.function.arguments:
                    entry[2].append(call.function.arguments)

    def result(self) -> ParsedChoice:
        calls = [
            ToolCall(id=call_id, function=FunctionCall(name=name or "", arguments="".join(parts)))
            for call_id, name, parts in (self._calls[i] for i in sorted(self._calls))
        ]
        return ParsedChoice(
            content="".join(self._content) or None,
            reasoning_content="".join(self._reasoning) or None,
            tool_calls=calls,
        )


class _TokenPrefix(Sequence):
    """The first `length` ids of a list that only grows: a snapshot that costs nothing to take."""

    __slots__ = ("_ids", "_length")

    def __init__(self, ids: list[int], length: int):
        self._ids, self._length = ids, length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._ids[: self._length][i]
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError("token index out of range")
        return self._ids[i]

    def __iter__(self) -> Iterator[int]:
        ids = self._ids
        for i in range(self._length):
            yield ids[i]

    def __contains__(self, token_id) -> bool:
        try:
            self._ids.index(token_id, 0, self._length)
        except ValueError:
            return False
        return True

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"_TokenPrefix({self._ids[: self._length]!r})"


class _Channel:
    """One text field of the deltas; holds back leading whitespace until something else follows."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._leading: list[str] = []
        self._started = False

    def add(self, text: str | None) -> None:
        if not text:
            return
        if not self._started:
            if text.isspace():
                self._leading.append(text)
                return
            self._started = True
            self._parts.extend(self._leading)
            self._leading = []
        self._parts.append(text)

    def take(self) -> str | None:
        text = "".join(self._parts)
        self._parts = []
        return text or None


def _reads_full_text(parser) -> bool:
    """Whether a parser reads previous_text / current_text, or only delta_text.

    The seeds' interface hands every call the whole text so far, and building that string anew on
    every delta makes a reply's cost quadratic in its length. Parsers that keep their own state say
    `reads_full_text = False` (a class attribute); they then get `previous_text=""` and
    `current_text=delta_text`. Plugins, which may read the texts, get them by default.
    """
    return parser is not None and getattr(parser, "reads_full_text", True)


class _TextSoFar:
    """The text fed so far, kept only when some parser reads it."""

    __slots__ = ("kept", "text")

    def __init__(self, kept: bool):
        self.kept, self.text = kept, ""

    def extend(self, delta: str) -> tuple[str, str]:
        """(previous_text, current_text) for this delta."""
        if not self.kept:
            return "", delta
        previous = self.text
        self.text = previous + delta
        return previous, self.text


_IN_REASONING, _IN_CONTENT = 0, 1


class ChoiceOutputParser:
    """Parses one choice's output, delta by delta (`feed`, `finish`) or whole (`parse_whole`).

    `reasoning_parser` and `tool_parser` are fresh instances for this choice (built-in or plugin), or
    None. `prompt_text` (the rendered prompt) tells the reasoning parser whether the output starts
    inside the reasoning. `parse_tools` and `separate_reasoning` default to what the request says.
    """

    def __init__(
        self,
        request: ChatCompletionRequest,
        *,
        reasoning_parser: ReasoningParser | None = None,
        tool_parser: ToolParser | None = None,
        prompt_text: str | None = None,
        parse_tools: bool | None = None,
        separate_reasoning: bool | None = None,
    ):
        self.request = request
        if separate_reasoning is None:
            separate_reasoning = request.separate_reasoning
        if parse_tools is None:
            parse_tools = request.effective_tool_choice != "none"
        self.reasoning_parser = reasoning_parser if separate_reasoning else None
        self.tool_parser = tool_parser if parse_tools else None
        if self.reasoning_parser is not None:
            self._guard("reasoning", self.reasoning_parser.begin, request, prompt_text)
        self._phase = _IN_REASONING if self.reasoning_parser is not None else _IN_CONTENT
        # The texts so far, kept only for a parser that reads them (see `_reads_full_text`).
        self._raw_text = _TextSoFar(_reads_full_text(self.reasoning_parser))  # what the model wrote
        self._tool_text = _TextSoFar(_reads_full_text(self.tool_parser))  # what the tool parser was given
        self._token_ids: list[int] = []
        self._previous_token_count = 0
        self._content = _Channel()
        self._reasoning = _Channel()
        self._call_deltas: list[DeltaToolCall] = []
        self._call_indexes: set[int] = set()
        self._ids = ToolCallIds()
        self._fed = False
        self._finished = False

    # ------------------------------------------------------------------ public

    @property
    def tool_call_count(self) -> int:
        """Calls announced so far (finish_reason is "tool_calls" when this is not 0)."""
        return len(self._call_indexes)

    def feed(self, delta_text: str, delta_token_ids: Sequence[int] = ()) -> DeltaMessage | None:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._fed = True
        if not isinstance(delta_token_ids, (list, tuple)):
            delta_token_ids = list(delta_token_ids)
        self._previous_token_count = len(self._token_ids)
        self._token_ids.extend(delta_token_ids)
        if not delta_text:
            return None
        if self.reasoning_parser is None:
            self._route("", delta_text, delta_token_ids)
            return self._take()
        previous, current = self._raw_text.extend(delta_text)
        split = self._guard(
            "reasoning",
            self.reasoning_parser.extract_reasoning_content_streaming,
            previous,
            current,
            delta_text,
            self._token_prefix(self._previous_token_count),
            self._token_prefix(len(self._token_ids)),
            delta_token_ids,
            self.request,
            fallback=delta_text,
        )
        self._route_split(split, delta_token_ids)
        return self._take()

    def finish(self) -> DeltaMessage | None:
        if self._finished:
            return None
        self._finished = True
        self._previous_token_count = len(self._token_ids)
        if self.reasoning_parser is not None:
            split = self._guard(
                "reasoning", self.reasoning_parser.finish_streaming, self._raw_text.text, self.request
            )
            self._route_split(split, ())
        if self.tool_parser is not None:
            delta = self._guard("tool", self.tool_parser.finish_streaming, self._tool_text.text, self.request)
            self._take_tool_delta(delta)
        return self._take()

    def parse_whole(self, text: str, token_ids: Sequence[int] = ()) -> ParsedChoice:
        """The whole result: this pipeline, fresh, fed the whole text at once."""
        if self._fed or self._finished:
            raise RuntimeError("parse_whole() needs a fresh ChoiceOutputParser")
        accumulator = ChoiceAccumulator()
        accumulator.add(self.feed(text, token_ids))
        accumulator.add(self.finish())
        return accumulator.result()

    # ------------------------------------------------------------------ routing

    def _route_split(self, split: DeltaMessage | str | None, token_ids: Sequence[int]) -> None:
        if split is None:
            return
        if isinstance(split, str):  # the reasoning parser failed: its text passes through as content
            self._route("", split, token_ids)
        elif isinstance(split, list):  # reasoning and content that interleave (harmony), in order
            for piece in split:
                self._route_split(piece, token_ids)
                token_ids = ()
        else:
            self._route(split.reasoning_content or "", split.content or "", token_ids)

    def _route(self, reasoning: str, content: str, token_ids: Sequence[int]) -> None:
        if reasoning:
            self._phase = _IN_REASONING  # reasoning may follow content (harmony's analysis after a preamble)
            if self.tool_parser is not None:
                self._tool_step(reasoning, token_ids)
                token_ids = ()
            else:
                self._reasoning.add(reasoning)
        if content:
            self._phase = _IN_CONTENT
            if self.tool_parser is not None:
                self._tool_step(content, token_ids)
            else:
                self._content.add(content)

    def _tool_step(self, text: str, token_ids: Sequence[int]) -> None:
        previous, current = self._tool_text.extend(text)
        delta = self._guard(
            "tool",
            self.tool_parser.extract_tool_calls_streaming,
            previous,
            current,
            text,
            self._token_prefix(self._previous_token_count),
            self._token_prefix(len(self._token_ids)),
            token_ids,
            self.request,
            fallback=text,
        )
        self._take_tool_delta(delta)

    def _take_tool_delta(self, delta: DeltaMessage | str | None) -> None:
        if delta is None:
            return
        channel = self._reasoning if self._phase == _IN_REASONING else self._content
        if isinstance(delta, str):  # the tool parser failed: the text passes through
            channel.add(delta)
            return
        channel.add(delta.content)
        if delta.reasoning_content:
            self._reasoning.add(delta.reasoning_content)
        for call in delta.tool_calls or ():
            self._call_deltas.extend(self._complete_call_deltas(call))

    def _complete_call_deltas(self, call: DeltaToolCall) -> list[DeltaToolCall]:
        """OpenAI's shape: a call's first delta is index, id, type "function", name and `arguments: ""`.

        Ids a (plugin) parser left out are made here; arguments that came with the name follow in a
        second entry of the same delta.
        """
        if call.index in self._call_indexes:
            return [call]
        self._call_indexes.add(call.index)
        function = call.function
        arguments = function.arguments if function is not None else None
        if call.id and call.type == "function" and function is not None and arguments == "":
            return [call]
        first = DeltaToolCall.model_construct(
            index=call.index,
            id=call.id or self._ids.next(),
            type="function",
            function=DeltaFunctionCall.model_construct(name=function.name if function else None, arguments=""),
        )
        if not arguments:
            return [first]
        rest = DeltaToolCall.model_construct(
            index=call.index,
            id=None,
            type=None,
            function=DeltaFunctionCall.model_construct(name=None, arguments=arguments),
        )
        return [first, rest]

    def _take(self) -> DeltaMessage | None:
        content, reasoning = self._content.take(), self._reasoning.take()
        calls, self._call_deltas = self._call_deltas, []
        if content is None and reasoning is None and not calls:
            return None
        return DeltaMessage.model_construct(content=content, reasoning_content=reasoning, tool_calls=calls)

    def _token_prefix(self, length: int) -> _TokenPrefix:
        return _TokenPrefix(self._token_ids, length)

    def _guard(self, which: str, method, *args, fallback=None):
        """Call a parser method; if it raises, switch that parser off and return `fallback`."""
        try:
            return method(*args)
        except Exception:
            logger.exception("%s parser %s failed; it is switched off for this choice", which, method)
            if which == "tool":
                self.tool_parser = None
            else:
                self.reasoning_parser = None
            return fallback
